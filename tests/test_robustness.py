"""Issue-12 defects fixed so far (each test fails on the code before the fix): states own their arrays, tiny or
huge hyperparameters are refused up front, D-Adaptation and Prodigy guard their rate, non-array gradients and
infinite block sizes give errors that name the parameter."""

import math

import numpy as np
import pytest

import clara_ref as cr


def test_salera_backtracks_to_its_own_copy_of_theta():
    opt = cr.salera(cr.sgd_direction(), 0.1, ph_threshold=1.0)
    theta = np.ones(2)
    st = opt.init(theta)
    new, st = opt.update(theta, np.ones(2), st, loss=1.0)
    theta[:] = 123.0                                   # the caller reuses its array in place
    back, st = opt.update(new, np.ones(2), st, loss=50.0)
    assert st.alarm and back.tolist() == [1.0, 1.0]     # the iterate before the last update, not the caller's edit
    back[:] = -1.0                                     # and the returned array is not the state's
    assert st.theta_prev.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("make,name", [
    (lambda: cr.clara(cr.sgd_direction(), 0.1, c=5e-324), "c"),
    (lambda: cr.clara(cr.adam_direction(), 0.1, c=1e-17, d="auto"), "c"),
    (lambda: cr.alera(cr.sgd_direction(), 0.1, c=1e-17), "c"),
    (lambda: cr.dadapt_adam(d0=1e-320), "d0 \\* lr"),
    (lambda: cr.dadapt_sgd(lr=1e-320), "d0 \\* lr"),
    (lambda: cr.prodigy(d0=1e-200, lr=1e-200), "d0 \\* lr"),
])
def test_values_that_would_later_divide_by_zero_are_refused(make, name):
    with pytest.raises(ValueError, match=name):
        make()
    with pytest.raises(ValueError, match="path never forgets"):
        cr.reference.path_sq_norm_mean(cr.adam_direction(), c=1e-17)


def test_dadapt_and_prodigy_guard_their_rate():
    """An estimate d so large that d lr overflows is refused (it used to give eta = inf and theta = inf silently)."""
    theta = np.zeros(3)
    for opt in (cr.dadapt_sgd(lr=10.0), cr.dadapt_adam(lr=10.0), cr.prodigy(lr=10.0)):
        st = opt.init(theta)._replace(d=1e308)
        with pytest.raises(cr.LearningRateError, match="became inf at step 1"):
            opt.update(theta, np.array([1.0, -2.0, 3.0]), st)


@pytest.mark.parametrize("g", [[1.0, 2.0], 1.0, None])
def test_a_gradient_that_is_not_an_array_names_g(g):
    opt = cr.adam(0.1)
    with pytest.raises(TypeError, match="g must be an array like theta"):
        opt.update(np.zeros(2), g, opt.init(np.zeros(2)))


def test_infinite_block_sizes_are_a_value_error():
    with pytest.raises(ValueError, match="blocks must be None or a tuple of positive ints"):
        cr.clara(cr.sgd_direction(), 0.1, blocks=(math.inf,))


def _smoke_specs():
    from clara_ref.experiments.grid import PRESETS, expand

    return expand(PRESETS["smoke"], tasks=["sphere"], optimizers=["sgd"], rates=[1e-2], seeds=[0, 1])


def test_resume_trusts_no_bad_file(tmp_path, capsys):
    """A stored run that is unreadable, incomplete, another run's, or ended in an error is named and recomputed."""
    import json
    import os

    from clara_ref.experiments import runner

    specs = _smoke_specs()
    good, _ = runner.run_all(specs, str(tmp_path), progress=False)
    path0, path1 = (tmp_path / "runs" / f"{s.run_id}.json" for s in specs)
    for bad in ("{}", "null", "{not json"):
        path0.write_text(bad)
        again, resumed = runner.run_all(specs, str(tmp_path), progress=False)
        assert resumed == 1 and again[0]["final_metric"] == good[0]["final_metric"]
        assert f"recomputing {path0}" in capsys.readouterr().err
    path0.write_text(path1.read_text())                               # a readable file holding the other seed
    runner.run_all(specs, str(tmp_path), progress=False)
    assert "another run's spec" in capsys.readouterr().err
    assert json.loads(path0.read_text())["seed"] == 0
    os.remove(path0)
    os.mkdir(path0)                                                   # a folder where the file should be
    with pytest.raises(runner.RunFileError, match=f"{path0} is a folder"):
        runner.run_all(specs, str(tmp_path), progress=False)


