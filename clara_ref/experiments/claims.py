"""The CLARA paper's claims as pure functions of run records: one function per claim, thresholds named below.

Each claim of arXiv 2508.05408 (and two of its damping study) becomes a verdict with the numbers behind it:

C1  CLARA reduces the final distance to the optimum on synthetic benchmarks compared with the same optimizer at a
    fixed rate.
C2  CLARA is far more robust to the initial learning rate, especially for SGD.
C3  On harder (image) tasks CLARA is more stable than D-Adaptation and recovers from poor initial rates.
C4  For Adam the benefit is context-dependent, mainly recovery from too-small rates.
C5  A well-tuned fixed rate can still win.
D1  (damping preset) CLARA's robustness to the initial rate holds across the damping d.
D2  (damping preset) A larger d lets CLARA recover from smaller initial rates.

How a verdict is made. Every claim compares *cells*: one (task, optimizer, initial rate) with the final metric of
each seed, summarised by the median over seeds (the worst seed for C3's stability). A claim's deciding statistic
(a share of cells, a gap between shares, a count of tasks) is compared with the thresholds below:
"supported", "mixed" or "not supported". A claim whose runs are absent is "not evaluated in this preset"; a claim
whose cells exist but whose step budget cannot move the rate far enough to test it is "not evaluable at this step
budget", never "not supported".

``margin`` is the signed distance of the deciding statistic from the threshold of "supported" (positive: on the
supported side; for a claim with two conditions, the smaller of the two distances). ``robustness`` is the share of
seed-bootstrap resamples that give the same verdict: each resample redraws, independently in every cell, as many
seeds as the cell has, with replacement, and reruns the same claim function. A verdict that holds in fewer than
``ROBUST_SHARE`` of the resamples is "borderline".

The axis-aligned ``ellipsoid`` stays in the report's tables (it is the paper's task) but no claim counts it: Adam
is invariant to per-coordinate scaling, and x0 is equal in every coordinate, so for Adam it repeats the sphere.
``ellipsoid_rotated`` takes its place.

The functions read only the records (see ``clara_ref.experiments.runner.run_one`` for their fields); nothing here
touches files, so every claim can be checked on small hand-made records (tests/test_claims.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import NamedTuple

import numpy as np

__all__ = ["ClaimResult", "Cells", "evaluate", "claim_c1", "claim_c2", "claim_c3", "claim_c4", "claim_c5",
           "claim_d1", "claim_d2", "log_rate_range", "identical_tasks", "CLAIM_FUNCTIONS", "EXCLUDED_TASKS"]

# ---------------------------------------------------------------------------------------------- thresholds
#: a share of decided cells at or above this supports a claim: at least two cells for the claim per cell against
SUPPORT_SHARE = 2 / 3
#: a share at or below this rejects it: the opposite two-to-one majority
REJECT_SHARE = 1 / 3
#: C1: a synthetic run made progress if its median final distance is at most this share of the initial distance
PROGRESS = 0.5
#: C2, C3: success on a synthetic task is a median final distance at most this share of the initial distance
SUCCESS_DISTANCE = 0.01
#: C2, C3: success on a classification task is a median accuracy at least this share of the task's best median
SUCCESS_ACCURACY = 0.9
#: C2: "far more robust" means CLARA succeeds at this share of all cells more than the fixed rate does
FAR_GAIN = 0.2
#: distance cells: one method is better when its median is lower by more than this relative amount (noise floor)
REL_MARGIN = 0.1
#: accuracy cells: one method is better when its median is higher by more than this (half a point; the digits test
#: set has 360 images, so one image is 0.28 points)
ACC_MARGIN = 0.005
#: C3: a rate counts for stability when some method's median accuracy reaches this multiple of chance
ABOVE_CHANCE = 2.0
#: C3: one method is more stable at a rate when its worst seed is higher by more than this (one point)
STABLE_MARGIN = 0.01
#: C4: rates at or below this are "too small", at or above LARGE_RATE "large"
SMALL_RATE = 1e-4
LARGE_RATE = 1e-2
#: C4: the share of better cells at small rates must exceed that at large rates by at least this
C4_GAP = 0.2
#: C4: "context-dependent" means Adam-CLARA is not better almost everywhere: overall share below this
C4_CEILING = 0.9
#: D1: robustness holds across d when the number of successful rates changes by at most this many between d's
D1_SPREAD = 1
#: a verdict that holds in fewer than this share of bootstrap resamples is shown as borderline
ROBUST_SHARE = 0.9

#: tasks no claim counts (see the module docstring), with the task that takes their place
EXCLUDED_TASKS = {"ellipsoid": "ellipsoid_rotated"}
CLARA_NAMES = ("sgd-clara", "sgd-clara-us", "adam-clara", "adam-clara-us")

NOT_IN_PRESET = "not evaluated in this preset"
NOT_AT_BUDGET = "not evaluable at this step budget"
UNDECIDED = (NOT_IN_PRESET, NOT_AT_BUDGET)


class ClaimResult(NamedTuple):
    """One claim's verdict. ``numbers``: the statistics behind it (JSON-ready; cells listed where the claim rests on
    them); ``summary``: the same in one sentence; ``margin``: signed distance of the deciding statistic from the
    threshold of "supported"; ``robustness``: share of seed-bootstrap resamples with the same verdict (None when not
    evaluated)."""

    id: str
    text: str
    verdict: str
    numbers: dict
    margin: float | None
    robustness: float | None
    summary: str

    @property
    def borderline(self) -> bool:
        return self.robustness is not None and self.robustness < ROBUST_SHARE


TEXTS = {
    "C1": "CLARA reduces the final distance to the optimum on synthetic benchmarks compared with the same optimizer "
          "at a fixed rate",
    "C2": "CLARA is far more robust to the initial learning rate, especially for SGD",
    "C3": "On harder image tasks CLARA is more stable than D-Adaptation and recovers from poor initial rates",
    "C4": "For Adam the benefit is context-dependent, mainly recovery from too-small rates",
    "C5": "A well-tuned fixed rate can still win",
    "D1": "CLARA's robustness to the initial rate holds across the damping d",
    "D2": "A larger damping d lets CLARA recover from smaller initial rates",
}


# ---------------------------------------------------------------------------------------------- cells
class Cells:
    """Final metrics grouped by (task, label, initial rate), one row per cell and one column per seed (NaN-padded),
    with what the claims need to know of each task and of each (task, label)."""

    def __init__(self, keys, values, tasks, labels):
        self.keys = list(keys)
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.values = values
        self.tasks = tasks            # task -> dict(role, lower_is_better, chance, initial, steps_total)
        self.labels = labels          # (task, label) -> dict(damping, reference, n_blocks)
        self.counts = np.sum(~np.isnan(values), axis=1)
        with np.errstate(invalid="ignore"):
            self.med = np.nanmedian(values, axis=1) if len(keys) else np.zeros(0)
            self.lo = np.nanmin(values, axis=1) if len(keys) else np.zeros(0)
        self.rates_of = defaultdict(list)
        for t, lab, e in self.keys:
            self.rates_of[(t, lab)].append(e)
        for k in self.rates_of:
            self.rates_of[k].sort()

    @classmethod
    def from_records(cls, records) -> "Cells":
        groups = defaultdict(list)
        tasks, labels, initial = {}, {}, defaultdict(list)
        for r in records:
            if r.get("error"):
                continue              # a run that raised is no evidence either way (the report lists it)
            groups[(r["task"], r["label"], float(r["eta0"]))].append((r["seed"], float(r["final_metric"])))
            tasks.setdefault(r["task"], dict(role=r["role"], lower_is_better=bool(r["lower_is_better"]),
                                             chance=r.get("chance"), steps_total=int(r["steps_total"])))
            if r.get("metric") and r["metric"][0] is not None:
                initial[r["task"]].append(float(r["metric"][0]))
            labels.setdefault((r["task"], r["label"]), dict(damping=r.get("damping"), reference=r.get("reference"),
                                                            n_blocks=r.get("n_blocks")))
        for t in tasks:
            tasks[t]["initial"] = float(np.median(initial[t])) if initial[t] else math.nan
        keys = sorted(groups, key=lambda k: (k[0], k[1], k[2]))
        width = max((len(v) for v in groups.values()), default=0)
        values = np.full((len(keys), width), np.nan)
        for i, k in enumerate(keys):
            vals = [v for _, v in sorted(groups[k])]
            values[i, :len(vals)] = vals
        return cls(keys, values, tasks, labels)

    def resample(self, rng: np.random.Generator) -> "Cells":
        """A seed-bootstrap copy: every cell redraws its own seeds with replacement."""
        n, width = self.values.shape
        draw = np.floor(rng.random((n, width)) * self.counts[:, None]).astype(int)
        new = np.take_along_axis(self.values, draw, axis=1)
        new[np.arange(width)[None, :] >= self.counts[:, None]] = np.nan
        return Cells(self.keys, new, self.tasks, self.labels)

    # -- look-ups
    def has(self, task, label) -> bool:
        return (task, label) in self.rates_of

    def median(self, task, label, rate) -> float:
        return float(self.med[self.index[(task, label, rate)]])

    def worst(self, task, label, rate) -> float:
        """The worst seed (lowest accuracy; classification tasks only)."""
        return float(self.lo[self.index[(task, label, rate)]])

    def spread(self, task, label, rate) -> float:
        row = self.values[self.index[(task, label, rate)]]
        row = row[~np.isnan(row)]
        return float(row.max() - row.min())

    def claim_tasks(self, kinds=None) -> list:
        """Tasks a claim counts, in a stable order: ``kinds`` filters by role ("synthetic", "tabular", "image")."""
        return [t for t in sorted(self.tasks) if t not in EXCLUDED_TASKS
                and (kinds is None or self.tasks[t]["role"] in kinds)]

    def common_rates(self, task, a, b) -> list:
        return sorted(set(self.rates_of[(task, a)]) & set(self.rates_of[(task, b)]))

    def better(self, task, a: float, b: float) -> bool:
        """Is the median ``a`` better than ``b`` by more than the noise margin of the task's metric?"""
        if self.tasks[task]["lower_is_better"]:
            if math.isinf(a):
                return False
            return math.isinf(b) or a < b * (1.0 - REL_MARGIN)
        return a > b + ACC_MARGIN

    def success(self, task, label, rate) -> bool:
        """Did this cell succeed? Synthetic: median distance <= 1% of the start; else >= 90% of the task's best."""
        m = self.median(task, label, rate)
        info = self.tasks[task]
        if info["lower_is_better"]:
            return m <= SUCCESS_DISTANCE * info["initial"]
        return m >= SUCCESS_ACCURACY * self.best(task)

    def best(self, task) -> float:
        rows = [i for i, k in enumerate(self.keys) if k[0] == task]
        return float(np.max(self.med[rows]))

    def log_up(self, task, label) -> float | None:
        """log of the largest factor by which this label's rate can rise over the task's budget (None: no rule)."""
        info = self.labels.get((task, label), {})
        return log_rate_range(info.get("damping"), info.get("reference"), info.get("n_blocks"),
                              self.tasks[task]["steps_total"])


