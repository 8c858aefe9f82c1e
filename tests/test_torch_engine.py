"""reproduce --engine torch: the paper's image tasks on torch models and optimizers, equal to the NumPy engine in
float64 on the CPU (same initial weights, same minibatches), on generated files in the official formats."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from clara_ref import images  # noqa: E402
from clara_ref.cli import main  # noqa: E402
from clara_ref.experiments import grid  # noqa: E402
from clara_ref.experiments.torch_engine import TORCH_OPTIMIZERS, train_torch  # noqa: E402
from clara_ref.testing import TOLERANCES  # noqa: E402
from clara_ref.training import train  # noqa: E402


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    for name in images.NAMES:
        images.write_sample_files(name, folder, n_train=4, n_test=2, seed=3)
    return folder


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    images.write_sample_files("mnist", folder, n_train=200, n_test=50, seed=5)
    return folder


@pytest.mark.parametrize("optimizer", ["adam-clara", "sgd-clara-us", "adam", "sgd", "dadapt-adam", "prodigy",
                                       "adam-clara-uncorrected"])
def test_the_torch_engine_follows_the_numpy_engine_in_float64(mnist_dir, optimizer):
    # The paper's MNIST MLP (235,146 parameters), 250 steps (200 images, batch 8, 10 epochs) from the same weights
    # on the same batches: the parameters, the losses, the accuracies and the rates agree within the harness's
    # float64 tolerance (clara_ref.testing.TOLERANCES, 1e-10 relative; measured about 1e-14).
    spec = grid.RunSpec("mnist_mlp", optimizer, 1e-3, 0, engine="torch")
    task = spec.resolved_task()
    data = grid.load_data(spec, mnist_dir)
    tol = TOLERANCES["float64"]["theta"]
    a = train(task.model(), grid.build_optimizer(spec)[0], data, epochs=10, batch_size=8, seed=0, dtype=np.float64)
    b = train_torch(task.model(), grid.build_optimizer(spec)[0], data, epochs=10, batch_size=8, seed=0,
                    dtype=np.float64, threads=1)
    assert not a.diverged and not b.diverged
    assert np.max(np.abs(a.theta - b.theta)) <= tol * np.max(np.abs(a.theta))
    for x, y in ((a.train_loss, b.train_loss), (a.eta, b.eta)):
        assert np.max(np.abs(np.subtract(x, y)) / np.abs(x)) <= tol
    assert a.test_accuracy == b.test_accuracy
    if optimizer.endswith("clara") or "clara-" in optimizer:
        assert b.reference[-1] == pytest.approx(a.reference[-1], rel=1e-15)


def test_the_cnn_follows_too(tiny_dir):
    # The paper's CIFAR-10 CNN (2,193,226 parameters), 4 steps of Adam-CLARA-us on 4 images: same tolerance.
    spec = grid.RunSpec("cifar10_cnn", "adam-clara-us", 1e-3, 1, engine="torch")
    data = grid.load_data(spec, tiny_dir)
    model = spec.resolved_task().model()
    a = train(model, grid.build_optimizer(spec)[0], data, epochs=2, batch_size=2, seed=1, dtype=np.float64)
    b = train_torch(model, grid.build_optimizer(spec)[0], data, epochs=2, batch_size=2, seed=1, dtype=np.float64)
    assert np.max(np.abs(a.theta - b.theta)) <= TOLERANCES["float64"]["theta"] * np.max(np.abs(a.theta))


def test_the_paper_images_preset_runs_on_the_torch_engine(tiny_dir, tmp_path, capsys):
    # the acceptance command as written, on 4 + 2 images per dataset
    out = tmp_path / "out"
    assert main(["reproduce", "--preset", "paper-images", "--engine", "torch", "--data-dir", str(tiny_dir),
                 "--epochs", "1", "--no-verify", "--no-progress", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "the torch engine does not provide adam-alera: left out of this sweep" in err
    records = [json.loads(p.read_text()) for p in (out / "runs").iterdir()]
    assert len(records) == 3 * 8 * 7 * 5
    assert all(r["error"] is None and r["engine"] == "torch" and r["device"] == "cpu" for r in records)
    assert all(r["run_id"].endswith("__torch-cpu") and "torch" in r["versions"] for r in records)
    assert {r["optimizer"] for r in records} == set(grid.PRESETS["paper-images"].optimizers) - {"adam-alera"}
    assert (out / "report.md").exists() and (out / "summary.csv").exists()


def test_a_torch_run_never_passes_for_a_numpy_one():
    numpy_run = grid.RunSpec("mnist_mlp", "adam", 1e-3, 0)
    assert numpy_run.run_id == "mnist_mlp__adam__lr1e-03__s0"            # unchanged for the NumPy engine
    torch_run = grid.RunSpec("mnist_mlp", "adam", 1e-3, 0, engine="torch")
    assert torch_run.run_id == "mnist_mlp__adam__lr1e-03__s0__torch-cpu"
    assert grid.RunSpec("mnist_mlp", "adam", 1e-3, 0, engine="torch", device="cuda:1").run_id.endswith("__torch-cuda1")


@pytest.mark.parametrize("extra, message", [
    (["--optimizers", "adam", "adam-alera"], "the torch engine does not provide adam-alera; it provides " +
     ", ".join(TORCH_OPTIMIZERS)),
    (["--tasks", "mnist_mlp", "iris"], "the torch engine runs the paper's image tasks"),
    (["--device", "tpu"], "device must be 'cpu', 'cuda' or 'cuda:N'"),
])
def test_what_the_torch_engine_cannot_run_is_refused_by_name(tmp_path, capsys, extra, message):
    assert main(["reproduce", "--preset", "paper-images", "--engine", "torch", "--no-progress", "--out",
                 str(tmp_path), *extra]) == 2
    assert message in capsys.readouterr().err


def test_the_numpy_engine_has_no_device(tmp_path, capsys):
    assert main(["reproduce", "--preset", "smoke", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "needs --engine torch" in capsys.readouterr().err
