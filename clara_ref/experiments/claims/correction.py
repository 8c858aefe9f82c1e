"""C0, the paper's correction for Adam: the pure-noise half and the benchmark half (package docstring:
``clara_ref.experiments.claims``)."""

from __future__ import annotations

import math

import numpy as np

from .cells import Cells, _absent, _cell, _Reach, _result, _share, _unreachable
from .rules import (ABLATION, ABLATION_EQUAL_D, DEFAULT, NULL_RULES, ClaimResult, Thresholds)


# ---------------------------------------------------------------------------------------------- C0
def _null_half(cells: Cells, th: Thresholds):
    """C0's pure-noise half: for each block size n and each of the three rules, the mean drift of log eta (after
    the burn-in) in units of its spread over seeds. CLARA must stay within NULL_SPREADS, the mismatched pair
    (Adam's steps against the random walk) must drift beyond DRIFT_SPREADS."""
    rows, outcomes = [], {}
    for t in cells.claim_tasks(("null",)):
        n = cells.tasks[t].get("n_params")
        for lab in NULL_RULES:
            for e in cells.rates_of.get((t, lab), []):
                vals = cells.row(t, lab, e)
                if len(vals) < 2:
                    continue
                if np.isfinite(vals).all():
                    drift, spread = float(np.mean(vals)), float(np.std(vals, ddof=1))
                    z = drift / spread if spread > 0 else (0.0 if drift == 0 else math.copysign(math.inf, drift))
                else:      # a run whose rate ran away (diverged) drifts without bound: infinitely many spreads
                    drift = float(np.mean(vals))
                    drift = math.inf if math.isnan(drift) else drift          # runs away in both directions
                    spread, z = math.inf, math.copysign(math.inf, drift)
                outcome = ("within" if abs(z) <= th.null_spreads else
                           "drifts" if abs(z) > th.drift_spreads else "between")
                rows.append(dict(task=t, n=n, rule=lab, seeds=len(vals), drift=drift, spread=spread, z=z,
                                 outcome=outcome))
                if lab != "adam-clara-uncorrected":          # reported beside the verdict, which does not use it
                    outcomes[("null", t, lab)] = (outcome, (_cell(t, lab, e),))
    clara = [r for r in rows if r["rule"] == "adam-clara"]
    mismatched = [r for r in rows if r["rule"] == "adam-clara-mismatched"]
    if not clara or not mismatched:
        return None, outcomes
    worst_clara = max(abs(r["z"]) for r in clara)
    least_mis = min(abs(r["z"]) for r in mismatched)
    margin = min(th.null_spreads - worst_clara, least_mis - th.drift_spreads)
    verdict = ("supported" if margin >= 0 else
               "not supported" if worst_clara > th.drift_spreads or least_mis <= th.null_spreads else "mixed")
    return dict(verdict=verdict, margin=margin, worst_clara_spreads=worst_clara,
                least_mismatched_spreads=least_mis, rows=rows), outcomes


def _pair_half(cells: Cells, th: Thresholds, reach: _Reach, other: str):
    """Adam-CLARA against ``other`` on the benchmark cells where both rules can act: better, worse or the same
    (medians within the noise margin), synthetic and real data apart."""
    groups, listed, outcomes = {}, [], {}
    for kind, roles in (("synthetic", ("synthetic",)), ("real", ("tabular", "image"))):
        wins = losses = ties = 0
        for t in cells.claim_tasks(roles):
            if not (cells.has(t, "adam-clara") and cells.has(t, other)):
                continue
            if not (reach.ok(t, "adam-clara") & reach.ok(t, other)):
                continue
            for e in cells.common_rates(t, "adam-clara", other):
                a, b = cells.median(t, "adam-clara", e), cells.median(t, other, e)
                outcome = "better" if cells.better(t, a, b, th) else "worse" if cells.better(t, b, a, th) else "same"
                wins, losses, ties = wins + (outcome == "better"), losses + (outcome == "worse"), ties + (
                    outcome == "same")
                listed.append(dict(task=t, kind=kind, rate=e, clara=a, uncorrected=b, outcome=outcome))
                outcomes[("pair", other, t, e)] = (outcome, (_cell(t, "adam-clara", e), _cell(t, other, e)))
        if wins + losses + ties:
            groups[kind] = dict(better=wins, worse=losses, same=ties, share=_share(wins, losses))
    return groups, listed, outcomes