def log_rate_range(damping, reference, n_blocks, steps) -> float | None:
    """log of the largest factor a path rule can raise eta by in ``steps`` steps: d (K/ref - 1) T.

    P = sum_b |p_b|^2 is at most K (every block's path a unit vector), so each step multiplies eta by at most
    exp(d (K/ref - 1)). For SGD-CLARA with one block (ref = c/(2-c) = 1/9): 8 d per step.

    >>> round(log_rate_range(1e-3, 1 / 9, 1, 1000), 6)
    8.0
    """
    if damping is None or reference is None or n_blocks is None or not reference > 0:
        return None
    return float(damping) * (n_blocks / float(reference) - 1.0) * steps


def _share(wins, losses, empty=math.nan) -> float:
    return wins / (wins + losses) if wins + losses else empty


def _by_share(share) -> str:
    return "supported" if share >= SUPPORT_SHARE else "not supported" if share <= REJECT_SHARE else "mixed"


def _result(cid, verdict, numbers, margin, summary) -> ClaimResult:
    return ClaimResult(cid, TEXTS[cid], verdict, numbers, None if margin is None else float(margin), None, summary)


def _absent(cid, why) -> ClaimResult:
    return _result(cid, NOT_IN_PRESET, {}, None, why)


def _rate(e) -> str:
    return f"{e:g}"


