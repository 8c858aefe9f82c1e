"""D1-D3, the damping preset's claims, d and c swept (package docstring: ``clara_ref.experiments.claims``)."""

from __future__ import annotations

import math
from collections import defaultdict

from .cells import Cells, _absent, _by_share, _cell, _result, _share
from .rules import (CLARA_NAMES, DEFAULT, EXCLUDED_TASKS, MIN_REACH, ClaimResult, Thresholds)


# ---------------------------------------------------------------------------------------------- damping
def _sweep_groups(cells: Cells, axis: str, th: Thresholds, claim: str):
    """{(task, variant, other setting): {value: label}} for the labels of a sweep, read from the records' fields:
    ``axis="d"`` groups the numeric dampings at one path constant, ``axis="c"`` the path constants at one damping
    setting. Values whose rule cannot move the rate MIN_REACH-fold are left out (D1, D3) and returned apart."""
    groups, left_out = defaultdict(dict), []
    for (t, lab), info in sorted(cells.labels.items()):
        if t in EXCLUDED_TASKS or info.get("damping_setting") is None or cells.variant(t, lab) not in CLARA_NAMES:
            continue
        d, c = info["damping_setting"], info.get("c") or 0.2
        if axis == "d":
            if isinstance(d, str):
                continue                  # "auto" is not on the numeric axis
            key, value = (t, info["optimizer"], c), float(d)
        else:
            key, value = (t, info["optimizer"], str(d)), float(c)
        if claim in MIN_REACH and not cells.can_act(t, lab, th.min_reach(claim)):
            left_out.append(dict(task=t, label=lab, reach=math.exp(min(cells.reach(t, lab) or 0.0, 700.0)),
                                 needed=th.min_reach(claim)))
            continue
        groups[key][value] = lab
    return {k: v for k, v in groups.items() if len(v) >= 2}, left_out


def _robust_across(cells: Cells, th: Thresholds, axis: str, claim: str) -> ClaimResult:
    groups, left_out = _sweep_groups(cells, axis, th, claim)
    if not groups:
        return _absent(claim, th, dict(not_evaluable=left_out))
    rows, outcomes = [], {}
    for (t, variant, other), by_value in sorted(groups.items()):
        counts = {v: sum(cells.success(t, lab, e, th) for e in cells.rates_of[(t, lab)])
                  for v, lab in by_value.items()}
        robust = max(counts.values()) - min(counts.values()) <= th.d1_spread
        rows.append(dict(task=t, variant=variant, at=other, successes={f"{v:g}": n for v, n in sorted(counts.items())},
                         robust=robust))
        outcomes[(t, variant, other)] = ("robust" if robust else "not robust",
                                         tuple(_cell(t, lab, e) for lab in by_value.values()
                                               for e in cells.rates_of[(t, lab)]))
    share = sum(r["robust"] for r in rows) / len(rows)
    return _result(claim, _by_share(share, th), dict(share=share, pairs=rows, not_evaluable=left_out),
                   share - th.support_share, th, outcomes=outcomes)


def claim_d1(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """D1: per (task, CLARA variant, c), the number of successful initial rates at each numeric d whose rule can
    move the rate MIN_REACH-fold; robust when it changes by at most D1_SPREAD. Deciding statistic: the share of
    robust pairs."""
    return _robust_across(cells, th, "d", "D1")


def claim_d3(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """D3: per (task, CLARA variant, d setting), the number of successful initial rates at each path constant c
    (where the rule can move the rate MIN_REACH-fold); robust when it changes by at most D1_SPREAD."""
    return _robust_across(cells, th, "c", "D3")


def claim_d2(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """D2: per (task, CLARA variant, c), the smallest successful initial rate at the largest numeric d against that
    at the smallest d. A win when it is smaller (or only the larger d succeeds anywhere), a loss when larger."""
    groups, _ = _sweep_groups(cells, "d", th, "D2")
    if not groups:
        return _absent("D2", th)
    wins = losses = 0
    rows, outcomes = [], {}
    for (t, variant, c), by_d in sorted(groups.items()):
        lo_d, hi_d = min(by_d), max(by_d)

        def smallest(lab):
            ok = [e for e in cells.rates_of[(t, lab)] if cells.success(t, lab, e, th)]
            return min(ok) if ok else math.inf

        a, b = smallest(by_d[hi_d]), smallest(by_d[lo_d])
        outcome = "win" if a < b else "loss" if a > b else "tie"
        wins, losses = wins + (outcome == "win"), losses + (outcome == "loss")
        rows.append(dict(task=t, variant=variant, c=c, d_small=lo_d, d_large=hi_d, smallest_ok_small_d=b,
                         smallest_ok_large_d=a, outcome=outcome))
        outcomes[(t, variant, c)] = (outcome, tuple(_cell(t, lab, e) for lab in (by_d[lo_d], by_d[hi_d])
                                                    for e in cells.rates_of[(t, lab)]))
    share = _share(wins, losses)
    if math.isnan(share):
        return _result("D2", "mixed", dict(pairs=rows), -th.support_share, th, "no_separation", outcomes)
    return _result("D2", _by_share(share, th), dict(share=share, pairs=rows), share - th.support_share, th,
                   outcomes=outcomes)
