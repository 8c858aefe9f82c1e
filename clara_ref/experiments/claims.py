"""The CLARA paper's claims as pure functions of run records: one function per claim, thresholds named below.

Each claim of arXiv 2508.05408 (and three of its damping study) becomes a verdict with the numbers behind it:

C0  The correction: for Adam, the path must follow the preconditioned steps Adam takes and be compared with the
    expected path of those steps under pure noise (the paper's abstract: the 2017 rule is "conceptually
    inconsistent" for Adam). Two halves: on pure noise, CLARA's rate stays within its null spread while Adam's step
    path against the random walk's reference drifts; on the benchmark, CLARA beats the uncorrected rule (the
    gradient path against the random walk) run at the same speed.
C1  CLARA reduces the final distance to the optimum on synthetic benchmarks compared with the same optimizer at a
    fixed rate.
C2  CLARA is far more robust to the initial learning rate, especially for SGD.
C3  On harder (image) tasks CLARA is more stable than D-Adaptation and recovers from poor initial rates.
C4  For Adam the benefit is context-dependent, mainly recovery from too-small rates.
C5  A well-tuned fixed rate can still win.
D1  (damping preset) CLARA's robustness to the initial rate holds across the damping d.
D2  (damping preset) A larger d lets CLARA recover from smaller initial rates.
D3  (damping preset) CLARA's robustness to the initial rate holds across the path constant c.

How a verdict is made. Every claim compares *cells*: one (task, optimizer, initial rate) with the final metric of
each seed, summarised by the median over seeds (the worst seed for C3's stability; the mean and spread over seeds
for C0's pure-noise half). A claim's deciding statistic (a share of cells, a gap between shares, a count of tasks,
a drift in null spreads) is compared with the thresholds below: "supported", "mixed" or "not supported". A claim
whose runs are absent is "not evaluated in this preset"; a claim whose cells exist but whose step budget cannot
move the rate far enough to test it is "not evaluable at this step budget", never "not supported".

Only cells where a rule can act. A path rule multiplies eta by at most exp(d (K/ref - 1)) and at least exp(-d) per
step, so over a budget of T steps it can move the rate by a factor of at most exp(d max(K/ref - 1, 1) T) (its
*reach*, ``Cells.reach``). A cell whose rule under test cannot move the rate by ``MIN_REACH`` (one step of the
rate grid, 10x) in its budget is the fixed rate in disguise: every claim leaves such cells out, lists them in its
``numbers["not_evaluable"]`` with their reach, and says "not evaluable at this step budget" when none remain.

``margin`` is the signed distance of the deciding statistic from the threshold of "supported" (positive: on the
supported side; for a claim with two conditions, the smaller of the two distances). ``robustness`` is the share of
seed-bootstrap resamples that give the same verdict: each resample redraws, independently in every cell, as many
seeds as the cell has, with replacement, and reruns the same claim function. A verdict that holds in fewer than
``ROBUST_SHARE`` of the resamples is "borderline"; every claim also reports the outcome of each of its cells
(``ClaimResult.outcomes``), so that ``clara_ref.experiments.decide`` can give more seeds to the cells whose outcome
the resamples change (the *deciding* cells) until the verdict is robust or the seeds run out ("undecided").

The axis-aligned ``ellipsoid`` stays in the report's tables (it is the paper's task) but no claim counts it: Adam
is invariant to per-coordinate scaling, and x0 is equal in every coordinate, so for Adam it repeats the sphere.
``ellipsoid_rotated`` takes its place.

Every threshold is a field of :class:`Thresholds` (its defaults are the module constants below, each with its
reason), so that the report can show each verdict over a stated range of each threshold (``threshold_sweep``).
The functions read only the records (see ``clara_ref.experiments.runner.run_one`` for their fields); nothing here
touches files, so every claim can be checked on small hand-made records (tests/test_claims.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, fields, replace
from typing import NamedTuple

import numpy as np

__all__ = ["ClaimResult", "Cells", "Thresholds", "DEFAULT", "evaluate", "claim_c0", "claim_c1", "claim_c2",
           "claim_c3", "claim_c4", "claim_c5", "claim_d1", "claim_d2", "claim_d3", "log_rate_range",
           "identical_tasks", "CLAIM_FUNCTIONS", "EXCLUDED_TASKS", "threshold_sweep", "THRESHOLD_RANGES",
           "UNDECIDED_VERDICT"]

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
#: D1, D3: robustness holds across d (c) when the number of successful rates changes by at most this many
D1_SPREAD = 1
#: C0: a rule is consistent on pure noise when its mean drift of log eta is at most this many of its null spreads
#: (the standard deviation of the drift over seeds): the average run ends within one spread of where it began
NULL_SPREADS = 1.0
#: C0: a rule drifts on pure noise when its mean drift exceeds this many null spreads ("several": three spreads is
#: outside the range in which 99.7% of a normal null's runs end)
DRIFT_SPREADS = 3.0
#: a verdict that holds in fewer than this share of bootstrap resamples is shown as borderline
ROBUST_SHARE = 0.9
#: seed-bootstrap resamples behind every robustness (a share of 0.9 then has a standard error of about 0.02)
RESAMPLES = 200
#: a cell whose outcome changes in at least this share of the resamples decides a non-robust verdict (it gets the
#: extra seeds of ``clara_ref.experiments.decide``)
DECIDING_SHARE = 0.1

#: the least factor by which the rule under test must be able to move the rate in a cell's step budget for the
#: cell to count, per claim; the rate grid is 10x apart, so a rule that cannot move the rate by one grid step
#: cannot turn a failing rate into a successful one (C2, C4), cannot differ from the fixed rate it starts from by
#: more than its neighbour on the grid (C1, C3's stability, C5), and cannot tell two rules apart by how they move
#: the rate (C0's benchmark half, checked for both rules)
MIN_REACH = {"C0": 10.0, "C1": 10.0, "C2": 10.0, "C3": 10.0, "C4": 10.0, "C5": 10.0, "D1": 10.0, "D3": 10.0}

#: tasks no claim counts (see the module docstring), with the task that takes their place
EXCLUDED_TASKS = {"ellipsoid": "ellipsoid_rotated"}
CLARA_NAMES = ("sgd-clara", "sgd-clara-us", "adam-clara", "adam-clara-us")
#: the benchmark roles (the pure-noise tasks feed C0 only)
BENCHMARK_ROLES = ("synthetic", "tabular", "image")
#: C0: the three pure-noise rules and the speed-matched ablation
NULL_RULES = ("adam-clara", "adam-clara-mismatched", "adam-clara-uncorrected")
ABLATION = "adam-clara-uncorrected-matched"
ABLATION_EQUAL_D = "adam-clara-uncorrected"

NOT_IN_PRESET = "not evaluated in this preset"
NOT_AT_BUDGET = "not evaluable at this step budget"
UNDECIDED_VERDICT = "undecided"
UNDECIDED = (NOT_IN_PRESET, NOT_AT_BUDGET)


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of the claims (defaults: the module constants, whose comments give the reasons)."""

    support_share: float = SUPPORT_SHARE
    reject_share: float = REJECT_SHARE
    progress: float = PROGRESS
    success_distance: float = SUCCESS_DISTANCE
    success_accuracy: float = SUCCESS_ACCURACY
    far_gain: float = FAR_GAIN
    rel_margin: float = REL_MARGIN
    acc_margin: float = ACC_MARGIN
    above_chance: float = ABOVE_CHANCE
    stable_margin: float = STABLE_MARGIN
    small_rate: float = SMALL_RATE
    large_rate: float = LARGE_RATE
    c4_gap: float = C4_GAP
    c4_ceiling: float = C4_CEILING
    d1_spread: int = D1_SPREAD
    null_spreads: float = NULL_SPREADS
    drift_spreads: float = DRIFT_SPREADS
    reach: float = 10.0

    def min_reach(self, claim: str) -> float:
        """The least factor for ``claim``: MIN_REACH's, scaled when ``reach`` is varied from its default 10."""
        return MIN_REACH.get(claim, 10.0) * self.reach / 10.0