def _fmt(x) -> str:
    return "diverged" if isinstance(x, float) and math.isinf(x) else f"{x:.4g}"


# ---------------------------------------------------------------------------------------------- C1
def claim_c1(cells: Cells) -> ClaimResult:
    """C1 over cells (synthetic task, base in {SGD, Adam}, rate): X-CLARA wins a cell when its median final distance
    is lower than X's by more than REL_MARGIN, loses in the reverse case; a cell where neither made progress (halved
    the start distance) is neither. Deciding statistic: wins / (wins + losses)."""
    wins, losses, ties, idle, lost, ratios, stuck = 0, 0, 0, 0, [], [], defaultdict(list)
    for base in ("sgd", "adam"):
        for t in cells.claim_tasks({"synthetic"}):
            if not (cells.has(t, base) and cells.has(t, base + "-clara")):
                continue
            start = cells.tasks[t]["initial"]
            for e in cells.common_rates(t, base, base + "-clara"):
                a, b = cells.median(t, base + "-clara", e), cells.median(t, base, e)
                if a > PROGRESS * start and b > PROGRESS * start:
                    idle += 1
                    stuck[(t, base)].append(math.isinf(a))
                elif cells.better(t, a, b):
                    wins += 1
                elif cells.better(t, b, a):
                    losses += 1
                    lost.append(dict(task=t, base=base, rate=e, clara=a, fixed=b))
                else:
                    ties += 1
                if math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0:
                    ratios.append(a / b)
    if wins + losses + ties + idle == 0:
        return _absent("C1", "needs SGD/Adam and their CLARA variants on a synthetic task")
    share = _share(wins, losses)
    if math.isnan(share):
        return _result("C1", "mixed", dict(wins=0, losses=0, ties=ties, no_progress=idle), SUPPORT_SHARE * -1,
                       "no cell separates CLARA from the fixed rate")
    gm = math.exp(float(np.mean(np.log(ratios)))) if ratios else math.nan
    loss_names = "; ".join(f"{c['task']}/{c['base']} at {_rate(c['rate'])} ({_fmt(c['clara'])} vs "
                           f"{_fmt(c['fixed'])})" for c in lost)
    idle_names = "; ".join(f"{t}/{base} at {len(v)} rates (CLARA diverged at {sum(v)})"
                           for (t, base), v in sorted(stuck.items()))
    summary = (f"CLARA wins {wins}, loses {losses} of {wins + losses} decided (task, base, rate) cells "
               f"(share {share:.2f}); {ties} ties; geometric-mean ratio CLARA/fixed {gm:.3g}"
               + (f"; losses: {loss_names}" if lost else "")
               + (f"; neither halved the distance (neither a win nor a loss): {idle_names}" if stuck else ""))
    no_progress = [dict(task=t, base=base, rates=len(v), clara_diverged=sum(v))
                   for (t, base), v in sorted(stuck.items())]
    return _result("C1", _by_share(share), dict(wins=wins, losses=losses, ties=ties, no_progress=idle, share=share,
                                                geometric_mean_ratio=gm, losses_by_name=lost,
                                                no_progress_by_name=no_progress),
                   share - SUPPORT_SHARE, summary)