def _disagreement(cells: Cells, other: str) -> dict:
    """Per task, the median over (rate, seed) of |ln eta_final(adam-clara) - ln eta_final(other)|: how far apart
    the two rules leave the rate."""
    out = {}
    for t in cells.claim_tasks():
        gaps = []
        for e in cells.common_rates(t, "adam-clara", other):
            a = cells.final_etas.get(_cell(t, "adam-clara", e), [])
            b = cells.final_etas.get(_cell(t, other, e), [])
            gaps += [abs(math.log(x) - math.log(y)) for x, y in zip(a, b) if x > 0 and y > 0]
        if gaps:
            out[t] = float(np.median(gaps))
    return out


def claim_c0(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """C0, the correction, in two halves (each with a verdict and margin; the claim's margin is the smaller):

    * pure noise: CLARA (Adam's steps against Adam's pure-noise reference) keeps log eta within NULL_SPREADS of its
      null spread at every block size, the mismatched pair (Adam's steps against the random walk) drifts beyond
      DRIFT_SPREADS at every one; margin in null spreads;
    * benchmark: Adam-CLARA against the uncorrected rule run at the same speed (``adam-clara-uncorrected-matched``:
      the gradient path against the random walk, d scaled so that both rise at most as fast) on the cells where
      both can act: the share of decided cells Adam-CLARA wins, synthetic and real data apart, must reach
      SUPPORT_SHARE in each (margin: the smaller share minus SUPPORT_SHARE). The same comparison at equal d is
      reported beside it, and the task on which the two rules leave the rate furthest apart is named.

    Supported when both halves are, not supported when neither is and neither is mixed, mixed otherwise; not
    evaluated when the preset lacks either half.
    """
    null, outcomes = _null_half(cells, th)
    reach = _Reach(cells, "C0", th)
    groups, listed, pair_out = _pair_half(cells, th, reach, ABLATION)
    eq_groups, _, _ = _pair_half(cells, th, _Reach(cells, "C0", th), ABLATION_EQUAL_D)
    outcomes.update(pair_out)
    apart = _disagreement(cells, ABLATION)
    named = max(apart, key=apart.get) if apart else None
    bench = None
    decided = {k: g for k, g in groups.items() if g["better"] + g["worse"]}
    if groups:
        if decided:
            margin_b = min(g["share"] for g in decided.values()) - th.support_share
            best = max(g["share"] for g in decided.values())
            verdict_b = "supported" if margin_b >= 0 else "not supported" if best <= th.reject_share else "mixed"
        else:
            margin_b, verdict_b = -th.support_share, "mixed"
        bench = dict(verdict=verdict_b, margin=margin_b, groups=groups, equal_d=eq_groups, cells=listed,
                     disagreement=apart, named_task=named)
    numbers = dict(not_evaluable=reach.listing())
    if null is not None:
        numbers["null"] = null
    if bench is not None:
        numbers["benchmark"] = bench
    parts = {k: numbers[k] for k in ("null", "benchmark") if k in numbers}
    if null is None or bench is None:
        if null is None and bench is None and reach.left_out:
            return _unreachable("C0", reach, th, numbers)
        return _absent("C0", th, numbers)
    numbers["parts"] = {k: dict(verdict=v["verdict"], margin=v["margin"]) for k, v in parts.items()}
    verdicts = [null["verdict"], bench["verdict"]]
    verdict = ("supported" if verdicts == ["supported"] * 2 else
               "not supported" if verdicts == ["not supported"] * 2 else "mixed")
    return _result("C0", verdict, numbers, min(null["margin"], bench["margin"]), th, outcomes=outcomes)
