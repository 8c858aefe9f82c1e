"""Every claim at once: verdicts, robustness over seed-bootstrap resamples, deciding cells, and each verdict over
the stated range of each threshold (package docstring: ``clara_ref.experiments.claims``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import fields, replace

import numpy as np

from .beyond import claim_c6, claim_c7
from ..optimizers import SCHEDULE_NAMES
from .cells import Cells
from .correction import claim_c0
from .paper import claim_c1, claim_c2, claim_c3, claim_c4, claim_c5
from .rules import (DECIDING_SHARE, DEFAULT, NOT_IN_PRESET, RESAMPLES, THRESHOLD_RANGES, UNDECIDED, ClaimResult,
                    Thresholds)
from .sweep import _sweep_groups, claim_d1, claim_d2, claim_d3

CLAIM_FUNCTIONS = {"C0": claim_c0, "C1": claim_c1, "C2": claim_c2, "C3": claim_c3, "C4": claim_c4, "C5": claim_c5,
                   "C6": claim_c6, "C7": claim_c7, "D1": claim_d1, "D2": claim_d2, "D3": claim_d3}


def default_claims(cells: Cells) -> list:
    """C0-C5, C6 when the records hold a drifting task, C7 when they hold a schedule on a stationary task, and D1-D3
    when they hold a damping (path constant) sweep."""
    out = ["C0", "C1", "C2", "C3", "C4", "C5"]
    if cells.claim_tasks(("drift",)):
        out += ["C6"]
    if any(cells.variant(t, lab) in SCHEDULE_NAMES for t, lab in cells.rates_of if t in cells.claim_tasks()):
        out += ["C7"]
    if _sweep_groups(cells, "d", DEFAULT, "D2")[0]:
        out += ["D1", "D2"]
    if _sweep_groups(cells, "c", DEFAULT, "D3")[0]:
        out += ["D3"]
    return out


def _parts(res: ClaimResult) -> dict:
    return {k: v["verdict"] for k, v in res.numbers.get("parts", {}).items()}


def evaluate(records, resamples: int = RESAMPLES, seed: int = 0, claims=None, th: Thresholds = DEFAULT,
             cells: Cells | None = None) -> list[ClaimResult]:
    """Every claim's verdict on ``records``, with its robustness over ``resamples`` seed-bootstrap resamples
    (drawn from ``numpy.random.default_rng(seed)``), the robustness of each part of a claim that has parts (C0)
    in ``numbers["parts"]``, and each claim's deciding cells: those whose outcome changes in at least
    DECIDING_SHARE of all resamples, and those whose outcome changes in at least DECIDING_SHARE of the resamples in
    which the claim's verdict (or a part's) changes (several cells that each flip rarely can together make a
    verdict fragile: C0's null half rests on four block sizes at once). ``claims``: ids to evaluate (default:
    C0-C5, and D1-D3 when the records hold a sweep)."""
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 0:
        raise ValueError(f"resamples must be a non-negative int, got {resamples!r}")
    cells = Cells.from_records(records) if cells is None else cells
    if claims is None:
        claims = default_claims(cells)
    results = [CLAIM_FUNCTIONS[c](cells, th) for c in claims]
    rng = np.random.default_rng(seed)
    same = np.zeros(len(results))
    changed = np.zeros(len(results))
    part_same = [defaultdict(int) for _ in results]
    flips = [defaultdict(int) for _ in results]
    flips_when_changed = [defaultdict(int) for _ in results]
    for _ in range(resamples):
        boot = cells.resample(rng)
        for i, (c, res) in enumerate(zip(claims, results)):
            if res.verdict == NOT_IN_PRESET:
                continue
            b = CLAIM_FUNCTIONS[c](boot, th)
            same[i] += b.verdict == res.verdict
            parts_same = True
            for name, verdict in _parts(res).items():
                part_same[i][name] += _parts(b).get(name) == verdict
                parts_same = parts_same and _parts(b).get(name) == verdict
            change = b.verdict != res.verdict or not parts_same
            changed[i] += change
            for key, (outcome, _) in res.outcomes.items():
                if b.outcomes.get(key, (outcome,))[0] != outcome:
                    flips[i][key] += 1
                    flips_when_changed[i][key] += change
    out = []
    for i, res in enumerate(results):
        robust = None if res.verdict in UNDECIDED or not resamples else float(same[i] / resamples)
        numbers = res.numbers
        if "parts" in numbers and resamples:
            numbers = dict(numbers, parts={k: dict(v, robustness=part_same[i][k] / resamples)
                                           for k, v in numbers["parts"].items()})
        keys = {key for key, n in flips[i].items() if n >= DECIDING_SHARE * resamples}
        keys |= {key for key, n in flips_when_changed[i].items() if n >= DECIDING_SHARE * changed[i] > 0}
        deciding = tuple(sorted({cell for key in keys for cell in res.outcomes[key][1]})) if resamples else ()
        seeds = max((int(cells.counts[cells.index[cell]]) for _, cs in res.outcomes.values() for cell in cs
                     if cell in cells.index), default=None)
        out.append(res._replace(robustness=robust, numbers=numbers, deciding=deciding, seeds=seeds))
    return out


def threshold_sweep(records, cells: Cells | None = None) -> dict:
    """For each threshold of THRESHOLD_RANGES, the verdicts of the claims that use it (and that these records can
    evaluate) at every value of its range (the others at their defaults; no bootstrap): {name: {"default": value,
    "values": [...], "verdicts": {claim: [verdict at each value]}}}. Where a verdict changes along a row, the
    report says at which value."""
    cells = Cells.from_records(records) if cells is None else cells
    present = {c for c in default_claims(cells) if CLAIM_FUNCTIONS[c](cells).verdict != NOT_IN_PRESET}
    out = {}
    for name, (values, claims) in THRESHOLD_RANGES.items():
        claims = [c for c in claims if c in present]
        if not claims:
            continue
        verdicts = {c: [] for c in claims}
        for v in values:
            th = replace(DEFAULT, **{name: v})
            for c in claims:
                verdicts[c].append(CLAIM_FUNCTIONS[c](cells, th).verdict)
        out[name] = dict(default=getattr(DEFAULT, name), values=list(values), verdicts=verdicts)
    return out


def threshold_names() -> list:
    """The names of every threshold (the fields of :class:`Thresholds`)."""
    return [f.name for f in fields(Thresholds)]