# ---------------------------------------------------------------------------------------------- C2
def claim_c2(cells: Cells) -> ClaimResult:
    """C2: per base optimizer, how many more (task, rate) cells X-CLARA succeeds in than X (success: median
    distance <= 1% of the start, or accuracy >= 90% of the task's best), synthetic and real data apart. Deciding
    statistic: SGD's gain as a share of its cells; supported when it is at least FAR_GAIN and at least Adam's."""
    gains, numbers, parts = {}, {}, []
    for base in ("sgd", "adam"):
        total = succ_fixed = succ_clara = 0
        for kind, roles in (("synthetic", {"synthetic"}), ("real", {"tabular", "image"})):
            n = f = c = 0
            for t in cells.claim_tasks(roles):
                if not (cells.has(t, base) and cells.has(t, base + "-clara")):
                    continue
                for e in cells.common_rates(t, base, base + "-clara"):
                    n += 1
                    f += cells.success(t, base, e)
                    c += cells.success(t, base + "-clara", e)
            if n:
                numbers[f"{base}_{kind}"] = dict(cells=n, fixed=f, clara=c, gain=c - f)
                parts.append(f"{base} {kind}: fixed {f}, CLARA {c} of {n}")
            total, succ_fixed, succ_clara = total + n, succ_fixed + f, succ_clara + c
        if total:
            gains[base] = (succ_clara - succ_fixed) / total
            numbers[f"{base}_gain_share"] = gains[base]
    if "sgd" not in gains:
        return _absent("C2", "needs SGD and SGD-CLARA")
    g_sgd, g_adam = gains["sgd"], gains.get("adam", -math.inf)
    margin = min(g_sgd - FAR_GAIN, g_sgd - g_adam)
    verdict = "supported" if margin >= 0 else "not supported" if g_sgd <= 0 else "mixed"
    summary = ("successful (task, rate) cells, " + "; ".join(parts) + f". Gain as a share of the cells: SGD "
               f"{g_sgd:+.2f}" + (f", Adam {g_adam:+.2f}" if "adam" in gains else "") +
               f" (far more: >= {FAR_GAIN}, and SGD's at least Adam's)")
    return _result("C2", verdict, numbers, margin, summary)


