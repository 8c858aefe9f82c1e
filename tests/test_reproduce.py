"""The main job end to end on the smoke preset, resume, determinism, and one-line errors for bad input."""

import csv
import json
import os
import subprocess
import sys

import pytest

from clara_ref.cli import main
from clara_ref.experiments.grid import PRESETS, TASKS, expand


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
    for key in ("config", "versions", "seed", "loss", "metric", "eta", "diverged", "divergence", "final_metric",
                "damping", "damping_setting", "c", "reference", "protocol", "dtype", "steps_total", "role", "n_blocks",
                "n_params"):
        assert key in record
    assert len(record["eta"]) == len(record["metric"]) == len(record["loss"])
    with open(smoke_out / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 60
    for run in runs:                   # every path-rule run records the damping in use and its reference
        r = json.loads((smoke_out / "runs" / run).read_text())
        if "clara" in r["optimizer"]:
            assert isinstance(r["damping"], float) and r["reference"] > 0 and r["n_blocks"] >= 1
            assert r["damping_setting"] == ("auto" if r["task"] == "sphere" else 0.001)
        else:
            assert r["damping"] is None and r["reference"] is None
    claims = json.loads((smoke_out / "claims.json").read_text())
    assert [c["id"] for c in claims] == ["C0", "C1", "C2", "C3", "C4", "C5"]
    for c in claims:
        assert c["verdict"] and "margin" in c and "robustness" in c and "numbers" in c
        if c["verdict"].startswith("not evaluated"):
            assert c["robustness"] is None
        else:
            assert 0.0 <= c["robustness"] <= 1.0 and isinstance(c["margin"], float)
    for task in ("sphere", "iris"):
        for kind in ("sensitivity", "eta", "loss"):
            png = smoke_out / f"{kind}_{task}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_has_the_claim_table(smoke_out):
    text = (smoke_out / "report.md").read_text()
    table = [line for line in text.splitlines() if line.startswith("| C")]
    assert [line.split(":")[0] for line in table] == ["| C0", "| C1", "| C2", "| C3", "| C4", "| C5"]
    verdicts = {"supported", "not supported", "mixed", "not evaluated in this preset",
                "not evaluable at this step budget"}
    for line in table:
        assert line.split("**")[1] in verdicts
    # the smoke preset has no digits MLP and no pure-noise task: C3 and C0 cannot be shown and must say so
    assert "| C3" in table[3] and "not evaluated in this preset" in table[3]
    assert "| C0" in table[0] and "not evaluated in this preset" in table[0]
    # its budgets are reduced: the report and the console say that its verdicts are a demonstration
    assert "A demonstration at reduced budgets" in text
    # every row states its d ("auto" with the value it resolves to)
    assert "| sgd-clara | auto (0.0878) |" in text and "| adam-clara | 0.001 |" in text
    assert "![eta](eta_sphere.png)" in text


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
    (["--preset", "huge"], "invalid choice: 'huge'"),
    (["--tasks", "mnist"], "unknown task 'mnist'"),
    (["--optimizers", "lion"], "unknown optimizer 'lion'"),
    (["--rates", "-1"], "initial rates must be positive"),
    (["--out", "/proc/nope"], "cannot write to"),
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


def test_version_and_a_bare_call_is_a_usage_error():
    import clara_ref

    proc = subprocess.run([sys.executable, "-m", "clara_ref", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"clara_ref {clara_ref.__version__}"
    proc = subprocess.run([sys.executable, "-m", "clara_ref"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "required" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_digits_mlp_runs_the_step_budget_and_adam_clara_recovers_from_1e6(tmp_path):
    """The acceptance run of the step-matched stand-in: from 1e-6, Adam stays far below 0.9 while Adam-CLARA's rate
    climbs (at most exp(0.47 d T) = 300x over 12,150 steps) and it reaches > 0.9 test accuracy."""
    assert TASKS["digits_mlp"].steps_total >= 12000
    assert max(TASKS[t].steps_total for t in PRESETS["images"].tasks) >= 45000
    assert main(["reproduce", "--preset", "paper", "--tasks", "digits_mlp", "--optimizers", "adam-clara", "adam",
                 "--rates", "1e-6", "--seeds", "0", "--out", str(tmp_path), "--jobs", "2", "--no-progress"]) == 0
    runs = {json.loads(p.read_text())["optimizer"]: json.loads(p.read_text()) for p in (tmp_path / "runs").iterdir()}
    assert runs["adam-clara"]["final_metric"] > 0.9 > runs["adam"]["final_metric"]
    assert runs["adam-clara"]["eta"][-1] > 10 * 1e-6 and runs["adam"]["dtype"] == "float32"
    assert runs["adam"]["steps_total"] == 12150


def test_steps_total_counts_the_optimizer_steps():
    import clara_ref as cr

    task = TASKS["wine"].scaled(0.05)                          # 5 epochs of ceil(142 / 128) = 2 batches
    r = cr.train(task.model(), cr.adam(1e-3), cr.data.load("wine"), epochs=task.epochs, batch_size=task.batch_size)
    assert r.state.t == task.steps_total == 10


def test_authors_protocol_changes_only_real_data_runs(tmp_path):
    args = ["reproduce", "--preset", "smoke", "--optimizers", "adam-clara", "--seeds", "0", "--rates", "1e-2",
            "--no-progress", "--jobs", "1"]
    assert main(args + ["--out", str(tmp_path / "a"), "--protocol", "authors"]) == 0
    runs = {p.name: json.loads(p.read_text()) for p in (tmp_path / "a" / "runs").iterdir()}
    iris = next(r for r in runs.values() if r["task"] == "iris")
    sphere = next(r for r in runs.values() if r["task"] == "sphere")
    assert iris["protocol"] == "authors" and iris["run_id"].endswith("_authors")
    assert iris["reference"] == pytest.approx(2 * 0.6729)      # K mu(N): 2 tensors, N = 15 in their table
    assert sphere["protocol"] == "clara_ref"                   # synthetic tasks are the same under both protocols
    assert "`authors`" in (tmp_path / "a" / "report.md").read_text()
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    own = next(json.loads(p.read_text()) for p in (tmp_path / "b" / "runs").iterdir() if "iris" in p.name)
    assert own["reference"] != iris["reference"] and own["final_metric"] != iris["final_metric"]


def test_damping_preset_draws_metric_against_d_and_gives_its_own_verdicts(tmp_path):
    assert {"digits_mlp", "sgd", "adam", "sgd-clara-us", "adam-clara-us"} <= \
        set(PRESETS["damping"].tasks) | set(PRESETS["damping"].optimizers)
    assert main(["reproduce", "--preset", "damping", "--tasks", "sphere", "--optimizers", "sgd", "sgd-clara",
                 "--seeds", "0", "--rates", "1e-6", "1e-2", "--out", str(tmp_path), "--no-progress"]) == 0
    assert (tmp_path / "damping_sphere.png").read_bytes()[:4] == b"\x89PNG"
    claims = {c["id"]: c for c in json.loads((tmp_path / "claims.json").read_text())}
    assert {"D1", "D2"} <= set(claims) and claims["D1"]["numbers"]["pairs"][0]["variant"] == "sgd-clara"
    text = (tmp_path / "report.md").read_text()
    assert "swept over {0.0001, 0.001, 0.01, auto}" in text and "real-data tasks d = 1e-3" not in text