DEFAULT = Thresholds()

#: the range over which the report shows each threshold's verdicts, with the claims that use it
THRESHOLD_RANGES = {
    "far_gain": ((0.1, 0.15, 0.2, 0.25, 0.3), ("C2",)),
    "success_distance": ((0.001, 0.003, 0.01, 0.03, 0.1), ("C2", "C3", "D1", "D2", "D3")),
    "success_accuracy": ((0.8, 0.85, 0.9, 0.95, 0.98), ("C2", "C3", "D1", "D2", "D3")),
    "acc_margin": ((0.0025, 0.005, 0.01, 0.02), ("C0", "C4", "C5")),
    "rel_margin": ((0.05, 0.1, 0.2, 0.3), ("C0", "C1", "C4", "C5")),
    "progress": ((0.25, 0.5, 0.75), ("C1",)),
    "support_share": ((0.6, 2 / 3, 0.75, 0.8), ("C0", "C1", "C3", "D1", "D2")),
    "c4_gap": ((0.1, 0.15, 0.2, 0.25, 0.3), ("C4",)),
    "stable_margin": ((0.005, 0.01, 0.02), ("C3",)),
    "null_spreads": ((0.5, 1.0, 1.5, 2.0), ("C0",)),
    "drift_spreads": ((2.0, 3.0, 5.0, 10.0), ("C0",)),
    "reach": ((3.0, 10.0, 30.0, 100.0), ("C0", "C1", "C2", "C3", "C4", "C5")),
}