# ---------------------------------------------------------------------------------------------- C3
def claim_c3(cells: Cells) -> ClaimResult:
    """C3 on the image tasks. Stability: at every rate where some method's median accuracy reaches ABOVE_CHANCE x
    chance, X-CLARA (X = SGD, Adam) against D-Adaptation by the worst seed (more stable when higher by more than
    STABLE_MARGIN). Recovery: at every poor rate (below the smallest rate where fixed X succeeds) whose budget lets
    the rate climb to that rate, does X-CLARA succeed? Supported when both shares reach SUPPORT_SHARE."""
    images = cells.claim_tasks({"image"})
    pairs = [(t, b) for t in images for b in ("sgd", "adam")
             if cells.has(t, b + "-clara") and cells.has(t, b) and cells.has(t, "dadapt-adam")]
    if not pairs:
        return _absent("C3", "needs an image task with D-Adaptation, a fixed rate and its CLARA variant")
    more = less = same = 0
    stab_cells, spreads, vs_fixed = [], defaultdict(list), {"more": 0, "less": 0, "same": 0}
    rec_ok = rec_fail = blocked = dadapt_ok = 0
    rec_cells = []
    for t, base in pairs:
        clara = base + "-clara"
        chance = cells.tasks[t]["chance"] or 0.0
        rates = cells.common_rates(t, clara, "dadapt-adam")
        for e in rates:
            if not any(cells.median(t, lab, e) >= ABOVE_CHANCE * chance
                       for (tt, lab) in cells.rates_of if tt == t and e in cells.rates_of[(tt, lab)]):
                continue
            wc, wd = cells.worst(t, clara, e), cells.worst(t, "dadapt-adam", e)
            outcome = _stability(wc, wd)
            more, less, same = more + (outcome == "more"), less + (outcome == "less"), same + (outcome == "same")
            stab_cells.append(dict(task=t, clara=clara, rate=e, worst_clara=wc, worst_dadapt=wd, outcome=outcome))
            if e in cells.rates_of[(t, base)]:                       # the same comparison against the fixed rate
                vs_fixed[_stability(wc, cells.worst(t, base, e))] += 1
            for lab in (clara, "dadapt-adam", base):
                if e in cells.rates_of[(t, lab)]:
                    spreads[lab].append(cells.spread(t, lab, e))
        # recovery from poor (too small) initial rates
        ok_rates = [e for e in cells.rates_of[(t, base)] if cells.success(t, base, e)]
        if not ok_rates:
            continue
        target = min(ok_rates)
        log_up = cells.log_up(t, clara)
        for e in cells.common_rates(t, base, clara):
            if e >= target:
                continue
            reachable = log_up is not None and math.log(e) + log_up >= math.log(target)
            succeeded = cells.success(t, clara, e)
            dadapt = e in cells.rates_of[(t, "dadapt-adam")] and cells.success(t, "dadapt-adam", e)
            if not reachable:
                blocked += 1
            else:
                rec_ok, rec_fail = rec_ok + succeeded, rec_fail + (not succeeded)
                dadapt_ok += dadapt
            rec_cells.append(dict(task=t, clara=clara, rate=e, target=target, reachable=reachable,
                                  recovered=bool(succeeded), clara_median=cells.median(t, clara, e),
                                  fixed_median=cells.median(t, base, e), dadapt_succeeded=bool(dadapt)))
    stab = _share(more, less, empty=0.5)
    rec = _share(rec_ok, rec_fail)
    numbers = dict(stability=dict(more=more, less=less, same=same, share=stab, cells=stab_cells,
                                  against_fixed=vs_fixed),
                   median_seed_spread={k: float(np.median(v)) for k, v in spreads.items()},
                   recovery=dict(recovered=rec_ok, not_recovered=rec_fail, beyond_budget=blocked, share=rec,
                                 dadapt_succeeded=dadapt_ok, cells=rec_cells))
    stab_txt = (f"stability: CLARA's worst seed beats D-Adaptation's at {more}, trails at {less}, ties at {same} "
                f"(task, variant, rate) cells above chance (share {stab:.2f}); against the fixed rate it beats, "
                f"trails, ties at {vs_fixed['more']}, {vs_fixed['less']}, {vs_fixed['same']}; median seed spread " +
                ", ".join(f"{k} {v:.3f}" for k, v in numbers["median_seed_spread"].items()))
    if rec_ok + rec_fail == 0:
        if blocked:
            return _result("C3", NOT_AT_BUDGET, numbers, None,
                           f"{stab_txt}; recovery: none of the {blocked} poor-rate cells can climb to a successful "
                           "fixed rate within the step budget")
        return _result("C3", NOT_IN_PRESET, numbers, None,
                       f"{stab_txt}; recovery: no initial rate is poor for the fixed optimizer here")
    rec_txt = (f"recovery: CLARA succeeds at {rec_ok} of {rec_ok + rec_fail} poor rates it can climb from "
               f"(share {rec:.2f}; {blocked} more beyond the budget; D-Adaptation succeeds at {dadapt_ok} of them)")
    margin = min(stab, rec) - SUPPORT_SHARE
    verdict = ("supported" if margin >= 0 else
               "not supported" if max(stab, rec) <= REJECT_SHARE else "mixed")
    return _result("C3", verdict, numbers, margin, f"{stab_txt}; {rec_txt}")


