"""A small convolutional network with hand-written backward passes: the CNN of the CLARA paper's CIFAR-10 runs.

Activations are channels-last, (batch, height, width, channels), so that every pixel of the batch is one row of a
matrix and a convolution is one matrix product::

    conv (3 x 3, padding 1, stride 1), as a matrix product over im2col columns:
        cols[(b, y, x), (i, j, c)] = x_pad[b, y + i, x + j, c]                          (N1)
        z[(b, y, x), o] = sum_k cols[(b, y, x), k] Wm[k, o] + bias[o],  Wm[(i, j, c), o] = weight[o, c, i, j]   (N2)
    backward:
        dbias[o] = sum_{b, y, x} dz[(b, y, x), o]                                       (N3)
        dWm = cols^T dz                                                                 (N4)
        dcols_(i, j) = dz Wm_(i, j)^T;  dx_pad[b, y + i, x + j, c] += dcols_(i, j)[(b, y, x), c]   (col2im)   (N5)
    relu:      a = max(z, 0);   dz = da [z > 0]                                         (N6)
    max-pool (2 x 2, stride 2): out = max over each window; the gradient goes to the first maximum of its window
        (row-major order, as torch.nn.MaxPool2d); the window's four entries are four strided views   (N7)
    dense layers, softmax cross-entropy: ``clara_ref.layers`` (M1-M5), shared with ``clara_ref.models``

The paper's network (the CLARA authors' ``src/models.py``; arXiv 2508.05408) on 3 x 32 x 32 images::

    conv 32, relu, conv 64, relu, max-pool, conv 128, relu, max-pool, flatten (128 x 8 x 8), fc 256, relu, fc 10

2,193,226 parameters, the key of the authors' Adam table for CIFAR-10. Parameters live in one flat vector in the
order of torch's ``model.parameters()``: conv weights (O, C, 3, 3) (torch's layout; (N2) reads them as the
(9 C, O) matrix Wm) and biases, then dense weights stored (in, out) as ``clara_ref.models`` does (the transpose of
torch's ``Linear.weight``) and biases; ``block_sizes`` has one entry per tensor. Initialisation as torch's
defaults for Conv2d and Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases (fan_in = C 9 for a
convolution).

Inputs are rows of C H W values in channel, row, column order (``clara_ref.images`` gives CIFAR-10 so); they are
reshaped to (batch, C, H, W) and read channels-last; the last convolution's output is flattened in torch's
(C, H, W) order, so the first dense weight is torch's. The arithmetic uses the array namespace of theta (NumPy,
CuPy, ...): slicing, ``matmul``, ``reshape``, ``permute_dims``, ``maximum``, strided slices; the one NumPy-only
fast path is named in ``_im2col``. The first convolution computes no input gradient (its input is the data).

Why this layout (measured by benchmarks/image_step_time.py, docs/benchmarks/image_step_time.txt): channels-first,
im2col copied runs of W values into a stride of H W, col2im added 9 strided passes of a (B, 9 C, H W) array, and
each image was its own product. Channels-last, the input gradient is 9 products, one per offset, each landing in
contiguous memory and added into a shifted window, and pooled layers take the max before the relu (the two
commute), so the relu and its mask touch a quarter of the values. The gradients equal torch's autograd to 1e-10
in float64 (tests/test_cnn.py), as before; the CIFAR-10 step went from 2.03x torch's time to 1.49x on 1 thread
(docs/benchmarks/image_step_time.txt; 2.0x on 2 threads). The same script times the step's matrix products alone:
on 1 thread they take about torch's whole step, NumPy's OpenBLAS running these thin products at about 60% of its
square-matrix rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _validate as V
from ._backend import array_namespace, is_array
from .layers import NO_LABELS, _softmax_xent, check_labels, dense_backward, dense_forward

__all__ = ["ConvNet", "cnn", "paper_cnn", "conv3x3_forward", "conv3x3_backward", "maxpool2_forward",
           "maxpool2_backward"]

_OFFSETS = tuple((i, j) for i in range(3) for j in range(3))

#: images per pass of a convolution's input gradient (N5): the nine products of 8 CIFAR-10 images and the padded
#: window they are added into (a few MB) stay in cache, where the whole batch's stream through memory nine times.
#: benchmarks/conv_input_grad.py races the choices (docs/benchmarks/conv_input_grad.txt: the backward pass of the
#: paper's conv2 took 158 ms with the whole batch against 140 ms with 8 images, 1 thread, conv3's 139 against 117,
#: and 222 against 175, 169 against 133 in an earlier run; 4 and 16 images about alike, 32 between 128 and 8);
#: benchmarks/image_step_time.py measures the whole step
CHUNK = 8


def _weight_matrix(xp, weight):
    """The weight (O, C, 3, 3), in torch's order, as the (9 C, O) matrix of (N2): row k = (i 3 + j) C + c."""
    O, C = weight.shape[:2]
    return xp.reshape(xp.permute_dims(weight, (2, 3, 1, 0)), (9 * C, O))