class ClaimResult(NamedTuple):
    """One claim's verdict. ``numbers``: the statistics behind it (JSON-ready; cells listed where the claim rests on
    them, the cells left out as not evaluable in ``numbers["not_evaluable"]``); ``summary``: the same in one
    sentence; ``margin``: signed distance of the deciding statistic from the threshold of "supported";
    ``robustness``: share of seed-bootstrap resamples with the same verdict (None when not evaluated).
    ``outcomes``: {cell key: (outcome, cells it rests on)}, what the bootstrap and the extra seeds look at (not
    written to claims.json); ``deciding``: the cells whose outcome the resamples change in at least
    DECIDING_SHARE of them; ``seeds``: the most seeds any cell of the claim had."""

    id: str
    text: str
    verdict: str
    numbers: dict
    margin: float | None
    robustness: float | None
    summary: str
    outcomes: dict = {}
    deciding: tuple = ()
    seeds: int | None = None

    @property
    def borderline(self) -> bool:
        return self.robustness is not None and self.robustness < ROBUST_SHARE


TEXTS = {
    "C0": "For Adam the path must follow Adam's own steps and be compared with their pure-noise reference (the "
          "paper's correction)",
    "C1": "CLARA reduces the final distance to the optimum on synthetic benchmarks compared with the same optimizer "
          "at a fixed rate",
    "C2": "CLARA is far more robust to the initial learning rate, especially for SGD",
    "C3": "On harder image tasks CLARA is more stable than D-Adaptation and recovers from poor initial rates",
    "C4": "For Adam the benefit is context-dependent, mainly recovery from too-small rates",
    "C5": "A well-tuned fixed rate can still win",
    "D1": "CLARA's robustness to the initial rate holds across the damping d",
    "D2": "A larger damping d lets CLARA recover from smaller initial rates",
    "D3": "CLARA's robustness to the initial rate holds across the path constant c",
}


