"""Resume distrusts values, not only names: a run file is resumed only when it validates as a RunRecord of
its own spec; every damaged variant is named on stderr and recomputed, so it changes no summary nor claim; a FIFO,
folder or device where a run file belongs is named and skipped without blocking; two sweeps on one folder compute
each run once."""

import json
import math
import os
import signal
import subprocess
import sys

import pytest

from clara_ref.experiments import record as R
from clara_ref.experiments import runner
from clara_ref.experiments.grid import PRESETS, expand


def _specs():
    return expand(PRESETS["smoke"], tasks=["sphere"], optimizers=["sgd"], rates=[1e-2], seeds=[0, 1])


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A finished two-run folder and its records (each test copies the good file back before damaging it)."""
    out = tmp_path_factory.mktemp("runs")
    records, _ = runner.run_all(_specs(), str(out), progress=False)
    return out, records


def _edit(**changes):
    def edit(r):
        r.update(changes)
        return json.dumps(r, allow_nan=True)
    return edit


def _without(key):
    def edit(r):
        del r[key]
        return json.dumps(r)
    return edit


def _literal(key, text):
    """The record with ``key``'s value written as raw JSON text (a literal json.dumps would not produce)."""
    def edit(r):
        r[key] = "@@"
        return json.dumps(r).replace('"@@"', text)
    return edit


# the 7 variants that crashed every rerun, the 4 that were resumed silently, and more of the same kinds
VARIANTS = {
    "metric is a string": (_edit(metric="abc"), "metric must be a list"),
    "metric holds an object": (_edit(metric=[{}]), r"entry 0 is \{\}"),
    "eta is a string": (_edit(eta="xyz"), "eta must be a list"),
    "final_metric is a string": (_edit(final_metric="oops"), "final_metric must be a number"),
    "final_metric 1e400": (_literal("final_metric", "1e400"), "final_metric is inf but the curves give"),
    "diverged is a string": (_edit(diverged="no"), "diverged must be true or false"),
    "100,000 nested brackets": (lambda r: "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "unit deleted": (_without("unit"), "unit of 'step' or 'epoch'"),
    "config deleted": (_without("config"), "has a config"),
    "final_metric NaN": (_literal("final_metric", "NaN"), "final_metric must be a number"),
    "final_metric changed": (_edit(final_metric=0.5), "final_metric is 0.5 but the curves give"),
    "a curve point NaN": (lambda r: json.dumps(dict(r, metric=r["metric"][:-1] + [math.nan])), r"entry \d+ is nan"),
    "a curve shortened": (lambda r: json.dumps(dict(r, loss=r["loss"][:-1])), "different lengths"),
    "eta0 negative": (_edit(eta0=-0.01), "eta0 must be a finite positive number"),
    "seed a float": (_edit(seed=0.0), "seed must be a non-negative integer"),
    "run id of another file": (_edit(run_id="sphere__sgd__lr1e-02__s7_x0.1"), "is not its file's name"),
    "an unknown field": (_edit(extra=1), "unknown field 'extra'"),
    "versions a list": (_edit(versions=["numpy"]), "versions must be an object"),
    "not an object": (lambda r: "[1, 2]", "a run record is a JSON object, not list"),
    "not JSON": (lambda r: "{not json", r"unreadable \(JSONDecodeError\)"),
    "not UTF-8": (lambda r: b"\xff\xfe{}", r"unreadable \(UnicodeDecodeError\)"),
    "the other seed's file": (lambda r: None, "is not its file's name"),
    "another seed under this name": (_edit(seed=1), "it holds another run's spec"),
    "ended in an error": (lambda r: json.dumps(runner.error_record(_specs()[0], "RuntimeError: flaky")),
                          r"it ended with an error \(RuntimeError: flaky\)"),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_damaged_run_file_is_named_and_recomputed(stored, variant, capsys):
    import re

    out, good = stored
    specs = _specs()
    path0, path1 = (out / "runs" / f"{s.run_id}.json" for s in specs)
    original = path0.read_bytes()
    edit, why = VARIANTS[variant]
    damaged = edit(json.loads(original)) if variant != "the other seed's file" else path1.read_text()
    path0.write_bytes(damaged if isinstance(damaged, bytes) else damaged.encode())
    try:
        again, resumed = runner.run_all(specs, str(out), progress=False)
        err = capsys.readouterr().err
        assert f"recomputing {path0}: " in err and re.search(why, err), err
        assert resumed == 1
        assert again[0] == {**good[0], "wall_s": again[0]["wall_s"]} and again[1] == good[1]
        assert json.loads(path0.read_text())["final_metric"] == good[0]["final_metric"]   # the file is whole again
    finally:
        path0.write_bytes(original)


def test_every_record_the_runner_writes_validates(stored):
    out, good = stored
    for r in good:
        assert R.validate(r, run_id=r["run_id"]) is None
        assert R.RunRecord.from_dict(r).to_dict() == r               # the schema's dict is the stored one, in order
        assert list(R.RunRecord.from_dict(r).to_dict()) == list(r)


def test_a_diverged_and_an_error_record_validate_and_a_bad_one_raises():
    spec = expand(PRESETS["smoke"], tasks=["rosenbrock"], optimizers=["sgd"], rates=[1.0], seeds=[0])[0]
    diverged = runner.run_one(spec)
    assert diverged["diverged"] and diverged["final_metric"] == math.inf and R.validate(diverged) is None
    error = runner.error_record(spec, "the worker process running it was killed by SIGKILL")
    assert R.validate(error) is None
    with pytest.raises(R.RunRecordError, match="a diverged run records diverged_at"):
        R.RunRecord.from_dict(dict(diverged, diverged_at=None))
    with pytest.raises(R.RunRecordError, match="empty curves"):
        R.RunRecord.from_dict(dict(error, metric=[1.0]))


def test_the_runner_never_stores_a_record_that_breaks_the_schema(monkeypatch):
    """A clara_ref bug that writes a bad field becomes an error record (shown and retried), not a result."""
    spec = _specs()[0]
    real = runner._finite_or_none
    monkeypatch.setattr(runner, "_finite_or_none", lambda xs: ["bad"] + real(xs)[1:])
    record = runner.run_one(spec)
    assert record["error"].startswith("internal error, the run's record breaks its schema: loss must be a list")


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_a_special_file_at_a_run_path_is_named_and_skipped_without_blocking(tmp_path, kind, capsys):
    specs = _specs()
    path0 = tmp_path / "runs" / f"{specs[0].run_id}.json"
    path0.parent.mkdir()
    if kind == "fifo":
        os.mkfifo(path0)                    # opening it for reading would wait for a writer for ever
    elif kind == "folder":
        path0.mkdir()
    else:
        os.symlink(os.devnull, path0)       # a character device
    signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError("the sweep blocked")))
    signal.alarm(30)
    try:
        records, resumed = runner.run_all(specs, str(tmp_path), progress=False)
    finally:
        signal.alarm(0)
    err = capsys.readouterr().err
    what = {"fifo": "a FIFO", "folder": "a folder", "device": "a device"}[kind]
    assert f"skipping {specs[0].run_id}: {path0} it is {what}, not a regular file" in err
    assert records[0]["error"].startswith(f"not run: {path0} it is {what}") and records[1]["error"] is None
    assert (os.path.islink(path0) if kind == "device" else not path0.is_file())     # left as it was
    assert resumed == 0 and (tmp_path / "runs" / f"{specs[1].run_id}.json").is_file()