def _im2col(xp, x):
    """(N1) on channels-last activations: x (B, H, W, C) -> cols (B H W, 9 C), column k = (i 3 + j) C + c.

    Channels last, each of the 9 shifted windows of the zero-padded input is a slice whose rows (W C values) are
    contiguous, and its place in cols is a run of C contiguous values per pixel. With NumPy arrays the same
    columns are read through ``sliding_window_view`` (the NumPy-only fast path, named here: one copy of a strided
    (B, H, W, 3, 3, C) view, several times faster than stacking the 9 slices, whose copies go through 9 separate
    strided passes; tests/test_cnn.py checks that both give the same array); any other array library stacks the
    slices, as the standard allows."""
    B, H, W, C = x.shape
    pad = xp.zeros((B, H + 2, W + 2, C), dtype=x.dtype)
    pad[:, 1:H + 1, 1:W + 1, :] = x
    if xp is np:
        windows = sliding_window_view(pad, (3, 3), axis=(1, 2))                 # (B, H, W, C, 3, 3), a view
        cols = np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3))      # (N1): (B, H, W, 3, 3, C), one copy
    else:
        cols = xp.stack([pad[:, i:i + H, j:j + W, :] for i, j in _OFFSETS], axis=3)   # (N1): (B, H, W, 9, C)
    return xp.reshape(cols, (B * H * W, 9 * C))


def conv3x3_forward(x, weight, bias):
    """A 3 x 3 convolution with padding 1 (N1, N2) on channels-last arrays: x (B, H, W, C), weight (O, C, 3, 3)
    (torch's layout), bias (O,) -> (z (B, H, W, O), cols).

    Channels last, every pixel of the batch is one row of cols and one row of z: the whole convolution is one
    matrix product (B H W, 9 C) @ (9 C, O), and z comes out in the layout the next layer reads.

    >>> x = np.arange(9.0).reshape(1, 3, 3, 1)
    >>> z, _ = conv3x3_forward(x, np.ones((1, 1, 3, 3)), np.zeros(1))
    >>> z[0, :, :, 0].tolist()               # sums over each 3 x 3 neighbourhood, zeros outside
    [[8.0, 15.0, 12.0], [21.0, 36.0, 27.0], [20.0, 33.0, 24.0]]
    """
    xp = array_namespace(x)
    B, H, W, _ = x.shape
    O = weight.shape[0]
    cols = _im2col(xp, x)
    z = cols @ _weight_matrix(xp, weight)                                        # (N2): (B H W, O)
    z += bias                                                                     # in place: z is ours
    return xp.reshape(z, (B, H, W, O)), cols


def conv3x3_backward(dz, cols, weight, x_shape, *, input_grad: bool = True):
    """(N3-N5) on channels-last arrays: gradients of the convolution wrt its input x (B, H, W, C) (None with
    ``input_grad=False``: the first layer's input is the data, whose gradient nobody needs), weight (O, C, 3, 3)
    and bias."""
    xp = array_namespace(dz)
    B, H, W, C = x_shape
    O = weight.shape[0]
    dz = xp.reshape(dz, (B * H * W, O))
    dbias = xp.sum(dz, axis=0)                                                  # (N3)
    dW = xp.matrix_transpose(cols) @ dz                                         # (N4): (9 C, O), k = (i 3 + j) C + c
    dweight = xp.permute_dims(xp.reshape(dW, (3, 3, C, O)), (3, 2, 0, 1))       # back to torch's (O, C, 3, 3)
    if not input_grad:
        return None, dweight, dbias
    # (N5) one offset at a time: dcols_k = dz W_k^T (B H W, C) for the rows k C .. k C + C - 1 of the weight
    # matrix, added into the shifted window of the padded input: each product lands in contiguous memory and the
    # nine (B H W, 9 C) columns are never built. The images go CHUNK at a time (the rows of dz are pixels, image by
    # image), so that a chunk's nine products and the window they are added into stay in cache
    Wm = _weight_matrix(xp, weight)
    W_k = [xp.matrix_transpose(Wm[k * C:(k + 1) * C, :]) for k in range(9)]
    dpad = xp.zeros((B, H + 2, W + 2, C), dtype=dz.dtype)
    for a in range(0, B, CHUNK):
        n = min(CHUNK, B - a)
        dz_images = dz[a * H * W:(a + n) * H * W, :]                          # the rows of images a .. a + n - 1
        for k, (i, j) in enumerate(_OFFSETS):
            dcols_k = dz_images @ W_k[k]                                         # (N5)
            dpad[a:a + n, i:i + H, j:j + W, :] += xp.reshape(dcols_k, (n, H, W, C))   # col2im, added in place
    return dpad[:, 1:H + 1, 1:W + 1, :], dweight, dbias