# ---------------------------------------------------------------------------------------------- cells
class Cells:
    """Final metrics grouped by (task, label, initial rate), one row per cell and one column per seed (NaN-padded),
    with what the claims need to know of each task and of each (task, label)."""

    def __init__(self, keys, values, tasks, labels, final_etas=None):
        self.keys = list(keys)
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.values = values
        self.tasks = tasks            # task -> dict(role, lower_is_better, chance, initial, steps_total)
        self.labels = labels          # (task, label) -> dict(optimizer, damping, damping_setting, c, reference, ...)
        self.final_etas = final_etas or {}   # (task, label, rate) -> [final eta of each seed]
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
        tasks, labels, initial, etas = {}, {}, defaultdict(list), defaultdict(list)
        for r in records:
            if r.get("error"):
                continue              # a run that raised is no evidence either way (the report lists it)
            key = (r["task"], r["label"], float(r["eta0"]))
            groups[key].append((r["seed"], float(r["final_metric"])))
            tasks.setdefault(r["task"], dict(role=r["role"], lower_is_better=bool(r["lower_is_better"]),
                                             chance=r.get("chance"), steps_total=int(r["steps_total"]),
                                             n_params=r.get("n_params")))
            if r.get("metric") and r["metric"][0] is not None:
                initial[r["task"]].append(float(r["metric"][0]))
            seen = [e for e in r.get("eta") or [] if e is not None]
            if seen and not r.get("diverged"):
                etas[key].append((r["seed"], float(seen[-1])))
            labels.setdefault((r["task"], r["label"]), dict(
                optimizer=r.get("optimizer", r["label"]), damping=r.get("damping"),
                damping_setting=r.get("damping_setting"), c=r.get("c"), reference=r.get("reference"),
                n_blocks=r.get("n_blocks")))
        for t in tasks:
            tasks[t]["initial"] = float(np.median(initial[t])) if initial[t] else math.nan
        keys = sorted(groups, key=lambda k: (k[0], k[1], k[2]))
        width = max((len(v) for v in groups.values()), default=0)
        values = np.full((len(keys), width), np.nan)
        for i, k in enumerate(keys):
            vals = [v for _, v in sorted(groups[k])]
            values[i, :len(vals)] = vals
        final_etas = {k: [e for _, e in sorted(v)] for k, v in etas.items()}
        return cls(keys, values, tasks, labels, final_etas)

    def resample(self, rng: np.random.Generator) -> "Cells":
        """A seed-bootstrap copy: every cell redraws its own seeds with replacement."""
        n, width = self.values.shape
        draw = np.floor(rng.random((n, width)) * self.counts[:, None]).astype(int)
        new = np.take_along_axis(self.values, draw, axis=1)
        new[np.arange(width)[None, :] >= self.counts[:, None]] = np.nan
        return Cells(self.keys, new, self.tasks, self.labels, self.final_etas)

    # -- look-ups
    def has(self, task, label) -> bool:
        return (task, label) in self.rates_of

    def median(self, task, label, rate) -> float:
        return float(self.med[self.index[(task, label, rate)]])

    def worst(self, task, label, rate) -> float:
        """The worst seed (lowest accuracy; classification tasks only)."""
        return float(self.lo[self.index[(task, label, rate)]])

    def row(self, task, label, rate) -> np.ndarray:
        """The final metric of every seed of a cell."""
        row = self.values[self.index[(task, label, rate)]]
        return row[~np.isnan(row)]

    def spread(self, task, label, rate) -> float:
        row = self.row(task, label, rate)
        return float(row.max() - row.min())

    def claim_tasks(self, kinds=BENCHMARK_ROLES) -> list:
        """Tasks a claim counts, in a stable order: ``kinds`` filters by role ("synthetic", "tabular", "image",
        "null"; the pure-noise tasks count for C0 only)."""
        return [t for t in sorted(self.tasks) if t not in EXCLUDED_TASKS and self.tasks[t]["role"] in kinds]

    def common_rates(self, task, a, b) -> list:
        return sorted(set(self.rates_of[(task, a)]) & set(self.rates_of[(task, b)]))

    def better(self, task, a: float, b: float, th: "Thresholds" = DEFAULT) -> bool:
        """Is the median ``a`` better than ``b`` by more than the noise margin of the task's metric?"""
        if self.tasks[task]["lower_is_better"]:
            if math.isinf(a):
                return False
            return math.isinf(b) or a < b * (1.0 - th.rel_margin)
        return a > b + th.acc_margin

    def success(self, task, label, rate, th: "Thresholds" = DEFAULT) -> bool:
        """Did this cell succeed? Synthetic: median distance <= 1% of the start; else >= 90% of the task's best."""
        m = self.median(task, label, rate)
        info = self.tasks[task]
        if info["lower_is_better"]:
            return m <= th.success_distance * info["initial"]
        return m >= th.success_accuracy * self.best(task)

    def best(self, task) -> float:
        rows = [i for i, k in enumerate(self.keys) if k[0] == task]
        return float(np.max(self.med[rows]))

    def log_up(self, task, label) -> float | None:
        """log of the largest factor by which this label's rate can rise over the task's budget (None: no rule)."""
        info = self.labels.get((task, label), {})
        return log_rate_range(info.get("damping"), info.get("reference"), info.get("n_blocks"),
                              self.tasks[task]["steps_total"])

    def reach(self, task, label) -> float | None:
        """log of the largest factor by which this label's rule can move its rate, up or down, over the task's
        budget: max(d (K/ref - 1), d) T (None: no path rule, so the rate cannot move at all)."""
        up = self.log_up(task, label)
        if up is None:
            return None
        down = float(self.labels[(task, label)]["damping"]) * self.tasks[task]["steps_total"]
        return max(up, down)

    def can_act(self, task, label, factor: float) -> bool:
        """Can this label's rule move its rate by at least ``factor`` in the budget?"""
        r = self.reach(task, label)
        return r is not None and r >= math.log(factor)

    def variant(self, task, label) -> str:
        """The optimizer of a label (a sweep's label adds its d and c, which the records carry as fields)."""
        return self.labels.get((task, label), {}).get("optimizer", label)


def log_rate_range(damping, reference, n_blocks, steps) -> float | None:
    """log of the largest factor a path rule can raise eta by in ``steps`` steps: d (K/ref - 1) T.

    P = sum_b |p_b|^2 is at most K (every block's path a unit vector), so each step multiplies eta by at most
    exp(d (K/ref - 1)). For SGD-CLARA with one block (ref = c/(2-c) = 1/9): 8 d per step. For the 2017 rule the
    records carry the effective damping of its largest block and ref = K mu, which gives the same bound for that
    block.

    >>> round(log_rate_range(1e-3, 1 / 9, 1, 1000), 6)
    8.0
    """
    if damping is None or reference is None or n_blocks is None or not reference > 0:
        return None
    return float(damping) * (n_blocks / float(reference) - 1.0) * steps