def test_a_run_that_raised_is_an_error_not_a_divergence_and_is_retried(tmp_path, monkeypatch):
    from clara_ref.experiments import claims, runner

    specs = _smoke_specs()
    real = runner.build_optimizer
    monkeypatch.setattr(runner, "build_optimizer", lambda spec: (_ for _ in ()).throw(RuntimeError("flaky")))
    records, _ = runner.run_all(specs, str(tmp_path), progress=False)
    assert all(r["error"] == "RuntimeError: flaky" and r["diverged"] is False for r in records)
    assert claims.Cells.from_records(records).keys == []              # no claim counts them
    monkeypatch.setattr(runner, "build_optimizer", real)
    records, resumed = runner.run_all(specs, str(tmp_path), progress=False)
    assert resumed == 0 and all(r["error"] is None for r in records)


def test_repeated_seeds_and_rates_run_once():
    from clara_ref.experiments.grid import PRESETS, expand

    specs = expand(PRESETS["smoke"], tasks=["sphere", "sphere"], optimizers=["sgd"], rates=[1e-2, 1e-2, 1e-3],
                   seeds=[0, 0, 1])
    assert len(specs) == len({s.run_id for s in specs}) == 4


def test_save_state_is_atomic_and_keeps_the_path(tmp_path, monkeypatch):
    import os

    opt = cr.adam(1e-3)
    st = opt.init(np.ones(3))
    target = tmp_path / "ckpt"                                         # no suffix: the file is exactly this path
    cr.save_state(target, st)
    assert cr.load_state(target).t == 0 and os.listdir(tmp_path) == ["ckpt"]
    _, st2 = opt.update(np.ones(3), np.ones(3), st)

    def broken(fh, **arrays):                                          # a crash half-way through the write
        fh.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(KeyboardInterrupt):
        cr.save_state(target, st2)
    assert cr.load_state(target).t == 0 and os.listdir(tmp_path) == ["ckpt"]   # the old one intact, no debris


def test_concurrent_writers_never_share_a_temporary_name(tmp_path, monkeypatch):
    import os

    from clara_ref._io import atomic_write

    seen = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (seen.append(src), real(src, dst))[1])
    for k in range(3):
        atomic_write(tmp_path / "run.json", lambda fh: fh.write(str(k)))
    assert len(set(seen)) == 3 and (tmp_path / "run.json").read_text() == "2"


def test_run_ids_keep_every_rate_apart_and_the_grid_names():
    from clara_ref.experiments.grid import RunSpec

    assert RunSpec("sphere", "sgd", 1e-3, 0).run_id == "sphere__sgd__lr1e-03__s0"         # the grid's names stay
    ids = {RunSpec("sphere", "sgd", e, 0, scale=x).run_id
           for e in (1e-3, 1.4e-3, 1.0000001e-3) for x in (0.5, 0.5000001)}
    assert len(ids) == 6