def test_an_oversized_run_file_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "MAX_RUN_FILE_BYTES", 100)
    path = tmp_path / "x.json"
    path.write_text(" " * 101)
    assert R.read_run_file(str(path), "x") == (None, "larger than 100 bytes")


def test_interrupted_outputs_leave_out_a_damaged_file(tmp_path, capsys):
    specs = _specs()
    runner.run_all(specs, str(tmp_path), progress=False)
    path0 = tmp_path / "runs" / f"{specs[0].run_id}.json"
    path0.write_text('{"run_id": 1}')
    kept = runner.load_records(str(tmp_path), specs)
    assert [r["seed"] for r in kept] == [1] and f"leaving out {path0}: run_id must be a non-empty string" in \
        capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX record locks")
def test_two_sweeps_on_one_folder_compute_each_run_once(tmp_path):
    """Two reproduce commands started together on one folder: every run is computed by exactly one of them (each
    says how many it computed), both exit 0, and the summary is byte-identical to a lone sweep's."""
    import re

    from clara_ref.cli import main

    common = ["reproduce", "--preset", "quick", "--tasks", "iris", "--optimizers", "adam", "sgd", "--rates", "1e-3",
              "1e-2", "--seeds", "0", "1", "--no-progress"]
    shared, alone = tmp_path / "shared", tmp_path / "alone"
    procs = [subprocess.Popen([sys.executable, "-m", "clara_ref", *common, "--out", str(shared)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    found = [re.search(r"done in [\d.]+ s: (\d+) runs \(\d+ diverged; (\d+) computed here", out) for out, _ in outs]
    assert all(found), outs
    totals, computed = [int(m[1]) for m in found], [int(m[2]) for m in found]
    assert totals == [8, 8] and sum(computed) == 8, outs
    assert main([*common, "--out", str(alone)]) == 0
    assert (shared / "summary.csv").read_bytes() == (alone / "summary.csv").read_bytes()