def _corners(x):
    """The four entries of every 2 x 2 window of x (B, H, W, C) as strided views, in row-major order: (0, 0),
    (0, 1), (1, 0), (1, 1)."""
    return x[:, 0::2, 0::2, :], x[:, 0::2, 1::2, :], x[:, 1::2, 0::2, :], x[:, 1::2, 1::2, :]


def maxpool2_forward(x):
    """2 x 2 max-pooling with stride 2 (N7) on channels-last x (B, H, W, C): -> (out, index of the first maximum
    in each window, row-major).

    The window's four entries are read as four strided views (no copy of a permuted array): out is the maximum of
    the four, and the index the first of them that equals it.

    >>> out, idx = maxpool2_forward(np.array([[[[1.0], [3.0]], [[3.0], [0.0]]]]))
    >>> out.tolist(), idx.tolist()
    ([[[[3.0]]]], [[[[1]]]])
    """
    xp = array_namespace(x)
    if x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f"max-pooling 2 x 2 needs even height and width, got {tuple(x.shape[1:3])}")
    a, b, c, d = _corners(x)
    out = xp.maximum(xp.maximum(a, b), xp.maximum(c, d))                       # (N7) the window's maximum
    # (N7) the first position holding it: 0 if a is the maximum, else 1 if b, else 2 if c, else 3, in int8
    # arithmetic on the "not the maximum" flags (a nest of three ``where`` costs 4x as much in NumPy)
    na, nb, nc = (xp.astype(v != out, xp.int8) for v in (a, b, c))
    idx = na * (1 + nb * (1 + nc))
    return out, idx


def maxpool2_backward(dout, idx):
    """(N7): each window's gradient goes to its first maximum (written into the four strided views of the
    channels-last input)."""
    xp = array_namespace(dout)
    B, h, w, C = dout.shape
    dx = xp.empty((B, 2 * h, 2 * w, C), dtype=dout.dtype)        # every entry is written below
    for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        dx[:, i::2, j::2, :] = dout * xp.astype(idx == k, dout.dtype)          # (N7)
    return dx


