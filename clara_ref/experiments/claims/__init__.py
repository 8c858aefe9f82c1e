"""The CLARA paper's claims as pure functions of run records: one function per claim, every threshold named.

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
C6  (drift preset, beyond the paper) When the ideal rate changes during training, CLARA follows it: it beats the
    best fixed rate and the best tuned schedule, and its rate moves toward the new phase's ideal rate.
C7  (beyond the paper, with the schedules on the stationary tasks) A tuned schedule does what CLARA does: where
    CLARA beats the tuned fixed rate, a tuned cosine or step decay matches it (CLARA's benefit is annealing).
D1  (damping preset) CLARA's robustness to the initial rate holds across the damping d.
D2  (damping preset) A larger d lets CLARA recover from smaller initial rates.
D3  (damping preset) CLARA's robustness to the initial rate holds across the path constant c.

How a verdict is made. Every claim compares *cells*: one (task, optimizer, initial rate) with the final metric of
each seed, summarised by the median over seeds (the worst seed for C3's stability; the mean and spread over seeds
for C0's pure-noise half). A claim's deciding statistic (a share of cells, a gap between shares, a count of tasks,
a drift in null spreads) is compared with the named thresholds (``rules``): "supported", "mixed" or "not
supported". A claim whose runs are absent is "not evaluated in this preset"; a claim whose cells exist but whose
step budget cannot move the rate far enough to test it is "not evaluable at this step budget", never "not
supported".

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

Every threshold is a field of :class:`Thresholds` (its defaults are the constants of ``claims/rules.py``, each
with its reason), so that the report can show each verdict over a stated range of each threshold (``threshold_sweep``).
The functions read only the records (see ``clara_ref.experiments.runner.run_one`` for their fields), with one
exception: on a drifting task C6 also reads the task's change step from the task table and measures the ideal rate
of each phase (``clara_ref.phases.ideal_rates``, deterministic runs over the records' rates and seeds, computed
once per task). Nothing here touches files, so every claim can be checked on small hand-made records
(tests/test_claims.py).

The claims return verdicts, numbers and cells; the report's sentence for each (``claims.json``'s ``summary``) is
made from them by ``clara_ref.experiments.claim_text``.

The package's modules: ``rules`` (thresholds and shared names), ``cells`` (the records as cells, their reach),
``correction`` (C0), ``paper`` (C1-C5), ``beyond`` (C6, C7), ``sweep`` (D1-D3), ``evaluate`` (all claims, robustness,
threshold ranges).
"""

from __future__ import annotations

from ...rate_control import log_rate_range  # noqa: F401 (a cell's reach; the rule's bound lives with the rule)
from ..record import identical_tasks  # noqa: F401 (a check of the records, read by the report)
from .cells import Cells, _absent, _by_share, _cell, _Reach, _result, _share, _unreachable  # noqa: F401
from .beyond import claim_c6, claim_c7  # noqa: F401
from .correction import _disagreement, _null_half, _pair_half, claim_c0  # noqa: F401
from .evaluate import (CLAIM_FUNCTIONS, _parts, default_claims, evaluate, threshold_names,  # noqa: F401
                       threshold_sweep)
from .paper import (_best, _c5_row, _c5_verdict, _stability, claim_c1, claim_c2, claim_c3, claim_c4,  # noqa: F401
                    claim_c5)
from .rules import (ABLATION, ABLATION_EQUAL_D, ABOVE_CHANCE, ACC_MARGIN, BENCHMARK_ROLES, C4_CEILING,  # noqa: F401
                    C4_GAP, CASES, CLARA_NAMES, D1_SPREAD, DECIDING_SHARE, DEFAULT, DRIFT_SPREADS, EXCLUDED_TASKS,
                    FAR_GAIN, LARGE_RATE, MIN_REACH, NOT_AT_BUDGET, NOT_IN_PRESET, NULL_RULES, NULL_SPREADS, PROGRESS,
                    REJECT_SHARE, REL_MARGIN, RESAMPLES, ROBUST_SHARE, SMALL_RATE, STABLE_MARGIN, SUCCESS_ACCURACY,
                    SUCCESS_DISTANCE, SUPPORT_SHARE, TEXTS, THRESHOLD_RANGES, UNDECIDED, UNDECIDED_VERDICT, ClaimResult,
                    Thresholds)
from .sweep import _robust_across, _sweep_groups, claim_d1, claim_d2, claim_d3  # noqa: F401

__all__ = ["ClaimResult", "Cells", "Thresholds", "DEFAULT", "evaluate", "claim_c0", "claim_c1", "claim_c2",
           "claim_c3", "claim_c4", "claim_c5", "claim_c6", "claim_c7", "claim_d1", "claim_d2", "claim_d3",
           "log_rate_range",
           "identical_tasks", "CLAIM_FUNCTIONS", "EXCLUDED_TASKS", "threshold_sweep", "THRESHOLD_RANGES",
           "UNDECIDED_VERDICT"]