class _Reach:
    """The cells a claim leaves out because the rule under test cannot move its rate by the claim's factor."""

    def __init__(self, cells: Cells, claim: str, th: Thresholds):
        self.cells, self.factor, self.left_out = cells, th.min_reach(claim), {}

    def ok(self, task, label) -> bool:
        if self.cells.can_act(task, label, self.factor):
            return True
        r = self.cells.reach(task, label)
        self.left_out[(task, label)] = dict(
            task=task, label=label, reach=None if r is None else math.exp(min(r, 700.0)), needed=self.factor,
            steps=self.cells.tasks[task]["steps_total"],
            why="no path rule" if r is None else f"the rate can move at most {math.exp(min(r, 700.0)):.3g}x in "
            f"{self.cells.tasks[task]['steps_total']:,} steps, less than the {self.factor:g}x this claim needs")
        return False

    def listing(self) -> list:
        return [self.left_out[k] for k in sorted(self.left_out)]

    def text(self) -> str:
        if not self.left_out:
            return ""
        return ("; left out as not evaluable at this step budget (the rate cannot move " +
                f"{self.factor:g}x): " + ", ".join(f"{v['task']}/{v['label']} ({v['reach']:.3g}x)"
                                                   if v["reach"] is not None else f"{v['task']}/{v['label']}"
                                                   for v in self.listing()))


def _share(wins, losses, empty=math.nan) -> float:
    return wins / (wins + losses) if wins + losses else empty


def _by_share(share, th: Thresholds) -> str:
    return "supported" if share >= th.support_share else "not supported" if share <= th.reject_share else "mixed"


def _result(cid, verdict, numbers, margin, summary, outcomes=None) -> ClaimResult:
    return ClaimResult(cid, TEXTS[cid], verdict, numbers, None if margin is None else float(margin), None, summary,
                       outcomes or {})


def _absent(cid, why, numbers=None) -> ClaimResult:
    return _result(cid, NOT_IN_PRESET, numbers or {}, None, why)


def _unreachable(cid, reach: _Reach, what: str, numbers=None) -> ClaimResult:
    numbers = dict(numbers or {}, not_evaluable=reach.listing())
    return _result(cid, NOT_AT_BUDGET, numbers, None, f"no {what} where the rule can move the rate "
                   f"{reach.factor:g}x within its step budget{reach.text()}")


def _rate(e) -> str:
    return f"{e:g}"


def _fmt(x) -> str:
    return "diverged" if isinstance(x, float) and math.isinf(x) else f"{x:.4g}"