def _stability(worst_a: float, worst_b: float) -> str:
    """Is a more stable than b at a rate, judged by the worst seed?"""
    return "more" if worst_a > worst_b + STABLE_MARGIN else "less" if worst_a < worst_b - STABLE_MARGIN else "same"


# ---------------------------------------------------------------------------------------------- C4
def claim_c4(cells: Cells) -> ClaimResult:
    """C4 over cells (task, rate), Adam-CLARA against Adam: the share of cells where Adam-CLARA is better, at rates
    <= SMALL_RATE and >= LARGE_RATE. Deciding statistic: the gap between the two shares (>= C4_GAP), with the
    overall share below C4_CEILING (otherwise the benefit is not context-dependent)."""
    listed, tally = [], defaultdict(lambda: [0, 0])
    for t in cells.claim_tasks():
        if not (cells.has(t, "adam") and cells.has(t, "adam-clara")):
            continue
        kind = "synthetic" if cells.tasks[t]["role"] == "synthetic" else "real"
        for e in cells.common_rates(t, "adam", "adam-clara"):
            a, b = cells.median(t, "adam-clara", e), cells.median(t, "adam", e)
            outcome = "better" if cells.better(t, a, b) else "worse" if cells.better(t, b, a) else "same"
            listed.append(dict(task=t, kind=kind, rate=e, clara=a, fixed=b, outcome=outcome))
            for group in ("all", "small" if e <= SMALL_RATE else "large" if e >= LARGE_RATE else "middle"):
                tally[group][0] += outcome == "better"
                tally[group][1] += 1
    if not tally["small"][1] or not tally["large"][1]:
        return _absent("C4", "needs Adam and Adam-CLARA at small and at large rates")
    fs, fl, fa = (tally[g][0] / tally[g][1] for g in ("small", "large", "all"))
    gap = fs - fl
    margin = min(gap - C4_GAP, C4_CEILING - fa)
    verdict = "supported" if margin >= 0 else "not supported" if gap <= 0 else "mixed"

    def better_cells(kind):
        return ", ".join(f"{c['task']} {_rate(c['rate'])}" for c in listed if c["kind"] == kind
                         and c["outcome"] == "better") or "none"

    summary = (f"Adam-CLARA better than Adam in {tally['small'][0]}/{tally['small'][1]} cells at rates <= "
               f"{SMALL_RATE:g}, {tally['large'][0]}/{tally['large'][1]} at >= {LARGE_RATE:g}, "
               f"{tally['all'][0]}/{tally['all'][1]} overall (gap {gap:+.2f}); better cells, synthetic: "
               f"{better_cells('synthetic')}; real data: {better_cells('real')}")
    return _result("C4", verdict, dict(small_share=fs, large_share=fl, overall_share=fa, gap=gap, cells=listed),
                   margin, summary)


