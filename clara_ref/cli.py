"""Command line: ``python -m clara_ref reproduce`` (the paper's benchmark) and ``python -m clara_ref demo``."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time

__all__ = ["main"]

DESCRIPTION = """clara_ref: reference implementation of path-length learning-rate adaptation (CLARA, ALeRA/SALeRA)
for SGD and Adam, with D-Adaptation and Prodigy baselines.

commands:
  reproduce   run the CLARA paper's benchmark grid and write results, figures and a report with a verdict per
              claim (python -m clara_ref reproduce --preset quick)
  demo        print the SGD-CLARA and Adam-CLARA rate trajectories on a noisy sphere (a few seconds)
"""


class _Fail(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2) instead of the usage block followed by the error."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _parser():
    from . import __version__
    from .experiments.grid import OPTIMIZERS, PRESETS, PROTOCOLS, TASKS

    ap = _Parser(prog="python -m clara_ref", description=DESCRIPTION,
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"clara_ref {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="{reproduce,demo}", parser_class=_Parser)
    rp = sub.add_parser("reproduce", help="run the paper's benchmark grid",
                        description="Run the CLARA paper's benchmark grid in a pool of worker processes and "
                        "write one JSON per run, summary.csv, figures and report.md into --out. Runs whose JSON "
                        "already exists are skipped (resume).")
    rp.add_argument("--preset", default="quick", choices=list(PRESETS),
                    help="; ".join(f"{k}: {p.note}" for k, p in PRESETS.items()) + " [quick]")
    rp.add_argument("--out", default="results", help="output folder [results]")
    rp.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes [all cores]")
    rp.add_argument("--seeds", type=int, nargs="+", help="seeds (default: the preset's)")
    rp.add_argument("--tasks", nargs="+", help="subset of tasks: " + ", ".join(TASKS))
    rp.add_argument("--optimizers", nargs="+", help="subset of optimizers: " + ", ".join(OPTIMIZERS))
    rp.add_argument("--rates", type=float, nargs="+", help="subset of initial rates (default: the preset's)")
    rp.add_argument("--protocol", default="clara_ref", choices=PROTOCOLS,
                    help="how real-data tasks are run: clara_ref (standardised features, stratified split, "
                    "per-block references) or authors (raw features, plain split, Adam-CLARA's reference from the "
                    "authors' table) [clara_ref]")
    rp.add_argument("--epochs", type=int, help="override the epochs of every data task (synthetic tasks keep their "
                    "steps)")
    rp.add_argument("--data-dir", help="folder of the paper's image datasets, one subfolder each (mnist/, "
                    "fashion_mnist/, cifar10/) [$CLARA_REF_DATA, else the user cache folder]")
    rp.add_argument("--download", action="store_true", help="fetch missing image datasets from their official "
                    "sources first (checked against the published checksums)")
    rp.add_argument("--no-verify", action="store_true", help="do not check the image files against the official "
                    "checksums (for files you made yourself; the runs record it)")
    rp.add_argument("--engine", default="numpy", choices=["numpy", "torch"],
                    help="numpy: clara_ref's own models [default]; torch: the paper's image tasks on torch models and "
                    "optimizers (clara_ref.torch.CLARA, torch.optim, dadaptation, prodigyopt)")
    rp.add_argument("--device", default="cpu", help="with --engine torch: cpu, cuda or cuda:N [cpu]")
    rp.add_argument("--executor", default="process", choices=["process", "dask"],
                    help="process: a local pool of --jobs worker processes; dask: a dask.distributed cluster "
                    "(--scheduler, or a local cluster of --jobs workers) [process]")
    rp.add_argument("--scheduler", help="address of a running dask scheduler, e.g. tcp://host:8786 "
                    "(with --executor dask)")
    rp.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    sub.add_parser("demo", help="print rate trajectories of SGD-CLARA and Adam-CLARA on a noisy sphere")
    return ap


def _reproduce(args, argv) -> int:
    from ._io import signals_held
    from .errors import ClusterError
    from .experiments import claims, decide, grid, runner

    if args.jobs < 1:
        raise _Fail(f"--jobs must be at least 1, got {args.jobs}")
    if not args.out.strip():
        raise _Fail("--out must name a folder, got an empty string")
    preset = grid.PRESETS[args.preset]
    if args.epochs is not None and args.epochs < 1:
        raise _Fail(f"--epochs must be at least 1, got {args.epochs}")
    if args.scheduler is not None and args.executor != "dask":
        raise _Fail("--scheduler needs --executor dask")
    try:
        specs = grid.expand(preset, args.tasks, args.optimizers, args.rates, args.seeds, protocol=args.protocol,
                            epochs=args.epochs, engine=args.engine, device=args.device)
    except ValueError as exc:
        raise _Fail(str(exc)) from None
    if args.engine == "torch":
        left_out = grid.torch_left_out(preset, args.optimizers)
        if left_out:
            print(f"note: the torch engine does not provide {', '.join(left_out)}: left out of this sweep (--engine "
                  "numpy runs them)", file=sys.stderr)
    if not specs:
        raise _Fail("the filters leave no run to do")
    for name in ("seeds", "rates", "tasks", "optimizers"):
        given = getattr(args, name)
        if given and len(set(given)) < len(given):
            print(f"note: repeated --{name} removed (each runs once)", file=sys.stderr)
    data_dir, verified = _prepare_images(specs, args)    # before anything is written
    for folder in (args.out, os.path.join(args.out, "runs")):
        try:
            os.makedirs(folder, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".write_test.")
            os.close(fd)
            os.remove(probe)
        except OSError as exc:
            raise _Fail(f"cannot write to {folder!r} (--out {args.out!r}): {exc.strerror or exc}") from None
    args.jobs = min(args.jobs, len(specs))            # no idle workers: at most one per run
    t0 = time.perf_counter()
    print(f"clara_ref reproduce: preset {preset.name}, {len(specs)} runs, {args.jobs} worker(s), out {args.out}/",
          file=sys.stderr)
    command = "python -m clara_ref " + " ".join(shlex.quote(a) for a in argv)
    done_specs = list(specs)                          # every spec this command runs, extra seeds included
    stats = {}

    def run(todo):
        known = set(done_specs)
        done_specs.extend(s for s in todo if s not in known)
        return runner.run_all(todo, args.out, jobs=min(args.jobs, len(todo)), progress=not args.no_progress,
                              executor=args.executor, scheduler=args.scheduler, data_dir=data_dir,
                              data_verified=verified, stats=stats)

    try:
        records, _ = run(specs)
        decision = None
        if preset.decide_seeds and args.seeds is None:
            # claims that are not robust at the preset's seeds get more seeds on their deciding cells
            decision = decide.until_decided(
                specs, records, lambda todo: run(todo)[0], max_seeds=preset.decide_seeds,
                budget_s=preset.decide_budget_s, jobs=args.jobs)
            records = decision.records
    except (runner.RunFileError, ClusterError) as exc:
        raise _Fail(str(exc)) from None
    except KeyboardInterrupt:
        # keep what finished: write the summary and report of the runs on disk, then stop
        done = [s for s in done_specs if os.path.exists(os.path.join(args.out, "runs", s.run_id + ".json"))]
        if done:
            with signals_held(deliver=False):
                _write_outputs(runner.load_records(args.out, done), args, preset, command, t0, 0, None,
                               interrupted=True)
        print(f"interrupted: {len(done)} of {len(done_specs)} runs finished and are kept (summary and report of "
              "them written); a rerun resumes", file=sys.stderr)
        return 130
    with signals_held(deliver=False) as arrived:   # a complete report first, then exit 130
        # every run this command did not compute itself was resumed (or finished by another sweep on the folder)
        path, results = _write_outputs(records, args, preset, command, t0, len(records) - stats.get("computed", 0),
                                       decision)
    if arrived:
        print(f"interrupted while the summary and report were written: they were finished first ({path}); every run "
              "is kept", file=sys.stderr)
        return 130
    n_div = sum(r["diverged"] for r in records)
    counts = f"{stats.get('computed', 0)} computed here, {stats.get('resumed', 0)} resumed" + \
        (f", {stats['finished_elsewhere']} from another sweep" if stats.get("finished_elsewhere") else "") + \
        (f", {stats['skipped']} skipped" if stats.get("skipped") else "")
    print(f"done in {time.perf_counter() - t0:.1f} s: {len(records)} runs ({n_div} diverged; {counts}); report: "
          f"{path}")
    if preset.demonstration:
        print(f"  (preset {preset.name} runs reduced budgets: its verdicts are a demonstration; the paper and images "
              "presets are the test)")
    for c in results:
        extra = "" if c.robustness is None else f" (margin {c.margin:+.3g}, robustness {c.robustness:.0%}" + \
            (", borderline)" if c.borderline and c.verdict != claims.UNDECIDED_VERDICT else ")")
        print(f"  {c.id}: {c.verdict}{extra}")
    return 0


def _write_outputs(records, args, preset, command, t0, resumed, decision, *, interrupted=False):
    """summary.csv, claims.json, the figures and report.md of ``records``: one place for a finished and an
    interrupted sweep. The claims come from the decision when extra seeds ran, else from the records."""
    from .experiments import claims, report

    report.write_summary(records, os.path.join(args.out, "summary.csv"))
    results = decision.results if decision is not None else claims.evaluate(records)
    report.write_claims(results, os.path.join(args.out, "claims.json"))
    figures = report.write_figures(records, args.out, results)
    path = report.write_report(records, args.out, preset, command, time.perf_counter() - t0, figures,
                               resumed=resumed, claims=results, decision=decision, interrupted=interrupted)
    return path, results


def _prepare_images(specs, args):
    """The data folder and whether its files were verified, for sweeps with the paper's image tasks: fetch them
    with --download, check them unless --no-verify, and refuse to start when they are missing (exit 2, with the
    loaders' message: the folder, the files and how to get them)."""
    from . import images
    from .experiments.grid import TASKS

    needed = sorted({TASKS[s.task].dataset for s in specs if TASKS[s.task].official_images})
    if not needed:
        if args.download or args.data_dir or args.no_verify:
            print("note: --download, --data-dir and --no-verify only concern the paper's image tasks, which this "
                  "sweep does not run", file=sys.stderr)
        return None, None
    folder = os.path.abspath(images.data_folder(args.data_dir))
    for name in needed:
        try:
            if args.download:
                images.download(name, folder, progress=not args.no_progress)    # checks every file itself
            elif args.no_verify:
                images.require(name, folder)
            else:
                images.verify(name, folder)
        except images.DataMissingError as exc:
            raise _Fail(str(exc)) from None
        except images.ChecksumError as exc:
            hint = "" if "--no-verify" in str(exc) else " (for files you made yourself: --no-verify)"
            raise _Fail(f"{exc}{hint}") from None
    if args.no_verify:
        print(f"note: the image files in {folder} were not checked against the official checksums (--no-verify); "
              "the runs and the report say so", file=sys.stderr)
    return folder, not args.no_verify


def _demo() -> int:

    import clara_ref as cr

    f = cr.objectives.get("sphere", n=10, noise=0.1)
    print("noisy sphere, n = 10, x0 = 100, noise sd 0.1; d = 'auto' (2 x the exact null spread)")
    for label, direction, eta0 in (("SGD-CLARA", cr.sgd_direction(), 1e-4), ("Adam-CLARA", cr.adam_direction(), 1e-2)):
        opt = cr.clara(direction, eta0, d="auto")
        r = cr.optimize(f, opt, steps=500, seed=0)
        print(f"\n{label}: eta0 = {eta0:g}, d = {r.state.d:.4f}")
        print("  step      eta        distance")
        for k in (0, 10, 50, 100, 200, 300, 400, 500):
            print(f"  {k:4d}  {r.eta[k]:10.3e}  {r.distance[k]:10.3e}")
    print("\nfixed-rate SGD at 1e-4 ends at distance "
          f"{cr.optimize(f, cr.sgd(1e-4), steps=500, seed=0).distance[-1]:.3e}")
    return 0


def _terminate(signum, frame):
    raise KeyboardInterrupt              # SIGTERM stops a sweep as Ctrl-C does


def main(argv=None) -> int:
    import signal
    import threading

    argv = sys.argv[1:] if argv is None else list(argv)
    ap = _parser()
    args = ap.parse_args(argv)
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        # Ctrl-C and SIGTERM stop a sweep, also when the shell started us with SIGINT ignored (a background job)
        previous = signal.signal(signal.SIGTERM, _terminate), signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if args.command == "reproduce":
            return _reproduce(args, argv)
        return _demo()
    except _Fail as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:            # a summary, report or figure that cannot be written (read-only, disk full)
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot write{where}: {exc.strerror or exc}; finished runs are kept and a rerun resumes",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished runs are kept and a rerun resumes", file=sys.stderr)
        return 130
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous[0])
            signal.signal(signal.SIGINT, previous[1])
