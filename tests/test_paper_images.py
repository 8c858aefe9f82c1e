"""The paper's image tasks through ``reproduce`` on generated files in the official formats (never the network),
and the dask executor against the process pool."""

import json
import os

import pytest

from clara_ref import images
from clara_ref.cli import main
from clara_ref.experiments.grid import PRESETS, TASKS, expand


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    for name in images.NAMES:
        images.write_sample_files(name, folder, n_train=40, n_test=20, seed=3)
    return folder


def _args(image_dir, out, *extra):
    return ["reproduce", "--preset", "paper-images", "--data-dir", str(image_dir), "--epochs", "1",
            "--tasks", "mnist_mlp", "cifar10_cnn", "--optimizers", "adam", "adam-clara", "--rates", "1e-3",
            "--seeds", "0", "--no-progress", "--out", str(out), *extra]


def test_the_preset_is_the_papers_protocol():
    specs = expand(PRESETS["paper-images"])
    assert len(specs) == 3 * 9 * 7 * 5
    for name, steps, n in (("mnist_mlp", 46_900, 235_146), ("fashion_mnist_mlp", 46_900, 235_146),
                           ("cifar10_cnn", 39_100, 2_193_226)):
        task = TASKS[name]
        assert (task.epochs, task.batch_size, task.damping, task.dtype) == (100, 128, 1e-3, "float32")
        assert task.steps_total == steps and task.n_params() == n and task.role == "image"


def test_mnist_mlp_and_cifar10_cnn_train_on_generated_files(image_dir, tmp_path, capsys):
    assert main(_args(image_dir, tmp_path, "--no-verify")) == 0
    records = [json.loads(p.read_text()) for p in (tmp_path / "runs").iterdir()]
    assert len(records) == 4 and all(r["error"] is None and not r["diverged"] for r in records)
    assert all(r["steps_total"] == 1 and r["epochs"] == 1 and r["data_verified"] is False for r in records)
    report = (tmp_path / "report.md").read_text()
    assert "were not checked against the official checksums" in report and "not the paper's 100" in report
    assert "not checked against the official checksums (--no-verify)" in capsys.readouterr().err


def test_generated_files_fail_the_official_checksums(image_dir, tmp_path, capsys):
    assert main(_args(image_dir, tmp_path)) == 2
    err = capsys.readouterr().err
    assert "official" in err and "--no-verify" in err


def test_missing_data_is_refused_with_the_loaders_message(tmp_path, capsys):
    assert main(_args(tmp_path / "empty", tmp_path / "out", "--no-verify")) == 2
    err = capsys.readouterr().err
    assert f"missing in {tmp_path / 'empty'}" in err and "--download" in err and not (tmp_path / "out").exists()


def test_download_fetches_before_the_sweep(image_dir, tmp_path, monkeypatch):
    """--download with the official sources replaced by file:// URLs of generated files and their checksums."""
    sums = {}
    for name in ("mnist", "cifar10"):
        src = images.write_sample_files(name, tmp_path / "mirror", n_train=10, n_test=5, archive=True)
        files = images.MD5[name]
        sums[name] = {f: images._md5(os.path.join(src, f)) for f in files}
        monkeypatch.setitem(images.MD5, name, sums[name])
        monkeypatch.setitem(images.URLS, name, ("file://" + src + "/",))
    data = tmp_path / "fresh"
    assert main(_args(data, tmp_path / "out", "--download")) == 0
    assert sorted(os.listdir(data / "mnist")) == sorted(images.FILES["mnist"])
    assert (data / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin").exists()
    record = json.loads(next((tmp_path / "out" / "runs").glob("mnist_mlp*")).read_text())
    assert record["data_verified"] is True and record["error"] is None


def test_dask_executor_gives_the_process_pools_summary_and_resumes(tmp_path, capsys):
    pytest.importorskip("distributed")
    common = ["reproduce", "--preset", "smoke", "--no-progress", "--jobs", "2"]
    assert main(common + ["--out", str(tmp_path / "pool")]) == 0
    assert main(common + ["--executor", "dask", "--out", str(tmp_path / "dask")]) == 0
    pool, dask = ((tmp_path / d / "summary.csv").read_bytes() for d in ("pool", "dask"))
    assert pool == dask
    capsys.readouterr()
    assert main(common + ["--executor", "dask", "--out", str(tmp_path / "dask")]) == 0
    assert "(0 computed by this command, 60 resumed" in (tmp_path / "dask" / "report.md").read_text()
    assert (tmp_path / "dask" / "summary.csv").read_bytes() == pool


def test_scheduler_needs_the_dask_executor(tmp_path, capsys):
    assert main(["reproduce", "--preset", "smoke", "--scheduler", "tcp://127.0.0.1:8786", "--out",
                 str(tmp_path)]) == 2
    assert "--scheduler needs --executor dask" in capsys.readouterr().err