def _cell(task, label, rate) -> tuple:
    return (task, label, float(rate))


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
    gradient = [r for r in rows if r["rule"] == "adam-clara-uncorrected"]
    text = ("pure noise (" + ", ".join(f"n = {r['n']:,}" if r["n"] else r["task"] for r in clara) +
            "; drift of log eta in null spreads): CLARA " + ", ".join(f"{r['z']:+.2f}" for r in clara) +
            "; Adam's steps against the random walk " + ", ".join(f"{r['z']:+.3g}" for r in mismatched) +
            ("; the gradient path (2017) " + ", ".join(f"{r['z']:+.2f}" for r in gradient) if gradient else "") +
            f" (consistent: within {th.null_spreads:g}; drifts: beyond {th.drift_spreads:g})")
    return dict(verdict=verdict, margin=margin, worst_clara_spreads=worst_clara,
                least_mismatched_spreads=least_mis, rows=rows, summary=text), outcomes


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
        numbers["null"] = {k: v for k, v in null.items() if k != "summary"}
    if bench is not None:
        numbers["benchmark"] = bench
    parts = {k: numbers[k] for k in ("null", "benchmark") if k in numbers}
    if null is None or bench is None:
        if null is None and bench is None and reach.left_out:
            return _unreachable("C0", reach, "benchmark cell", numbers)
        missing = "the pure-noise tasks" if null is None else "adam-clara-uncorrected-matched on a benchmark task"
        have = (f"; {k} half: {v['verdict']}" for k, v in parts.items())
        return _absent("C0", f"needs {missing}" + "".join(have), numbers)
    numbers["parts"] = {k: dict(verdict=v["verdict"], margin=v["margin"]) for k, v in parts.items()}
    verdicts = [null["verdict"], bench["verdict"]]
    verdict = ("supported" if verdicts == ["supported"] * 2 else
               "not supported" if verdicts == ["not supported"] * 2 else "mixed")

    def shares(gs):
        return ", ".join(f"{k} {g['better']}-{g['worse']} ({g['same']} ties)" for k, g in gs.items()) or "none"

    summary = (f"{null['summary']}: {null['verdict']}; benchmark, Adam-CLARA against the uncorrected rule at "
               f"matched speed, cells won-lost: {shares(groups)}: {bench['verdict']} (at equal d: "
               f"{shares(eq_groups)})" + (f"; the rules leave the rate furthest apart on {named} (median "
                                          f"{math.exp(apart[named]):.3g}x)" if named else "") + reach.text())
    return _result("C0", verdict, numbers, min(null["margin"], bench["margin"]), summary, outcomes)


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
            return _unreachable("C1", reach, "synthetic cell")
        return _absent("C1", "needs SGD/Adam and their CLARA variants on a synthetic task")
    share = _share(wins, losses)
    if math.isnan(share):
        return _result("C1", "mixed", dict(wins=0, losses=0, ties=ties, no_progress=idle,
                                           not_evaluable=reach.listing()), -th.support_share,
                       "no cell separates CLARA from the fixed rate" + reach.text(), outcomes)
    gm = math.exp(float(np.mean(np.log(ratios)))) if ratios else math.nan
    loss_names = "; ".join(f"{c['task']}/{c['base']} at {_rate(c['rate'])} ({_fmt(c['clara'])} vs "
                           f"{_fmt(c['fixed'])})" for c in lost)
    idle_names = "; ".join(f"{t}/{base} at {len(v)} rates (CLARA diverged at {sum(v)})"
                           for (t, base), v in sorted(stuck.items()))
    summary = (f"CLARA wins {wins}, loses {losses} of {wins + losses} decided (task, base, rate) cells "
               f"(share {share:.2f}); {ties} ties; geometric-mean ratio CLARA/fixed {gm:.3g}"
               + (f"; losses: {loss_names}" if lost else "")
               + (f"; neither halved the distance (neither a win nor a loss): {idle_names}" if stuck else "")
               + reach.text())
    no_progress = [dict(task=t, base=base, rates=len(v), clara_diverged=sum(v))
                   for (t, base), v in sorted(stuck.items())]
    return _result("C1", _by_share(share, th), dict(wins=wins, losses=losses, ties=ties, no_progress=idle,
                                                    share=share, geometric_mean_ratio=gm, losses_by_name=lost,
                                                    no_progress_by_name=no_progress, not_evaluable=reach.listing()),
                   share - th.support_share, summary, outcomes)