def test_rates_that_round_alike_both_run_and_summary_is_byte_identical(tmp_path):
    from clara_ref.cli import main

    args = ["reproduce", "--preset", "smoke", "--tasks", "sphere", "--optimizers", "sgd", "--seeds", "0", "--rates",
            "1e-3", "1.4e-3", "--no-progress", "--jobs", "32"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    a, b = (tmp_path / "a" / "summary.csv").read_bytes(), (tmp_path / "b" / "summary.csv").read_bytes()
    assert a == b and len(a.splitlines()) == 3                       # two runs, two rows, no timing column
    assert len(list((tmp_path / "a" / "runs").iterdir())) == 2
    assert main(args + ["--out", ""]) == 2


def test_a_state_from_another_optimizer_or_theta_is_refused():
    adam = cr.adam(0.1)
    with pytest.raises(ValueError, match="made for another theta"):
        adam.update(np.zeros(5), np.ones(5), adam.init(np.zeros(1)))          # used to broadcast silently
    for opt in (cr.dadapt_adam(), cr.prodigy()):
        with pytest.raises(ValueError, match="made for another theta"):
            opt.update(np.zeros(5), np.ones(5), opt.init(np.zeros(1)))
    unblocked = cr.alera(cr.sgd_direction(), 0.1).init(np.zeros(5))
    with pytest.raises(ValueError, match="2 blocks"):
        cr.alera(cr.sgd_direction(), 0.1, blocks=(2, 3)).update(np.zeros(5), np.ones(5), unblocked)
    clara_adam = cr.clara(cr.adam_direction(), 0.1).init(np.zeros(3))
    for other, match in ((cr.adam(0.1), "ConstantRateState"), (cr.sgd(0.1), "ConstantRateState"),
                         (cr.clara(cr.sgd_direction(), 0.1), "SGDDirectionState")):
        with pytest.raises(ValueError, match=match):
            other.update(np.zeros(3), np.ones(3), clara_adam)
    with pytest.raises(ValueError, match="dtype float32"):
        adam.update(np.zeros(3), np.ones(3), adam.init(np.zeros(3, dtype=np.float32)))


def test_load_state_checks_the_optimizer_it_is_given(tmp_path):
    opt = cr.clara(cr.adam_direction(), 0.1)
    theta = np.ones(3)
    path = tmp_path / "ckpt.npz"
    cr.save_state(path, opt.init(theta), optimizer=opt)
    assert cr.load_state(path, optimizer=opt).t == 0 and cr.load_state(path).t == 0
    with pytest.raises(ValueError, match="made by clara"):
        cr.load_state(path, optimizer=cr.adam(0.1))
    cr.save_state(path, opt.init(theta))                        # no record of the optimizer: the state is checked
    with pytest.raises(ValueError, match="SGDDirectionState"):
        cr.load_state(path, optimizer=cr.clara(cr.sgd_direction(), 0.1))


def _children(pid):
    import pathlib

    out = set()
    for task in pathlib.Path(f"/proc/{pid}/task").glob("*"):
        try:
            out |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return out


def _alive(pid):
    import pathlib

    try:
        return "State:\tZ" not in pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not __import__("pathlib").Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_interrupts_stop_quickly_keep_finished_runs_and_leave_no_workers(tmp_path, signame):
    """Nine long runs (the 12,150-step digits MLP, rates that do not diverge early: about 3 s each) in 2 workers,
    so the sweep is far from done when the parent gets a signal, once the first run has finished:
    it stops within a few seconds, keeps the finished run files whole, and no worker outlives it; a rerun resumes."""
    import json
    import signal
    import subprocess
    import sys
    import time

    cmd = [sys.executable, "-m", "clara_ref", "reproduce", "--preset", "paper", "--tasks", "digits_mlp",
           "--optimizers", "adam", "--rates", "1e-4", "1e-3", "1e-2", "--seeds", "0", "1", "2", "--jobs", "2",
           "--no-progress", "--out", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = tmp_path / "runs"
    deadline = time.time() + 120
    while time.time() < deadline and not (runs.exists() and any(p.suffix == ".json" for p in runs.iterdir())):
        time.sleep(0.2)
    workers = _children(proc.pid)
    assert workers, "the pool should be running"
    t0 = time.time()
    proc.send_signal(getattr(signal, signame))
    proc.wait(timeout=30)
    stopped = time.time() - t0
    time.sleep(1.5)                                                      # the workers poll their parent every 0.5 s
    assert not [w for w in workers if _alive(w)], "orphaned workers"
    assert stopped < 5                    # measured 0.5-0.6 s on 2 cores; the issue asks for about 2 s
    finished = [p for p in runs.iterdir() if p.suffix == ".json"]
    assert finished and all(json.loads(p.read_text())["error"] is None for p in finished)   # whole files only
    assert not [p for p in runs.iterdir() if p.suffix == ".tmp"]
    if signame != "SIGKILL":
        assert proc.returncode == 130 and (tmp_path / "summary.csv").exists()
        assert len((tmp_path / "summary.csv").read_text().splitlines()) == len(finished) + 1
