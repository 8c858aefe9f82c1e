"""The main job end to end on the smoke preset, resume, determinism, and one-line errors for bad input."""

import csv
import json
import os
import subprocess
import sys

import pytest

from clara_ref.cli import main
from clara_ref.experiments.grid import PRESETS, expand


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    assert main(["reproduce", "--preset", "smoke", "--out", str(out), "--jobs", "2", "--no-progress"]) == 0
    return out


def test_every_output_file_is_written(smoke_out):
    specs = expand(PRESETS["smoke"])
    runs = sorted(os.listdir(smoke_out / "runs"))
    assert len(runs) == len(specs) == 60
    record = json.loads((smoke_out / "runs" / runs[0]).read_text())
    for key in ("config", "versions", "seed", "loss", "metric", "eta", "diverged", "final_metric", "damping"):
        assert key in record
    assert len(record["eta"]) == len(record["metric"]) == len(record["loss"])
    with open(smoke_out / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 60
    for task in ("sphere", "iris"):
        for kind in ("sensitivity", "eta", "loss"):
            png = smoke_out / f"{kind}_{task}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_has_the_claim_table(smoke_out):
    text = (smoke_out / "report.md").read_text()
    table = [line for line in text.splitlines() if line.startswith("| C")]
    assert [line.split(":")[0] for line in table] == ["| C1", "| C2", "| C3", "| C4", "| C5"]
    verdicts = {"supported", "not supported", "mixed", "not evaluated in this preset"}
    for line in table:
        assert line.split("**")[1] in verdicts
    # the smoke preset has no digits MLP: C3 cannot be shown and must say so
    assert "| C3" in table[2] and "not evaluated in this preset" in table[2]
    assert "| sgd-clara | auto |" in text and "| adam-clara | 0.001 |" in text   # every row states its d


def test_resume_skips_done_runs_and_reruns_are_identical(smoke_out, tmp_path):
    before = {f: (smoke_out / "runs" / f).stat().st_mtime_ns for f in os.listdir(smoke_out / "runs")}
    assert main(["reproduce", "--preset", "smoke", "--out", str(smoke_out), "--jobs", "1", "--no-progress"]) == 0
    after = {f: (smoke_out / "runs" / f).stat().st_mtime_ns for f in os.listdir(smoke_out / "runs")}
    assert before == after
    # a fresh run of a subset gives the same numbers
    assert main(["reproduce", "--preset", "smoke", "--out", str(tmp_path), "--jobs", "1", "--no-progress",
                 "--tasks", "sphere", "--optimizers", "sgd-clara", "--seeds", "1"]) == 0
    for f in os.listdir(tmp_path / "runs"):
        a = json.loads((tmp_path / "runs" / f).read_text())
        b = json.loads((smoke_out / "runs" / f).read_text())
        for key in ("loss", "metric", "eta", "final_metric", "config"):
            assert a[key] == b[key]


@pytest.mark.parametrize("args,message", [
    (["--preset", "huge"], "unknown preset 'huge'"),
    (["--tasks", "mnist"], "unknown task 'mnist'"),
    (["--optimizers", "lion"], "unknown optimizer 'lion'"),
    (["--rates", "-1"], "initial rates must be positive"),
    (["--out", "/proc/nope"], "cannot write to --out"),
])
def test_bad_input_gives_one_line_error(args, message):
    proc = subprocess.run([sys.executable, "-m", "clara_ref", "reproduce", "--no-progress", *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]


def test_help_explains_the_commands():
    proc = subprocess.run([sys.executable, "-m", "clara_ref", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "reproduce" in proc.stdout and "demo" in proc.stdout