# ---------------------------------------------------------------------------------------------- C2
def claim_c2(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """C2: per base optimizer, how many more (task, rate) cells X-CLARA succeeds in than X (success: median
    distance <= 1% of the start, or accuracy >= 90% of the task's best), synthetic and real data apart, on the
    tasks where X-CLARA can move its rate MIN_REACH-fold. Deciding statistic: SGD's gain as a share of its cells;
    supported when it is at least FAR_GAIN and at least Adam's."""
    gains, numbers, parts, outcomes = {}, {}, [], {}
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
                parts.append(f"{base} {kind}: fixed {f}, CLARA {c} of {n}")
            total, succ_fixed, succ_clara = total + n, succ_fixed + f, succ_clara + c
        if total:
            gains[base] = (succ_clara - succ_fixed) / total
            numbers[f"{base}_gain_share"] = gains[base]
    numbers["not_evaluable"] = reach.listing()
    if "sgd" not in gains:
        if any(v["label"] == "sgd-clara" for v in reach.listing()):
            return _unreachable("C2", reach, "task", numbers)
        return _absent("C2", "needs SGD and SGD-CLARA", numbers)
    g_sgd, g_adam = gains["sgd"], gains.get("adam", -math.inf)
    margin = min(g_sgd - th.far_gain, g_sgd - g_adam)
    verdict = "supported" if margin >= 0 else "not supported" if g_sgd <= 0 else "mixed"
    summary = ("successful (task, rate) cells, " + "; ".join(parts) + f". Gain as a share of the cells: SGD "
               f"{g_sgd:+.2f}" + (f", Adam {g_adam:+.2f}" if "adam" in gains else "") +
               f" (far more: >= {th.far_gain:g}, and SGD's at least Adam's)" + reach.text())
    return _result("C2", verdict, numbers, margin, summary, outcomes)


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
        return _absent("C3", "needs an image task with D-Adaptation, a fixed rate and its CLARA variant")
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
    stab_txt = (f"stability: CLARA's worst seed beats D-Adaptation's at {more}, trails at {less}, ties at {same} "
                f"(task, variant, rate) cells above chance (share {stab:.2f}); against the fixed rate it beats, "
                f"trails, ties at {vs_fixed['more']}, {vs_fixed['less']}, {vs_fixed['same']}; median seed spread " +
                ", ".join(f"{k} {v:.3f}" for k, v in numbers["median_seed_spread"].items()))
    if rec_ok + rec_fail == 0:
        if blocked or reach.left_out:
            return _result("C3", NOT_AT_BUDGET, numbers, None,
                           f"{stab_txt}; recovery: none of the {blocked} poor-rate cells can climb to a successful "
                           "fixed rate within the step budget" + reach.text(), outcomes)
        return _result("C3", NOT_IN_PRESET, numbers, None,
                       f"{stab_txt}; recovery: no initial rate is poor for the fixed optimizer here", outcomes)
    rec_txt = (f"recovery: CLARA succeeds at {rec_ok} of {rec_ok + rec_fail} poor rates it can climb from "
               f"(share {rec:.2f}; {blocked} more beyond the budget; D-Adaptation succeeds at {dadapt_ok} of them)")
    margin = min(stab, rec) - th.support_share
    verdict = ("supported" if margin >= 0 else
               "not supported" if max(stab, rec) <= th.reject_share else "mixed")
    return _result("C3", verdict, numbers, margin, f"{stab_txt}; {rec_txt}" + reach.text(), outcomes)


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
            return _unreachable("C4", reach, "task")
        return _absent("C4", "needs Adam and Adam-CLARA at small and at large rates" + reach.text(),
                       dict(not_evaluable=reach.listing()))
    fs, fl, fa = (tally[g][0] / tally[g][1] for g in ("small", "large", "all"))
    gap = fs - fl
    margin = min(gap - th.c4_gap, th.c4_ceiling - fa)
    verdict = "supported" if margin >= 0 else "not supported" if gap <= 0 else "mixed"

    def better_cells(kind):
        return ", ".join(f"{c['task']} {_rate(c['rate'])}" for c in listed if c["kind"] == kind
                         and c["outcome"] == "better") or "none"

    summary = (f"Adam-CLARA better than Adam in {tally['small'][0]}/{tally['small'][1]} cells at rates <= "
               f"{th.small_rate:g}, {tally['large'][0]}/{tally['large'][1]} at >= {th.large_rate:g}, "
               f"{tally['all'][0]}/{tally['all'][1]} overall (gap {gap:+.2f}); better cells, synthetic: "
               f"{better_cells('synthetic')}; real data: {better_cells('real')}" + reach.text())
    return _result("C4", verdict, dict(small_share=fs, large_share=fl, overall_share=fa, gap=gap, cells=listed,
                                       not_evaluable=reach.listing()), margin, summary, outcomes)


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
                        and cells.variant(t, lab).startswith(base)]
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
            return _unreachable("C5", reach, "task")
        return _absent("C5", "needs a fixed rate and a CLARA variant on the same task")
    pooled_verdict = _c5_verdict(pooled_counts) if pooled_rows else NOT_IN_PRESET
    summary = (f"base by base, the tuned fixed rate wins on {counts['fixed']}, ties on {counts['tie']}, loses on "
               f"{counts['clara']} of {len(rows)} (task, base) pairs (" +
               "; ".join(f"{r['task']}/{r['base']}: {_fmt(r['tuned_fixed'])} vs {_fmt(r['best_clara'])}"
                         for r in rows) + ")" +
               (f"; saturated, left out: {', '.join(saturated)}" if saturated else "") +
               f"; pooled over the bases: wins {pooled_counts['fixed']}, ties {pooled_counts['tie']}, loses "
               f"{pooled_counts['clara']} of {len(pooled_rows)} tasks ({pooled_verdict})" + reach.text())
    numbers = dict(fixed_wins=counts["fixed"], ties=counts["tie"], clara_wins=counts["clara"], saturated=saturated,
                   pairs=rows, pooled=dict(verdict=pooled_verdict, fixed_wins=pooled_counts["fixed"],
                                           ties=pooled_counts["tie"], clara_wins=pooled_counts["clara"],
                                           tasks=pooled_rows),
                   not_evaluable=reach.listing())
    if not rows:
        return _result("C5", NOT_IN_PRESET, numbers, None, summary)
    return _result("C5", _c5_verdict(counts), numbers, counts["fixed"] - 1, summary, outcomes)


