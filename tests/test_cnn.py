"""The CNN's hand-written backward pass against central differences and against torch.nn.Conv2d / MaxPool2d /
Linear with autograd in float64, and the paper's network's shape."""

import numpy as np
import pytest

import clara_ref as cr
from clara_ref import cnn as C

SMALL = dict(in_shape=(2, 8, 4), convs=((3, False), (4, True), (2, True)), hidden=(5,), classes=3)


def _batch(net, B=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, int(np.prod(net.in_shape)))), rng.integers(0, net.classes, B)


def test_gradient_against_central_differences():
    """Central differences with h = 1e-6 have an O(h^2) truncation and an O(eps/h) rounding error, about 1e-10
    relative; ReLU kinks and max-pool switches are avoided with probability one by random inputs."""
    net = cr.models.cnn(**SMALL)
    theta = net.init(np.random.default_rng(1))
    X, y = _batch(net)
    err = cr.gradcheck(lambda t: net.loss_and_grad(t, X, y)[0], lambda t: net.loss_and_grad(t, X, y)[1], theta)
    assert err < 1e-7


def test_gradient_against_torch_autograd():
    torch = pytest.importorskip("torch")
    net = cr.models.cnn(**SMALL)
    theta = net.init(np.random.default_rng(2))
    X, y = _batch(net, B=5, seed=3)
    params = [torch.tensor(p, requires_grad=True) for p in np.split(theta, np.cumsum(net.block_sizes)[:-1])]
    shaped = [p.reshape(s) for p, s in zip(params, net.shapes)]
    a = torch.tensor(X).reshape(5, *net.in_shape)
    k = 0
    for out, pool in net.convs:
        a = torch.relu(torch.nn.functional.conv2d(a, shaped[k], shaped[k + 1], padding=1))
        if pool:
            a = torch.nn.functional.max_pool2d(a, 2)
        k += 2
    a = a.flatten(1)
    while k < len(shaped):
        a = a @ shaped[k] + shaped[k + 1]                       # our dense weights are (in, out)
        if k + 2 < len(shaped):
            a = torch.relu(a)
        k += 2
    loss = torch.nn.functional.cross_entropy(a, torch.tensor(y))
    loss.backward()
    ours_loss, ours_grad = net.loss_and_grad(theta, X, y)
    torch_grad = np.concatenate([p.grad.numpy().ravel() for p in params])
    assert abs(ours_loss - loss.item()) <= 1e-12 * abs(loss.item())
    np.testing.assert_allclose(ours_grad, torch_grad, rtol=1e-10, atol=1e-14)


def _nchw(a):
    """Our layers run channels-last (B, H, W, C); torch's are (B, C, H, W)."""
    return np.ascontiguousarray(np.moveaxis(a, -1, 1))