# ---------------------------------------------------------------------------------------------- C5
def claim_c5(cells: Cells) -> ClaimResult:
    """C5 per task: the best median of SGD/Adam over the rates (the tuned fixed rate) against the best median of the
    CLARA variants. A difference within the noise margin is a tie; a task where both reach the ceiling (accuracy
    1 within ACC_MARGIN) is saturated and left out. Supported when the tuned fixed rate wins on at least one task,
    mixed when it never wins but ties on some (it matches CLARA), not supported when CLARA beats it everywhere;
    margin = fixed wins - 1."""
    rows, fixed_wins, clara_wins, ties, saturated = [], 0, 0, 0, []
    for t in cells.claim_tasks():
        fixed = [cells.median(*k) for k in cells.keys if k[0] == t and k[1] in ("sgd", "adam")]
        clara = [cells.median(*k) for k in cells.keys if k[0] == t and k[1] in CLARA_NAMES]
        if not fixed or not clara:
            continue
        low = cells.tasks[t]["lower_is_better"]
        bf, bc = (min(fixed), min(clara)) if low else (max(fixed), max(clara))
        if not low and bf >= 1.0 - ACC_MARGIN and bc >= 1.0 - ACC_MARGIN:
            saturated.append(t)
            continue
        outcome = "fixed" if cells.better(t, bf, bc) else "clara" if cells.better(t, bc, bf) else "tie"
        fixed_wins, clara_wins, ties = (fixed_wins + (outcome == "fixed"), clara_wins + (outcome == "clara"),
                                        ties + (outcome == "tie"))
        rows.append(dict(task=t, tuned_fixed=bf, best_clara=bc, outcome=outcome))
    if not rows and not saturated:
        return _absent("C5", "needs a fixed rate and a CLARA variant on the same task")
    summary = (f"the tuned fixed rate wins on {fixed_wins}, ties on {ties}, loses on {clara_wins} of {len(rows)} "
               f"tasks (" + "; ".join(f"{r['task']}: {_fmt(r['tuned_fixed'])} vs {_fmt(r['best_clara'])}"
                                      for r in rows) + ")" +
               (f"; saturated, left out: {', '.join(saturated)}" if saturated else ""))
    if not rows:
        return _result("C5", NOT_IN_PRESET, dict(saturated=saturated), None, summary)
    verdict = "supported" if fixed_wins >= 1 else "mixed" if ties else "not supported"
    return _result("C5", verdict,
                   dict(fixed_wins=fixed_wins, ties=ties, clara_wins=clara_wins, saturated=saturated, tasks=rows),
                   fixed_wins - 1, summary)


# ---------------------------------------------------------------------------------------------- damping
def _damping_groups(cells: Cells):
    """{(task, variant): {d: label}} for labels of the form "variant[d=...]" with a numeric d."""
    groups = defaultdict(dict)
    for t, lab in cells.rates_of:
        if "[d=" in lab and t not in EXCLUDED_TASKS:
            variant, d = lab[:-1].split("[d=")
            try:
                groups[(t, variant)][float(d)] = lab
            except ValueError:          # "auto": not on the numeric axis
                continue
    return {k: v for k, v in groups.items() if len(v) >= 2}


def claim_d1(cells: Cells) -> ClaimResult:
    """D1: per (task, CLARA variant), the number of successful initial rates at each numeric d; robust when it
    changes by at most D1_SPREAD. Deciding statistic: the share of robust (task, variant) pairs."""
    groups = _damping_groups(cells)
    if not groups:
        return _absent("D1", "needs a damping sweep (preset damping)")
    rows = []
    for (t, variant), by_d in sorted(groups.items()):
        counts = {d: sum(cells.success(t, lab, e) for e in cells.rates_of[(t, lab)]) for d, lab in by_d.items()}
        rows.append(dict(task=t, variant=variant, successes={str(d): n for d, n in sorted(counts.items())},
                         robust=max(counts.values()) - min(counts.values()) <= D1_SPREAD))
    share = sum(r["robust"] for r in rows) / len(rows)
    summary = (f"the successful rates change by at most {D1_SPREAD} across d in {sum(r['robust'] for r in rows)} of "
               f"{len(rows)} (task, variant) pairs: " +
               "; ".join(f"{r['task']}/{r['variant']} " + "/".join(map(str, r["successes"].values())) for r in rows))
    return _result("D1", _by_share(share), dict(share=share, pairs=rows), share - SUPPORT_SHARE, summary)


