"""C1-C5, the paper's claims on the benchmark (package docstring: ``clara_ref.experiments.claims``)."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from .cells import Cells, _absent, _by_share, _cell, _Reach, _result, _share, _unreachable
from ..optimizers import OPTIMIZERS
from .rules import (CLARA_NAMES, DEFAULT, NOT_AT_BUDGET, NOT_IN_PRESET, ClaimResult, Thresholds)


# ---------------------------------------------------------------------------------------------- C1
def claim_c1(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """C1 over cells (synthetic task, base in {SGD, Adam}, rate): X-CLARA wins a cell when its median final distance
    is lower than X's by more than REL_MARGIN, loses in the reverse case; a cell where neither made progress (halved
    the start distance) is neither. Deciding statistic: wins / (wins + losses)."""
    wins, losses, ties, idle, lost, ratios, stuck = 0, 0, 0, 0, [], [], defaultdict(list)
    reach, outcomes = _Reach(cells, "C1", th), {}
    for base in ("sgd", "adam"):
        for t in cells.claim_tasks(("synthetic",)):
            if not (cells.has(t, base) and cells.has(t, base + "-clara")) or not reach.ok(t, base + "-clara"):
                continue
            start = cells.tasks[t]["initial"]
            for e in cells.common_rates(t, base, base + "-clara"):
                a, b = cells.median(t, base + "-clara", e), cells.median(t, base, e)
                if a > th.progress * start and b > th.progress * start:
                    idle, outcome = idle + 1, "no progress"
                    stuck[(t, base)].append(math.isinf(a))
                elif cells.better(t, a, b, th):
                    wins, outcome = wins + 1, "win"
                elif cells.better(t, b, a, th):
                    losses, outcome = losses + 1, "loss"
                    lost.append(dict(task=t, base=base, rate=e, clara=a, fixed=b))
                else:
                    ties, outcome = ties + 1, "tie"
                outcomes[(t, base, e)] = (outcome, (_cell(t, base + "-clara", e), _cell(t, base, e)))
                if math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0:
                    ratios.append(a / b)
    if wins + losses + ties + idle == 0:
        if reach.left_out:
            return _unreachable("C1", reach, th)
        return _absent("C1", th)
    share = _share(wins, losses)
    if math.isnan(share):
        return _result("C1", "mixed", dict(wins=0, losses=0, ties=ties, no_progress=idle,
                                           not_evaluable=reach.listing()), -th.support_share, th, "no_separation",
                       outcomes)
    gm = math.exp(float(np.mean(np.log(ratios)))) if ratios else math.nan
    no_progress = [dict(task=t, base=base, rates=len(v), clara_diverged=sum(v))
                   for (t, base), v in sorted(stuck.items())]
    return _result("C1", _by_share(share, th), dict(wins=wins, losses=losses, ties=ties, no_progress=idle,
                                                    share=share, geometric_mean_ratio=gm, losses_by_name=lost,
                                                    no_progress_by_name=no_progress, not_evaluable=reach.listing()),
                   share - th.support_share, th, outcomes=outcomes)


# ---------------------------------------------------------------------------------------------- C2
def claim_c2(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """C2: per base optimizer, how many more (task, rate) cells X-CLARA succeeds in than X (success: median
    distance <= 1% of the start, or accuracy >= 90% of the task's best), synthetic and real data apart, on the
    tasks where X-CLARA can move its rate MIN_REACH-fold. Deciding statistic: SGD's gain as a share of its cells;
    supported when it is at least FAR_GAIN and at least Adam's."""
    gains, numbers, outcomes = {}, {}, {}
    reach = _Reach(cells, "C2", th)
    for base in ("sgd", "adam"):
        total = succ_fixed = succ_clara = 0
        for kind, roles in (("synthetic", ("synthetic",)), ("real", ("tabular", "image"))):
            n = f = c = 0
            for t in cells.claim_tasks(roles):
                if not (cells.has(t, base) and cells.has(t, base + "-clara")) or not reach.ok(t, base + "-clara"):
                    continue
                for e in cells.common_rates(t, base, base + "-clara"):
                    sf, sc = cells.success(t, base, e, th), cells.success(t, base + "-clara", e, th)
                    n, f, c = n + 1, f + sf, c + sc
                    outcomes[(t, base, e)] = (f"fixed {int(sf)}, clara {int(sc)}",
                                              (_cell(t, base, e), _cell(t, base + "-clara", e)))
            if n:
                numbers[f"{base}_{kind}"] = dict(cells=n, fixed=f, clara=c, gain=c - f)
            total, succ_fixed, succ_clara = total + n, succ_fixed + f, succ_clara + c
        if total:
            gains[base] = (succ_clara - succ_fixed) / total
            numbers[f"{base}_gain_share"] = gains[base]
    numbers["not_evaluable"] = reach.listing()
    if "sgd" not in gains:
        if any(v["label"] == "sgd-clara" for v in reach.listing()):
            return _unreachable("C2", reach, th, numbers)
        return _absent("C2", th, numbers)
    g_sgd, g_adam = gains["sgd"], gains.get("adam", -math.inf)
    margin = min(g_sgd - th.far_gain, g_sgd - g_adam)
    verdict = "supported" if margin >= 0 else "not supported" if g_sgd <= 0 else "mixed"
    return _result("C2", verdict, numbers, margin, th, outcomes=outcomes)


# ---------------------------------------------------------------------------------------------- C3
def claim_c3(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """C3 on the image tasks. Stability: at every rate where some method's median accuracy reaches ABOVE_CHANCE x
    chance, X-CLARA (X = SGD, Adam) against D-Adaptation by the worst seed (more stable when higher by more than
    STABLE_MARGIN), where X-CLARA can move its rate MIN_REACH-fold. Recovery: at every poor rate (below the smallest
    rate where fixed X succeeds) whose budget lets the rate climb to that rate, does X-CLARA succeed? Supported when
    both shares reach SUPPORT_SHARE."""
    images = cells.claim_tasks(("image",))
    pairs = [(t, b) for t in images for b in ("sgd", "adam")
             if cells.has(t, b + "-clara") and cells.has(t, b) and cells.has(t, "dadapt-adam")]
    if not pairs:
        return _absent("C3", th)
    more = less = same = 0
    stab_cells, spreads, vs_fixed = [], defaultdict(list), {"more": 0, "less": 0, "same": 0}
    rec_ok = rec_fail = blocked = dadapt_ok = 0
    rec_cells, outcomes = [], {}
    reach = _Reach(cells, "C3", th)
    for t, base in pairs:
        clara = base + "-clara"
        chance = cells.tasks[t]["chance"] or 0.0
        rates = cells.common_rates(t, clara, "dadapt-adam") if reach.ok(t, clara) else []
        for e in rates:
            if not any(cells.median(t, lab, e) >= th.above_chance * chance
                       for (tt, lab) in cells.rates_of if tt == t and e in cells.rates_of[(tt, lab)]):
                continue
            wc, wd = cells.worst(t, clara, e), cells.worst(t, "dadapt-adam", e)
            outcome = _stability(wc, wd, th)
            more, less, same = more + (outcome == "more"), less + (outcome == "less"), same + (outcome == "same")
            stab_cells.append(dict(task=t, clara=clara, rate=e, worst_clara=wc, worst_dadapt=wd, outcome=outcome))
            outcomes[("stability", t, clara, e)] = (outcome, (_cell(t, clara, e), _cell(t, "dadapt-adam", e)))
            if e in cells.rates_of[(t, base)]:                       # the same comparison against the fixed rate
                vs_fixed[_stability(wc, cells.worst(t, base, e), th)] += 1
            for lab in (clara, "dadapt-adam", base):
                if e in cells.rates_of[(t, lab)]:
                    spreads[lab].append(cells.spread(t, lab, e))
        # recovery from poor (too small) initial rates
        ok_rates = [e for e in cells.rates_of[(t, base)] if cells.success(t, base, e, th)]
        if not ok_rates:
            continue
        target = min(ok_rates)
        log_up = cells.log_up(t, clara)
        for e in cells.common_rates(t, base, clara):
            if e >= target:
                continue
            reachable = log_up is not None and math.log(e) + log_up >= math.log(target)
            succeeded = cells.success(t, clara, e, th)
            dadapt = e in cells.rates_of[(t, "dadapt-adam")] and cells.success(t, "dadapt-adam", e, th)
            if not reachable:
                blocked += 1
            else:
                rec_ok, rec_fail = rec_ok + succeeded, rec_fail + (not succeeded)
                dadapt_ok += dadapt
                outcomes[("recovery", t, clara, e)] = ("recovered" if succeeded else "not recovered",
                                                       (_cell(t, clara, e), _cell(t, base, e)))
            rec_cells.append(dict(task=t, clara=clara, rate=e, target=target, reachable=reachable,
                                  recovered=bool(succeeded), clara_median=cells.median(t, clara, e),
                                  fixed_median=cells.median(t, base, e), dadapt_succeeded=bool(dadapt)))
    stab = _share(more, less, empty=0.5)
    rec = _share(rec_ok, rec_fail)
    numbers = dict(stability=dict(more=more, less=less, same=same, share=stab, cells=stab_cells,
                                  against_fixed=vs_fixed),
                   median_seed_spread={k: float(np.median(v)) for k, v in spreads.items()},
                   recovery=dict(recovered=rec_ok, not_recovered=rec_fail, beyond_budget=blocked, share=rec,
                                 dadapt_succeeded=dadapt_ok, cells=rec_cells),
                   not_evaluable=reach.listing())
    if rec_ok + rec_fail == 0:
        if blocked or reach.left_out:
            return _result("C3", NOT_AT_BUDGET, numbers, None, th, "beyond_budget", outcomes)
        return _result("C3", NOT_IN_PRESET, numbers, None, th, "no_poor_rate", outcomes)
    margin = min(stab, rec) - th.support_share
    verdict = ("supported" if margin >= 0 else
               "not supported" if max(stab, rec) <= th.reject_share else "mixed")
    return _result("C3", verdict, numbers, margin, th, outcomes=outcomes)


def _stability(worst_a: float, worst_b: float, th: Thresholds = DEFAULT) -> str:
    """Is a more stable than b at a rate, judged by the worst seed?"""
    return ("more" if worst_a > worst_b + th.stable_margin else
            "less" if worst_a < worst_b - th.stable_margin else "same")


# ---------------------------------------------------------------------------------------------- C4
def claim_c4(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """C4 over cells (task, rate), Adam-CLARA against Adam, on the tasks where Adam-CLARA can move its rate
    MIN_REACH-fold: the share of cells where Adam-CLARA is better, at rates <= SMALL_RATE and >= LARGE_RATE.
    Deciding statistic: the gap between the two shares (>= C4_GAP), with the overall share below C4_CEILING
    (otherwise the benefit is not context-dependent)."""
    listed, tally, outcomes = [], defaultdict(lambda: [0, 0]), {}
    reach = _Reach(cells, "C4", th)
    for t in cells.claim_tasks():
        if not (cells.has(t, "adam") and cells.has(t, "adam-clara")) or not reach.ok(t, "adam-clara"):
            continue
        kind = "synthetic" if cells.tasks[t]["role"] == "synthetic" else "real"
        for e in cells.common_rates(t, "adam", "adam-clara"):
            a, b = cells.median(t, "adam-clara", e), cells.median(t, "adam", e)
            outcome = "better" if cells.better(t, a, b, th) else "worse" if cells.better(t, b, a, th) else "same"
            listed.append(dict(task=t, kind=kind, rate=e, clara=a, fixed=b, outcome=outcome))
            outcomes[(t, e)] = (outcome, (_cell(t, "adam-clara", e), _cell(t, "adam", e)))
            for group in ("all", "small" if e <= th.small_rate else "large" if e >= th.large_rate else "middle"):
                tally[group][0] += outcome == "better"
                tally[group][1] += 1
    if not tally["small"][1] or not tally["large"][1]:
        if reach.left_out and not tally["all"][1]:
            return _unreachable("C4", reach, th)
        return _absent("C4", th, dict(not_evaluable=reach.listing()))
    fs, fl, fa = (tally[g][0] / tally[g][1] for g in ("small", "large", "all"))
    gap = fs - fl
    margin = min(gap - th.c4_gap, th.c4_ceiling - fa)
    verdict = "supported" if margin >= 0 else "not supported" if gap <= 0 else "mixed"
    return _result("C4", verdict, dict(small_share=fs, large_share=fl, overall_share=fa, gap=gap, cells=listed,
                                       not_evaluable=reach.listing()), margin, th, outcomes=outcomes)


# ---------------------------------------------------------------------------------------------- C5
def _best(cells: Cells, t: str, labels, low: bool, th: Thresholds):
    """The best median over every rate of ``labels`` on task ``t``, and the cells within the noise margin of it
    (the candidates a resample may make the best)."""
    meds = [(cells.median(t, lab, e), lab, e) for lab in labels for e in cells.rates_of[(t, lab)]]
    best = (min if low else max)(m for m, _, _ in meds)
    near = tuple(_cell(t, lab, e) for m, lab, e in meds
                 if not (cells.better(t, best, m, th) or cells.better(t, m, best, th)))
    return best, near


def claim_c5(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """C5, base by base: per task and base optimizer X, the best median of X over the rates (the tuned fixed rate)
    against the best median of the X-CLARA variants that can move their rate MIN_REACH-fold. A difference within
    the noise margin is a tie; a task where both reach the ceiling (accuracy 1 within ACC_MARGIN) is saturated and
    left out. Supported when the tuned fixed rate wins on at least one (task, base), mixed when it never wins but
    ties on some (it matches CLARA), not supported when CLARA beats it everywhere; margin = fixed wins - 1.

    The pooled comparison (the best of SGD and Adam against the best of every CLARA variant, per task) is given
    beside it in ``numbers["pooled"]``; it hides a base whose CLARA fails behind the other base's."""
    reach = _Reach(cells, "C5", th)
    rows, saturated, outcomes = [], [], {}
    pooled_rows = []
    for t in cells.claim_tasks():
        low = cells.tasks[t]["lower_is_better"]
        pool_fixed, pool_clara = [], []
        for base in ("sgd", "adam"):
            variants = [lab for (tt, lab) in cells.rates_of if tt == t and cells.variant(t, lab) in CLARA_NAMES
                        and OPTIMIZERS[cells.variant(t, lab)].base == base]
            if not cells.has(t, base) or not variants:
                continue
            variants = [lab for lab in sorted(variants) if reach.ok(t, lab)]
            if not variants:
                continue
            pool_fixed.append(base)
            pool_clara += variants
            row = _c5_row(cells, t, [base], variants, low, th)
            if row is None:
                saturated.append(f"{t}/{base}")
                continue
            row["base"] = base
            rows.append(row)
            outcomes[(t, base)] = (row["outcome"], row.pop("near"))
        if pool_fixed:
            pooled = _c5_row(cells, t, pool_fixed, pool_clara, low, th)
            if pooled is not None:
                pooled.pop("near")
                pooled_rows.append(pooled)
    counts = {k: sum(r["outcome"] == k for r in rows) for k in ("fixed", "clara", "tie")}
    pooled_counts = {k: sum(r["outcome"] == k for r in pooled_rows) for k in ("fixed", "clara", "tie")}
    if not rows and not saturated:
        if reach.left_out:
            return _unreachable("C5", reach, th)
        return _absent("C5", th)
    pooled_verdict = _c5_verdict(pooled_counts) if pooled_rows else NOT_IN_PRESET
    numbers = dict(fixed_wins=counts["fixed"], ties=counts["tie"], clara_wins=counts["clara"], saturated=saturated,
                   pairs=rows, pooled=dict(verdict=pooled_verdict, fixed_wins=pooled_counts["fixed"],
                                           ties=pooled_counts["tie"], clara_wins=pooled_counts["clara"],
                                           tasks=pooled_rows),
                   not_evaluable=reach.listing())
    if not rows:
        return _result("C5", NOT_IN_PRESET, numbers, None, th, "saturated")
    return _result("C5", _c5_verdict(counts), numbers, counts["fixed"] - 1, th, outcomes=outcomes)


def _c5_row(cells, t, fixed_labels, clara_labels, low, th):
    bf, near_f = _best(cells, t, fixed_labels, low, th)
    bc, near_c = _best(cells, t, clara_labels, low, th)
    if not low and bf >= 1.0 - th.acc_margin and bc >= 1.0 - th.acc_margin:
        return None
    outcome = "fixed" if cells.better(t, bf, bc, th) else "clara" if cells.better(t, bc, bf, th) else "tie"
    return dict(task=t, tuned_fixed=bf, best_clara=bc, outcome=outcome, near=near_f + near_c)


def _c5_verdict(counts) -> str:
    return "supported" if counts["fixed"] >= 1 else "mixed" if counts["tie"] else "not supported"