@dataclass(frozen=True)
class ConvNet:
    """Convolutions (3 x 3, padding 1, ReLU; each optionally followed by 2 x 2 max-pooling), then dense ReLU layers
    and a linear output: ``convs`` = ((out_channels, pool_after), ...), ``hidden`` = dense widths, ``classes``.
    Same interface as ``clara_ref.models.Model``: ``init``, ``loss_and_grad``, ``loss``, ``predict``,
    ``accuracy``, ``block_sizes``, ``n_params``; X holds one image per row (C H W values)."""

    in_shape: tuple
    convs: tuple
    hidden: tuple
    classes: int

    @cached_property
    def _spatial(self) -> tuple:
        C, H, W = self.in_shape
        for out, pool in self.convs:
            C = out
            if pool:
                H, W = H // 2, W // 2
        return C, H, W

    @cached_property
    def shapes(self) -> tuple:
        """Every tensor's shape, in the order of theta (torch's ``parameters()`` order)."""
        out, c = [], self.in_shape[0]
        for o, _ in self.convs:
            out += [(o, c, 3, 3), (o,)]
            c = o
        widths = [math.prod(self._spatial), *self.hidden, self.classes]
        for a, b in zip(widths[:-1], widths[1:]):
            out += [(a, b), (b,)]
        return tuple(out)

    @cached_property
    def block_sizes(self) -> tuple:
        """One block per tensor (the CLARA authors' per-tensor normalisation)."""
        return tuple(math.prod(s) for s in self.shapes)

    @property
    def n_params(self) -> int:
        return sum(self.block_sizes)

    @property
    def sizes(self) -> tuple:
        """(inputs, classes), as ``Model.sizes`` ends with the number of classes."""
        return (math.prod(self.in_shape), self.classes)

    def init(self, rng: np.random.Generator) -> np.ndarray:
        """torch's default initialisation of Conv2d and Linear, drawn from ``rng`` (float64, NumPy)."""
        V.generator("rng", rng)
        parts = []
        for shape in self.shapes:
            if len(shape) == 4:
                fan_in = shape[1] * 9
            elif len(shape) == 2:
                fan_in = shape[0]
            # a bias takes the bound of the weight before it
            bound = 1.0 / math.sqrt(fan_in)
            parts.append(rng.uniform(-bound, bound, math.prod(shape)))
        return np.concatenate(parts)

    def _unpack(self, theta):
        if tuple(theta.shape) != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},) for this network, got {tuple(theta.shape)}")
        xp = array_namespace(theta)
        views, start = [], 0
        for shape in self.shapes:
            n = math.prod(shape)
            views.append(xp.reshape(theta[start:start + n], shape))
            start += n
        return views

    def _check_data(self, X, y=NO_LABELS):
        n_in = math.prod(self.in_shape)
        if len(X.shape) != 2 or X.shape[1] != n_in:
            raise ValueError(f"X must have shape (batch, {n_in}) (images of {self.in_shape}, flattened), got "
                             f"{tuple(X.shape)}")
        if not is_array(X) or not array_namespace(X).isdtype(X.dtype, "real floating"):
            raise ValueError(f"X must be a real floating array (float32 or float64), got "
                             f"{getattr(X, 'dtype', type(X).__name__)}")
        if y is not NO_LABELS:
            if not is_array(y):
                raise ValueError(f"y must be an array of integer labels of shape ({X.shape[0]},), got "
                                 f"{type(y).__name__}")
            check_labels(array_namespace(y), y, X.shape[0], self.classes)

    def _forward(self, theta, X):
        """Forward pass over rows X already checked by the public method that calls it."""
        xp = array_namespace(theta)
        params = self._unpack(theta)
        # rows hold C H W values; the convolutions run channels-last, (B, H, W, C): a view here, copied once into
        # the first convolution's padded input
        a = xp.permute_dims(xp.reshape(xp.asarray(X, dtype=theta.dtype), (X.shape[0], *self.in_shape)), (0, 2, 3, 1))
        tape = []
        for k, (_, pool) in enumerate(self.convs):
            weight, bias = params[2 * k], params[2 * k + 1]
            z, cols = conv3x3_forward(a, weight, bias)                             # (N1, N2)
            entry = {"x_shape": tuple(a.shape), "cols": cols}
            if pool:
                # relu, then max-pool (N6, N7), taken in the other order: relu is monotone, so the window's max of
                # relu(z) is relu of its max of z, bit for bit, and its first maximum is z's wherever the max is
                # positive (elsewhere relu's gradient is 0 at every entry); the relu and its mask then touch a
                # quarter of the values
                z, entry["idx"] = maxpool2_forward(z)                              # (N7)
            entry["z"] = z
            a = xp.maximum(z, 0.0)                                                 # (N6)
            tape.append(entry)
        # flatten in torch's (C, H, W) order, so that the dense weight's rows are torch's columns
        h = xp.reshape(xp.permute_dims(a, (0, 3, 1, 2)), (a.shape[0], -1))
        dense = params[2 * len(self.convs):]
        return params, tape, dense_forward(xp, h, dense[0::2], dense[1::2])       # layers.py's M1

    #: rows per forward pass when evaluating a whole dataset: im2col makes C 9 copies of every activation, so
    #: CIFAR-10's 50,000 training images at once would take tens of GB
    EVAL_ROWS = 256

    def logits(self, theta, X):
        """Forward pass, in chunks of EVAL_ROWS rows."""
        xp = array_namespace(theta)
        self._check_data(X)
        parts = [self._forward(theta, X[a:a + self.EVAL_ROWS])[2][-1] for a in range(0, X.shape[0], self.EVAL_ROWS)]
        return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)

    def loss_and_grad(self, theta, X, y):
        """Mean softmax cross-entropy over the batch and its gradient wrt theta (N1-N7, M1-M5)."""
        xp = array_namespace(theta)
        self._check_data(X, y)
        params, tape, acts = self._forward(theta, X)
        loss, dz = _softmax_xent(xp, acts[-1], xp.asarray(y))                      # layers.py's M2, M3
        head = 2 * len(self.convs)
        grads = [None] * len(params)
        dWs, dbs, dz = dense_backward(xp, acts, params[head::2], dz, input_grad=True)   # layers.py's M4, M5
        grads[head::2], grads[head + 1::2] = dWs, dbs
        da = xp.permute_dims(xp.reshape(dz, (dz.shape[0], *self._spatial)), (0, 2, 3, 1))   # back to channels-last
        for k in range(len(self.convs) - 1, -1, -1):
            entry = tape[k]
            dz_conv = da * xp.astype(entry["z"] > 0, da.dtype)                     # (N6)
            if "idx" in entry:
                dz_conv = maxpool2_backward(dz_conv, entry["idx"])                 # (N7)
            da, dW, db = conv3x3_backward(dz_conv, entry["cols"], params[2 * k], entry["x_shape"],   # (N3-N5)
                                          input_grad=k > 0)
            grads[2 * k], grads[2 * k + 1] = dW, db
        return loss, xp.concat([xp.reshape(g, (-1,)) for g in grads])

    def loss(self, theta, X, y) -> float:
        """Mean softmax cross-entropy over all rows (forward passes only, in chunks)."""
        xp = array_namespace(theta)
        self._check_data(X, y)
        total = 0.0
        for a in range(0, X.shape[0], self.EVAL_ROWS):
            rows = X[a:a + self.EVAL_ROWS]
            logits = self._forward(theta, rows)[2][-1]
            total += rows.shape[0] * _softmax_xent(xp, logits, xp.asarray(y[a:a + self.EVAL_ROWS]), grad=False)[0]
        return total / X.shape[0]

    def predict(self, theta, X):
        xp = array_namespace(theta)
        return xp.argmax(self.logits(theta, X), axis=1)

    def accuracy(self, theta, X, y) -> float:
        xp = array_namespace(theta)
        self._check_data(X, y)
        return float(xp.mean(xp.astype(self.predict(theta, X) == xp.asarray(y), theta.dtype)))