def claim_d2(cells: Cells) -> ClaimResult:
    """D2: per (task, CLARA variant), the smallest successful initial rate at the largest numeric d against that at
    the smallest d. A win when it is smaller (or only the larger d succeeds anywhere), a loss when larger."""
    groups = _damping_groups(cells)
    if not groups:
        return _absent("D2", "needs a damping sweep (preset damping)")
    wins = losses = 0
    rows = []
    for (t, variant), by_d in sorted(groups.items()):
        lo_d, hi_d = min(by_d), max(by_d)

        def smallest(lab):
            ok = [e for e in cells.rates_of[(t, lab)] if cells.success(t, lab, e)]
            return min(ok) if ok else math.inf

        a, b = smallest(by_d[hi_d]), smallest(by_d[lo_d])
        outcome = "win" if a < b else "loss" if a > b else "tie"
        wins, losses = wins + (outcome == "win"), losses + (outcome == "loss")
        rows.append(dict(task=t, variant=variant, d_small=lo_d, d_large=hi_d, smallest_ok_small_d=b,
                         smallest_ok_large_d=a, outcome=outcome))
    share = _share(wins, losses)
    summary = (f"the largest d succeeds from a smaller initial rate than the smallest d in {wins}, from a larger one "
               f"in {losses}, the same in {len(rows) - wins - losses} of {len(rows)} (task, variant) pairs")
    if math.isnan(share):
        return _result("D2", "mixed", dict(pairs=rows), -SUPPORT_SHARE, summary + "; no pair separates them")
    return _result("D2", _by_share(share), dict(share=share, pairs=rows), share - SUPPORT_SHARE, summary)


CLAIM_FUNCTIONS = {"C1": claim_c1, "C2": claim_c2, "C3": claim_c3, "C4": claim_c4, "C5": claim_c5,
                   "D1": claim_d1, "D2": claim_d2}


def evaluate(records, resamples: int = 200, seed: int = 0, claims=None) -> list[ClaimResult]:
    """Every claim's verdict on ``records``, with its robustness over ``resamples`` seed-bootstrap resamples
    (drawn from ``numpy.random.default_rng(seed)``). ``claims``: ids to evaluate (default: C1-C5, and D1-D2 when
    the records hold a damping sweep)."""
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 0:
        raise ValueError(f"resamples must be a non-negative int, got {resamples!r}")
    cells = Cells.from_records(records)
    if claims is None:
        claims = ["C1", "C2", "C3", "C4", "C5"] + (["D1", "D2"] if _damping_groups(cells) else [])
    results = [CLAIM_FUNCTIONS[c](cells) for c in claims]
    rng = np.random.default_rng(seed)
    same = np.zeros(len(results))
    for _ in range(resamples):
        boot = cells.resample(rng)
        for i, (c, res) in enumerate(zip(claims, results)):
            if res.verdict != NOT_IN_PRESET:
                same[i] += CLAIM_FUNCTIONS[c](boot).verdict == res.verdict
    return [res._replace(robustness=None if res.verdict in UNDECIDED or not resamples else float(s / resamples))
            for res, s in zip(results, same)]


def identical_tasks(records, rtol: float = 1e-6) -> list[tuple]:
    """Pairs of tasks on which an optimizer gave the same metric curves (to relative ``rtol``) in every common
    (label, rate, seed): duplicated evidence that a claim would count twice. Returns (task_a, task_b, label).

    Whole curves are compared, not final values, so two runs that merely both diverged do not match. The default
    tolerance separates real duplicates (Adam on the sphere and the axis-aligned ellipsoid differ only through
    eps = 1e-8 against sqrt(v_hat), relative 1e-8 or less) from different tasks (different from the first step).
    """
    by = defaultdict(dict)
    for r in records:
        by[(r["task"], r["label"])][(float(r["eta0"]), r["seed"])] = r.get("metric") or []
    out = []
    tasks = sorted({t for t, _ in by})
    for i, a in enumerate(tasks):
        for b in tasks[i + 1:]:
            for lab in sorted({lab for t, lab in by if t == a} & {lab for t, lab in by if t == b}):
                ra, rb = by[(a, lab)], by[(b, lab)]
                common = set(ra) & set(rb)
                if common and all(_same_curve(ra[k], rb[k], rtol) for k in common):
                    out.append((a, b, lab))
    return out


def _same_curve(x, y, rtol) -> bool:
    if len(x) != len(y) or not x:
        return False
    for u, v in zip(x, y):
        if u is None or v is None:
            if u is not v:
                return False
        elif abs(u - v) > rtol * max(abs(u), abs(v)):
            return False
    return True
