"""Models and data: gradients against central differences and torch autograd, determinism, bad input, and the
acceptance run (Adam at 1e-3 trains a 64-32-10 MLP on digits to >= 90% in 30 epochs)."""

import numpy as np
import pytest

import clara_ref as cr

MODELS = [cr.models.softmax_regression(5, 3), cr.models.mlp((5, 7, 3)), cr.models.mlp((5, 6, 4, 3))]


@pytest.mark.parametrize("model", MODELS, ids=["softmax", "mlp1", "mlp2"])
def test_gradient_against_central_differences(model):
    rng = np.random.default_rng(0)
    # non-zero biases: with the zero-bias init a sample whose hidden units are all off sits exactly on a kink
    theta = model.init(rng) + 0.1 * rng.standard_normal(model.n_params)
    X, y = rng.standard_normal((9, 5)), rng.integers(0, 3, 9)
    err = cr.gradcheck(lambda t: model.loss_and_grad(t, X, y)[0], lambda t: model.loss_and_grad(t, X, y)[1], theta)
    assert err <= 1e-6      # ReLU kinks are met with probability ~0 at random points


@pytest.mark.parametrize("model", MODELS, ids=["softmax", "mlp1", "mlp2"])
def test_gradient_against_torch_autograd(model):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    theta = model.init(rng) + 0.1 * rng.standard_normal(model.n_params)
    X, y = rng.standard_normal((16, 5)), rng.integers(0, 3, 16)
    loss, g = model.loss_and_grad(theta, X, y)
    tt = torch.tensor(theta, requires_grad=True)
    parts, start = [], 0
    for shape in model.shapes:
        n = int(np.prod(shape))
        parts.append(tt[start:start + n].reshape(shape))
        start += n
    a = torch.tensor(X)
    for l in range(0, len(parts), 2):
        a = a @ parts[l] + parts[l + 1]
        if l < len(parts) - 2:
            a = torch.relu(a)
    tl = torch.nn.functional.cross_entropy(a, torch.tensor(y))
    tl.backward()
    assert loss == pytest.approx(float(tl.detach()), rel=1e-12)
    np.testing.assert_allclose(g, tt.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_block_sizes_and_init_determinism():
    m = cr.models.mlp((64, 128, 64, 10))
    assert m.block_sizes == (8192, 128, 8192, 64, 640, 10)
    a, b = m.init(np.random.default_rng(3)), m.init(np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (m.n_params,)
    W1 = a[:8192]
    assert abs(W1.std() - np.sqrt(2 / 64)) < 0.01                           # He: sd sqrt(2/fan_in)


def test_model_bad_input():
    m = cr.models.softmax_regression(4, 3)
    theta = m.init(np.random.default_rng(0))
    with pytest.raises(ValueError, match="X must have shape"):
        m.loss_and_grad(theta, np.zeros((2, 5)), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="labels must lie in \\[0, 2\\]"):
        m.loss_and_grad(theta, np.zeros((2, 4)), np.array([0, 3]))
    with pytest.raises(ValueError, match="integer labels"):
        m.loss_and_grad(theta, np.zeros((2, 4)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="theta must have shape"):
        m.loss_and_grad(theta[:-1], np.zeros((2, 4)), np.array([0, 1]))
    with pytest.raises(ValueError, match="sizes"):
        cr.models.mlp((5,))


@pytest.mark.parametrize("name,shape", [("digits", (1437, 64)), ("iris", (120, 4)), ("wine", (142, 13)),
                                        ("breast_cancer", (455, 30))])
def test_datasets_split_and_determinism(name, shape):
    X, y, Xt, yt = cr.data.load(name, seed=0)
    assert X.shape == shape and Xt.shape[0] + X.shape[0] == shape[0] + Xt.shape[0]
    assert abs(Xt.shape[0] / (X.shape[0] + Xt.shape[0]) - 0.2) < 0.01
    # stratified: class proportions agree between the parts to within one sample per class
    for c in np.unique(y):
        assert abs(np.mean(y == c) - np.mean(yt == c)) <= 1.0 / len(yt) + 1e-12
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-10)
    X2, y2, _, _ = cr.data.load(name, seed=0)
    np.testing.assert_array_equal(X, X2)
    X3, _, _, _ = cr.data.load(name, seed=1)
    assert not np.array_equal(X, X3)
    raw, _, _, _ = cr.data.load(name, seed=0, standardize=False)
    assert raw.min() >= 0                                  # every raw feature of these datasets is non-negative
    # the row counts the grid uses to know a run's steps without loading the data
    assert cr.data.n_train(name) == X.shape[0] and cr.data.N_SAMPLES[name] == X.shape[0] + Xt.shape[0]
    # the authors' plain shuffled split: same sizes, seeded, not the stratified one
    Xp, yp, Xpt, _ = cr.data.load(name, seed=0, stratify=False)
    assert Xp.shape == X.shape and Xpt.shape == Xt.shape
    np.testing.assert_array_equal(Xp, cr.data.load(name, seed=0, stratify=False)[0])
    assert not np.array_equal(yp, y)


def test_data_bad_input():
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        cr.data.load("svhn")
    with pytest.raises(ValueError, match="stratify must be True or False"):
        cr.data.load("iris", stratify="yes")
    with pytest.raises(ValueError, match="batch_size"):
        list(cr.data.minibatches(np.zeros((3, 1)), np.zeros(3), 0, np.random.default_rng(0)))


def test_adam_trains_digits_mlp_to_90_percent():
    data = cr.data.load("digits", seed=0)
    result = cr.train(cr.models.mlp((64, 32, 10)), cr.adam(1e-3), data, epochs=30, batch_size=128, seed=0)
    assert not result.diverged
    assert result.test_accuracy[-1] >= 0.90
    assert result.train_loss[-1] < result.train_loss[0]


def test_divergence_is_reported_not_raised():
    data = cr.data.load("iris", seed=0)
    result = cr.train(cr.models.softmax_regression(4, 3), cr.adam(1e308), data, epochs=5)
    assert result.diverged and result.diverged_at == 1 and result.message
    assert result.divergence in ("non-finite loss or parameters", "non-finite optimizer state")
    r = cr.optimize(cr.objectives.get("rosenbrock", n=2, noise=0.1), cr.sgd(1.0), steps=50)
    assert r.diverged and r.diverged_at is not None and r.divergence


def test_a_run_that_ends_beyond_the_bound_has_diverged_and_one_that_comes_back_has_not():
    """The bound DIVERGENCE_FACTOR = 1e3 applies to where a run ends: the 2017 rule on Rosenbrock from 1e-6 ends
    about 1e52 times its start distance away (every value finite), SGD-CLARA on the sphere from 1e-6 overshoots to
    about 3e4 times its start while its rate climbs and ends at 1e-4 of it."""
    from clara_ref.experiments.grid import RunSpec, build_optimizer

    far = cr.optimize(cr.objectives.get("rosenbrock", n=2, noise=0.1),
                      build_optimizer(RunSpec("rosenbrock", "adam-alera", 1e-6, 0))[0], steps=1000, seed=0)
    assert all(np.isfinite(far.distance)) and far.distance[-1] > 1e40 * far.distance[0]
    assert far.diverged and far.diverged_at == 1000 and far.divergence == "distance ended beyond 1000 x its start"
    back = cr.optimize(cr.objectives.get("sphere", n=10, noise=0.1), cr.clara(cr.sgd_direction(), 1e-6, d="auto"),
                       steps=500, seed=0)
    assert max(back.distance) > 1e4 * back.distance[0] and back.distance[-1] < 1e-3 * back.distance[0]
    assert not back.diverged and back.divergence is None
    unbounded = cr.optimize(cr.objectives.get("rosenbrock", n=2, noise=0.1),
                            build_optimizer(RunSpec("rosenbrock", "adam-alera", 1e-6, 0))[0], steps=1000, seed=0,
                            divergence_factor=None)
    assert not unbounded.diverged and unbounded.distance == far.distance
    # an accuracy of 0 is a result; a training loss that ends 1e3 x its start is a divergence
    data = cr.data.load("iris", seed=0)
    lost = cr.train(cr.models.softmax_regression(4, 3), cr.sgd(1e6), data, epochs=3, divergence_factor=2.0)
    assert lost.diverged and lost.divergence == "loss ended beyond 2 x its start"
    with pytest.raises(ValueError, match="divergence_factor"):
        cr.optimize(cr.objectives.get("sphere"), cr.sgd(0.1), steps=1, divergence_factor=0.0)


def test_forward_loss_equals_loss_and_grad():
    m = cr.models.mlp((5, 7, 3))
    rng = np.random.default_rng(4)
    theta, X, y = m.init(rng), rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    assert m.loss(theta, X, y) == m.loss_and_grad(theta, X, y)[0]


def test_the_training_loops_unchecked_gradient_is_loss_and_grad_and_bad_data_is_still_refused():
    """train checks its data once (its first full loss) and then calls loss_and_grad_checked on the minibatches:
    the same bits as loss_and_grad, and a bad label is refused by train before any step, as before."""
    m = cr.models.mlp((5, 7, 3))
    rng = np.random.default_rng(5)
    theta, X, y = m.init(rng).astype(np.float32), rng.standard_normal((9, 5)).astype(np.float32), rng.integers(0, 3, 9)
    loss, g = m.loss_and_grad(theta, X, y)
    loss_c, g_c = m.loss_and_grad_checked(theta, X, y)
    assert loss == loss_c and np.array_equal(g, g_c) and g_c.dtype == np.float32
    with pytest.raises(ValueError, match="labels must lie in"):
        cr.train(m, cr.sgd(0.1), (X, np.where(y == 0, 3, y), X, y), epochs=1)


def test_softmax_cross_entropy_is_the_formula_in_any_memory_order():
    """The NumPy path picks (i, y_i) from the flattened arrays; logits in Fortran order, or a strided view, must
    give the formula's values (scipy's logsumexp and softmax, float64: both sides round at about 1e-16 relative per
    operation on values of order 40, so 1e-13 absolute is a wide margin) and the very bits of a C-ordered copy."""
    from scipy.special import logsumexp, softmax
    rng = np.random.default_rng(7)
    base = rng.standard_normal((18, 6)) * 40
    y = rng.integers(0, 6, 9)
    rows = np.arange(9)
    for logits in (base[::2], np.asfortranarray(base[::2]), base[::2].T.copy().T, base[::2].copy()):
        loss, d = cr.models.softmax_cross_entropy(logits, y)
        want = float(np.mean(logsumexp(logits, axis=1) - logits[rows, y]))
        onehot = np.zeros_like(logits)
        onehot[rows, y] = 1.0
        assert abs(loss - want) < 1e-13
        np.testing.assert_allclose(d, (softmax(logits, axis=1) - onehot) / 9, rtol=0, atol=1e-15)
        loss_c, d_c = cr.models.softmax_cross_entropy(np.ascontiguousarray(logits), y)
        assert loss == loss_c and np.array_equal(d, d_c)
    assert np.array_equal(logits, base[::2].copy())                  # the caller's logits are not touched


def test_the_dense_relu_is_maximum_with_zero_bit_for_bit():
    """dense_forward's ReLU takes float32's maximum against a row of zeros (faster in NumPy 2.4): it must be the
    very bits of maximum(z, 0.0), special values included (NaN passed on, -inf to 0, and -0.0 to +0.0, which the
    operands in the other order would keep), in float32 and float64, in place on the array it is given."""
    from clara_ref.layers import _relu
    rng = np.random.default_rng(8)
    for dtype in (np.float32, np.float64):
        z = rng.standard_normal((5, 12)).astype(dtype)
        z[0, :6] = [-0.0, 0.0, np.nan, -np.inf, np.inf, -np.nan]
        z[3, 4] = np.finfo(dtype).tiny / 4                          # a subnormal
        want = np.maximum(z, 0.0)
        itype = np.int32 if dtype == np.float32 else np.int64
        work = z.copy()
        got = _relu(np, work)
        assert got is work and np.array_equal(got.view(itype), want.view(itype))


def test_the_training_loops_unchecked_loss_and_accuracy_are_the_checked_ones():
    """train checks its data with its first loss and accuracy and then records every epoch's by loss_checked and
    accuracy_checked: the same bits as loss and accuracy, and a run with a model that offers neither (a wrapper
    that passes the public methods on) records the very same numbers."""
    m = cr.models.mlp((4, 6, 3))
    rng = np.random.default_rng(6)
    theta, X, y = m.init(rng), rng.standard_normal((11, 4)), rng.integers(0, 3, 11)
    assert m.loss(theta, X, y) == m.loss_checked(theta, X, y)
    assert m.accuracy(theta, X, y) == m.accuracy_checked(theta, X, y)

    class Plain:                                   # the public methods only: every call checks its data
        def __init__(self, model):
            self.init, self.loss, self.accuracy = model.init, model.loss, model.accuracy
            self.loss_and_grad = model.loss_and_grad

    data = cr.data.load("iris", seed=1)
    iris = cr.models.mlp((4, 5, 3))
    ours = cr.train(iris, cr.adam(0.02), data, epochs=4, batch_size=16, seed=3)
    plain = cr.train(Plain(iris), cr.adam(0.02), data, epochs=4, batch_size=16, seed=3)
    assert ours.train_loss == plain.train_loss and ours.test_accuracy == plain.test_accuracy
    assert np.array_equal(ours.theta, plain.theta)
    X_tr, y_tr, X_te, y_te = data                   # the last records are those of the final theta, on their sets
    assert ours.train_loss[-1] == iris.loss(ours.theta, X_tr, y_tr)
    assert ours.test_accuracy[-1] == iris.accuracy(ours.theta, X_te, y_te)
    with pytest.raises(ValueError, match="labels must lie in"):   # a bad test label is refused before any step
        cr.train(m, cr.sgd(0.1), (X, y, X, np.where(y == 0, 3, y)), epochs=1)


def test_the_numpy_paths_compute_the_same_bits_as_the_array_api_path():
    """NumPy arrays take a faster path through softmax_cross_entropy (array methods, fancy indexing) and write the
    MLP's gradient into one buffer; both are the same operations in the same order, so they must give the very
    bits of the array-API form (here on array_api_strict arrays, which wrap NumPy)."""
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        logits = (rng.standard_normal((33, 10)) * 40).astype(dtype)
        y = rng.integers(0, 10, 33)
        loss, grad = cr.models.softmax_cross_entropy(logits, y)
        loss_s, grad_s = cr.models.softmax_cross_entropy(xps.asarray(logits), xps.asarray(y))
        assert loss == loss_s and np.array_equal(grad, np.asarray(grad_s)) and grad.dtype == dtype
    m = cr.models.mlp((5, 7, 3))
    theta, X, y = m.init(rng), rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    _, g = m.loss_and_grad(theta, X, y)
    Ws, bs = m._unpack(theta)
    a1 = np.maximum(X @ Ws[0] + bs[0], 0.0)
    _, dz = cr.models.softmax_cross_entropy(a1 @ Ws[1] + bs[1], y)
    dz1 = (dz @ Ws[1].T) * (X @ Ws[0] + bs[0] > 0)
    expected = np.concatenate([(X.T @ dz1).ravel(), dz1.sum(axis=0), (a1.T @ dz).ravel(), dz.sum(axis=0)])
    assert np.array_equal(g, expected)