def cnn(in_shape=(3, 32, 32), convs=((32, False), (64, True), (128, True)), hidden=(256,), classes: int = 10):
    """A ConvNet; the defaults are the CLARA paper's CIFAR-10 network (module box).

    >>> net = cnn(in_shape=(1, 4, 4), convs=((2, True),), hidden=(3,), classes=2)
    >>> net.shapes, net.n_params
    (((2, 1, 3, 3), (2,), (8, 3), (3,), (3, 2), (2,)), 55)
    """
    try:
        in_shape = tuple(V.integer("in_shape", s, lo=1) for s in in_shape)
        hidden = tuple(V.integer("hidden", h, lo=1) for h in hidden)
        convs = tuple(convs)
    except TypeError:
        raise ValueError("in_shape, convs and hidden must be tuples (convs: (out_channels, pool_after) pairs)") \
            from None
    if any(not isinstance(c, (tuple, list)) or len(c) != 2 for c in convs):
        raise ValueError(f"convs must be (out_channels, pool_after) pairs, got {convs!r}")
    convs = tuple((V.integer("convs", o, lo=1), V.flag("convs pool_after", p)) for o, p in convs)
    if len(in_shape) != 3:
        raise ValueError(f"in_shape must be (channels, height, width), got {in_shape}")
    if not convs:
        raise ValueError("convs must have at least one (out_channels, pool_after) pair")
    H, W = in_shape[1:]
    for _, pool in convs:
        if pool:
            if H % 2 or W % 2:
                raise ValueError(f"in_shape {in_shape}: a max-pool meets an odd size {H} x {W}")
            H, W = H // 2, W // 2
    return ConvNet(in_shape, convs, hidden, V.integer("classes", classes, lo=2))


def paper_cnn() -> ConvNet:
    """The CLARA paper's CIFAR-10 CNN (2,193,226 parameters).

    >>> paper_cnn().n_params
    2193226
    """
    return cnn()