def test_conv_and_pool_layers_match_torch_alone():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 4, 6, 3)), rng.standard_normal((5, 3, 3, 3)), rng.standard_normal(5)
    z, cols = C.conv3x3_forward(x, w, b)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (_nchw(x), w, b))
    tz = torch.nn.functional.conv2d(tx, tw, tb, padding=1)
    np.testing.assert_allclose(_nchw(z), tz.detach().numpy(), rtol=1e-12, atol=1e-12)
    dz = rng.standard_normal(z.shape)
    tz.backward(torch.tensor(_nchw(dz)))
    dx, dw, db = C.conv3x3_backward(dz, cols, w, x.shape)
    for ours, theirs in ((_nchw(dx), tx.grad), (dw, tw.grad), (db, tb.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-12)
    tied = np.array([[[[2.0, 2.0, 0.0, 1.0], [1.0, 2.0, 1.0, 1.0]]]])      # ties go to the first maximum
    out, idx = C.maxpool2_forward(np.moveaxis(tied, 1, -1))
    t = torch.tensor(tied, requires_grad=True)
    torch.nn.functional.max_pool2d(t, 2).backward(torch.ones(1, 1, 1, 2))
    np.testing.assert_array_equal(_nchw(C.maxpool2_backward(np.ones((1, 1, 2, 1)), idx)), t.grad.numpy())


def test_the_papers_network():
    net = cr.models.paper_cnn()
    assert net.n_params == 2_193_226 == max(cr.authors.ADAM_MU_TABLE) - 23_130
    assert net.shapes[0] == (32, 3, 3, 3) and net.shapes[6] == (8192, 256) and len(net.block_sizes) == 10
    theta = net.init(np.random.default_rng(0))
    bound = 1 / np.sqrt(27)
    assert np.abs(theta[:864]).max() <= bound and np.abs(theta[:864]).max() > 0.9 * bound
    X = np.random.default_rng(1).uniform(-1, 1, (2, 3072)).astype(np.float32)
    loss, g = net.loss_and_grad(theta.astype(np.float32), X, np.array([3, 7]))
    assert g.dtype == np.float32 and g.shape == theta.shape and np.isfinite(loss)


def test_bad_shapes_are_refused_by_name():
    with pytest.raises(ValueError, match="a max-pool meets an odd size"):
        cr.models.cnn(in_shape=(1, 5, 5), convs=((2, True),))
    net = cr.models.cnn(**SMALL)
    with pytest.raises(ValueError, match="X must have shape \\(batch, 64\\)"):
        net.loss_and_grad(net.init(np.random.default_rng(0)), np.zeros((2, 5)), np.array([0, 1]))


def test_the_same_lines_run_on_another_array_library():
    """array_api_strict accepts only the standard: the CNN's forward and backward passes use nothing else, so they
    run on CuPy too (benchmarks/gpu_parity.py)."""
    xps = pytest.importorskip("array_api_strict")
    net = cr.models.cnn(**SMALL)
    theta = net.init(np.random.default_rng(5))
    X, y = _batch(net, B=3, seed=6)
    loss, g = net.loss_and_grad(theta, X, y)
    loss_s, g_s = net.loss_and_grad(xps.asarray(theta), xps.asarray(X), xps.asarray(y))
    assert abs(loss_s - loss) <= 1e-12 * abs(loss)
    np.testing.assert_allclose(np.asarray(g_s), g, rtol=1e-12, atol=1e-15)


def test_whole_dataset_evaluation_runs_in_chunks():
    """loss, predict and accuracy over many rows equal the one-pass values (a chunk of EVAL_ROWS rows at a time, so
    that CIFAR-10's 50,000 images fit in memory)."""
    net = cr.models.cnn(**SMALL)
    theta = net.init(np.random.default_rng(7))
    X, y = _batch(net, B=600, seed=8)
    loss_one_pass = net.loss_and_grad(theta, X, y)[0]
    assert abs(net.loss(theta, X, y) - loss_one_pass) <= 1e-12 * abs(loss_one_pass)
    logits = net._forward(theta, X)[2][-1]
    np.testing.assert_allclose(net.logits(theta, X), logits, rtol=1e-13, atol=1e-15)
    assert net.accuracy(theta, X, y) == float(np.mean(np.argmax(logits, axis=1) == y))


def test_max_pooling_sends_each_gradient_to_the_first_maximum_of_its_window_without_torch():
    # Each 2 x 2 window ties its maximum at the positions listed (row-major: 0 = (0, 0), 1 = (0, 1), 2 = (1, 0),
    # 3 = (1, 1)); the gradient goes to the first one, as torch.nn.MaxPool2d's does (checked against torch above).
    ties = [(0, 1, 2, 3), (1, 2), (2, 3), (1, 3), (3,), (0, 3)]
    x = np.zeros((1, 2, 2 * len(ties), 1))                     # channels-last: (B, H, W, C)
    for w, tied in enumerate(ties):
        for k in tied:
            x[0, k // 2, 2 * w + k % 2, 0] = 5.0
    out, idx = C.maxpool2_forward(x)
    assert out.ravel().tolist() == [5.0] * len(ties) and idx.ravel().tolist() == [t[0] for t in ties]
    dx = C.maxpool2_backward(np.arange(1.0, len(ties) + 1).reshape(1, 1, -1, 1), idx)
    for w, tied in enumerate(ties):
        window = dx[0, :, 2 * w:2 * w + 2, 0].ravel().tolist()
        assert window == [float(w + 1) if k == tied[0] else 0.0 for k in range(4)]


def _conv_by_definition(x, w, b):
    """(N1, N2) summed as written, offset by offset, without im2col: z[b, y, x, o] = sum_{c, i, j}
    x_pad[b, y + i, x + j, c] w[o, c, i, j] + bias[o] (channels-last)."""
    B, H, W, _ = x.shape
    pad = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    z = np.broadcast_to(b, (B, H, W, w.shape[0])).copy()
    for i in range(3):
        for j in range(3):
            z += np.einsum("byxc,oc->byxo", pad[:, i:i + H, j:j + W, :], w[:, :, i, j])
    return z


def test_convolution_and_its_gradients_by_definition_without_torch():
    """The forward pass equals the convolution summed by its definition; the backward pass is its adjoint: the
    convolution is linear in x and in w, so <dz, z - bias> = <dx, x> = <dw, w> and dbias = the sum of dz over
    pixels. All are float64 sums of a few thousand products of standard normals: 1e-12 relative is 10^3 times
    the rounding bound. The batch spans three chunks of the input gradient (C.CHUNK images each, the last one
    short), and dx is pinned entry by entry in the first and the last."""
    rng = np.random.default_rng(9)
    batch = 2 * C.CHUNK + 3
    x, w, b = rng.standard_normal((batch, 6, 4, 5)), rng.standard_normal((7, 5, 3, 3)), rng.standard_normal(7)
    z, cols = C.conv3x3_forward(x, w, b)
    np.testing.assert_allclose(z, _conv_by_definition(x, w, b), rtol=1e-12, atol=1e-12)
    dz = rng.standard_normal(z.shape)
    dx, dw, db = C.conv3x3_backward(dz, cols, w, x.shape)
    inner = np.sum(dz * (z - b))
    assert abs(np.sum(dx * x) - inner) <= 1e-12 * np.sum(np.abs(dz * (z - b)))
    assert abs(np.sum(dw * w) - inner) <= 1e-12 * np.sum(np.abs(dz * (z - b)))
    np.testing.assert_allclose(db, dz.sum(axis=(0, 1, 2)), rtol=1e-12)
    # the adjoint identity holds for any direction, so it also pins dx entry by entry: perturb one input pixel
    for pixel in ((1, 2, 3, 4), (batch - 1, 0, 0, 0), (batch - 2, 5, 3, 2)):
        e = np.zeros_like(x)
        e[pixel] = 1.0
        response = np.sum(dz * (C.conv3x3_forward(e, w, np.zeros(7))[0]))
        assert abs(response - dx[pixel]) <= 1e-12 * np.abs(dz).sum()


def test_the_numpy_fast_im2col_equals_the_array_api_stack():
    """_im2col reads NumPy arrays through sliding_window_view and other arrays by stacking 9 slices: the same
    copy of the same values, so the two are equal bit for bit (array_api_compat's NumPy namespace takes the
    standard path; it ships with clara_ref)."""
    import array_api_compat.numpy as xp_std

    x = np.random.default_rng(10).standard_normal((2, 5, 3, 4)).astype(np.float32)
    fast = C._im2col(np, x)
    standard = C._im2col(xp_std, x)
    assert fast.shape == (2 * 5 * 3, 9 * 4) and fast.dtype == np.float32
    np.testing.assert_array_equal(fast, standard)
