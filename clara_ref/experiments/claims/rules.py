"""The claims' thresholds, each with its reason, and the names every claim shares: verdict words, the optimizer
names a claim reads and the claim texts (the package docstring, ``clara_ref.experiments.claims``, says how they
are used)."""

from __future__ import annotations

from dataclasses import dataclass

from ..optimizers import CLARA_NAMES  # noqa: F401 (the paper's four CLARA variants, from the optimizer table)
from typing import NamedTuple

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
#: C6: the steps after the change over which CLARA's rate must move toward the new phase's ideal rate: a fifth of a
#: drifting task's 500-step phase (SGD-CLARA's rate can move e^(8 d) per step, d = "auto" = 0.088 at n = 10: a
#: thousandfold in 10 steps, so 100 steps leave the rule time and still ask for a prompt response)
FOLLOW_STEPS = 100
#: C6 on a task in sequence (counted in epochs): the epochs after the change over which the rate must move, a third of
#: its 30-epoch phase (450 steps on digits at batch 32, in which Adam-CLARA's rate can move by at most about 8x at
#: d = 1e-2 and SGD-CLARA's by far more)
FOLLOW_EPOCHS = 10
#: C6: the rate follows when ln eta moves over FOLLOW_STEPS by at least this share of ln(ideal_2 / ideal_1), in its
#: direction (half the way: closer to the new ideal than to the old one, on a log scale)
FOLLOW_SHARE = 0.5
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
MIN_REACH = {"C0": 10.0, "C1": 10.0, "C2": 10.0, "C3": 10.0, "C4": 10.0, "C5": 10.0, "C6": 10.0, "C7": 10.0,
             "D1": 10.0, "D3": 10.0}

#: tasks no claim counts (see the module docstring), with the task that takes their place
EXCLUDED_TASKS = {"ellipsoid": "ellipsoid_rotated"}
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
#: the situations a claim's numbers can describe: "decided" (the verdict rests on cells), "absent" (the preset lacks
#: the runs), "unreachable" (the runs exist but no rule under test can move its rate far enough), "no_separation"
#: (C1, D2: no cell or pair tells the two apart), "no_poor_rate" and "beyond_budget" (C3: no recovery to test, or
#: none reachable in the budget), "saturated" (C5: every pair reaches the ceiling)
CASES = ("decided", "absent", "unreachable", "no_separation", "no_poor_rate", "beyond_budget", "saturated")


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
    follow_share: float = FOLLOW_SHARE
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
    "acc_margin": ((0.0025, 0.005, 0.01, 0.02), ("C0", "C4", "C5", "C6", "C7")),
    "rel_margin": ((0.05, 0.1, 0.2, 0.3), ("C0", "C1", "C4", "C5", "C6", "C7")),
    "progress": ((0.25, 0.5, 0.75), ("C1",)),
    "support_share": ((0.6, 2 / 3, 0.75, 0.8), ("C0", "C1", "C3", "C6", "C7", "D1", "D2")),
    "c4_gap": ((0.1, 0.15, 0.2, 0.25, 0.3), ("C4",)),
    "stable_margin": ((0.005, 0.01, 0.02), ("C3",)),
    "null_spreads": ((0.5, 1.0, 1.5, 2.0), ("C0",)),
    "drift_spreads": ((2.0, 3.0, 5.0, 10.0), ("C0",)),
    "follow_share": ((0.25, 0.5, 0.75, 1.0), ("C6",)),
    "reach": ((3.0, 10.0, 30.0, 100.0), ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7")),
}


class ClaimResult(NamedTuple):
    """One claim's verdict. ``numbers``: the statistics behind it (JSON-ready; cells listed where the claim rests on
    them, the cells left out as not evaluable in ``numbers["not_evaluable"]``); ``margin``: signed distance of the
    deciding statistic from the threshold of "supported"; ``robustness``: share of seed-bootstrap resamples with
    the same verdict (None when not evaluated). ``case``: which of the claim's situations the numbers describe
    (one of CASES); the report's sentence (``clara_ref.experiments.claim_text``) is made from ``numbers``, ``case``
    and ``thresholds``, the thresholds the verdict was made with. ``outcomes``: {cell key: (outcome, cells it rests
    on)}, what the bootstrap and the extra seeds look at (not written to claims.json); ``deciding``: the cells whose
    outcome the resamples change in at least DECIDING_SHARE of them; ``seeds``: the most seeds any cell of the
    claim had."""

    id: str
    text: str
    verdict: str
    numbers: dict
    margin: float | None
    robustness: float | None
    case: str = "decided"
    outcomes: dict = {}
    deciding: tuple = ()
    seeds: int | None = None
    thresholds: Thresholds = DEFAULT

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
    "C6": "Beyond the paper: when the ideal rate changes during training, CLARA follows it, beating the best fixed "
          "rate and the best tuned schedule",
    "C7": "Beyond the paper: on the stationary tasks, a tuned schedule does what CLARA does (CLARA's benefit is "
          "annealing)",
    "D1": "CLARA's robustness to the initial rate holds across the damping d",
    "D2": "A larger damping d lets CLARA recover from smaller initial rates",
    "D3": "CLARA's robustness to the initial rate holds across the path constant c",
}