def _c5_row(cells, t, fixed_labels, clara_labels, low, th):
    bf, near_f = _best(cells, t, fixed_labels, low, th)
    bc, near_c = _best(cells, t, clara_labels, low, th)
    if not low and bf >= 1.0 - th.acc_margin and bc >= 1.0 - th.acc_margin:
        return None
    outcome = "fixed" if cells.better(t, bf, bc, th) else "clara" if cells.better(t, bc, bf, th) else "tie"
    return dict(task=t, tuned_fixed=bf, best_clara=bc, outcome=outcome, near=near_f + near_c)


def _c5_verdict(counts) -> str:
    return "supported" if counts["fixed"] >= 1 else "mixed" if counts["tie"] else "not supported"


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


def _robust_across(cells: Cells, th: Thresholds, axis: str, claim: str, what: str) -> ClaimResult:
    groups, left_out = _sweep_groups(cells, axis, th, claim)
    if not groups:
        return _absent(claim, f"needs a sweep of {what} (preset damping)", dict(not_evaluable=left_out))
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
    summary = (f"the successful rates change by at most {th.d1_spread} across {what} in "
               f"{sum(r['robust'] for r in rows)} of {len(rows)} (task, variant) pairs: " +
               "; ".join(f"{r['task']}/{r['variant']} " + "/".join(map(str, r["successes"].values())) for r in rows)
               + (f"; left out (the rate cannot move {th.min_reach(claim):g}x): " +
                  ", ".join(f"{v['task']}/{v['label']}" for v in left_out) if left_out else ""))
    return _result(claim, _by_share(share, th), dict(share=share, pairs=rows, not_evaluable=left_out),
                   share - th.support_share, summary, outcomes)


def claim_d1(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """D1: per (task, CLARA variant, c), the number of successful initial rates at each numeric d whose rule can
    move the rate MIN_REACH-fold; robust when it changes by at most D1_SPREAD. Deciding statistic: the share of
    robust pairs."""
    return _robust_across(cells, th, "d", "D1", "the damping d")


def claim_d3(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """D3: per (task, CLARA variant, d setting), the number of successful initial rates at each path constant c
    (where the rule can move the rate MIN_REACH-fold); robust when it changes by at most D1_SPREAD."""
    return _robust_across(cells, th, "c", "D3", "the path constant c")


def claim_d2(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """D2: per (task, CLARA variant, c), the smallest successful initial rate at the largest numeric d against that
    at the smallest d. A win when it is smaller (or only the larger d succeeds anywhere), a loss when larger."""
    groups, _ = _sweep_groups(cells, "d", th, "D2")
    if not groups:
        return _absent("D2", "needs a damping sweep (preset damping)")
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
    summary = (f"the largest d succeeds from a smaller initial rate than the smallest d in {wins}, from a larger one "
               f"in {losses}, the same in {len(rows) - wins - losses} of {len(rows)} (task, variant) pairs")
    if math.isnan(share):
        return _result("D2", "mixed", dict(pairs=rows), -th.support_share, summary + "; no pair separates them",
                       outcomes)
    return _result("D2", _by_share(share, th), dict(share=share, pairs=rows), share - th.support_share, summary,
                   outcomes)


CLAIM_FUNCTIONS = {"C0": claim_c0, "C1": claim_c1, "C2": claim_c2, "C3": claim_c3, "C4": claim_c4, "C5": claim_c5,
                   "D1": claim_d1, "D2": claim_d2, "D3": claim_d3}


def default_claims(cells: Cells) -> list:
    """C0-C5, and D1-D3 when the records hold a damping (path constant) sweep."""
    out = ["C0", "C1", "C2", "C3", "C4", "C5"]
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


def identical_tasks(records, rtol: float = 1e-6) -> list[tuple]:
    """Pairs of tasks on which an optimizer gave the same metric curves (to relative ``rtol``) in every common
    (label, rate, seed): duplicated evidence that a claim would count twice. Returns (task_a, task_b, label).

    Whole curves are compared, not final values, so two runs that merely both diverged do not match. The default
    tolerance separates real duplicates (Adam on the sphere and the axis-aligned ellipsoid differ only through
    eps = 1e-8 against sqrt(v_hat), relative 1e-8 or less) from different tasks (different from the first step).
    Pure-noise tasks are left out: their gradients ignore theta, so their curves say nothing about a task.
    """
    by = defaultdict(dict)
    for r in records:
        if r.get("role") == "null":
            continue
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
