"""The grid's optimizers as one table: name -> family, base, path rule, move, description and builder.

Everything that needs to know what an optimizer name means reads it here: ``grid.build_optimizer`` (the run's
optimizer), the claims (which names are the paper's CLARA variants, which base a variant adapts), the figures
(which rules move their rate). Nothing parses a name (no ``startswith("adam")`` or ``endswith("-us")``): a new
optimizer is one row.

A builder takes the run's :class:`Setting` and returns ``(optimizer, damping setting, damping value)``: the setting
as the task or the run gives it (``"auto"`` or a number) and its value for this task's blocks, both None for
methods without a path rule. For the 2017 rule the value is the effective damping C mu / sigma its C was chosen
for; for the uncorrected ablation the d it runs at.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from .. import authors, reference
from ..alera import C_for_damping, alera
from ..clara import clara
from ..constant import adam, sgd
from ..dadapt import dadapt_adam
from ..directions import adam_direction, sgd_direction
from ..prodigy import prodigy
from ..schedules import scheduled

__all__ = ["Optimizer", "Setting", "OPTIMIZERS", "PATH_CONSTANT", "CLARA_NAMES", "PATH_RULES", "SCHEDULE_NAMES",
           "names", "speed_matched_damping"]

#: the path constant c of every path rule unless a run sets its own (the authors' value)
PATH_CONSTANT = 0.2


@dataclass(frozen=True)
class Setting:
    """What a builder needs of a run: its initial rate, protocol and task, the damping d and path constant c in
    force (the run's, else the task's), and the task's per-tensor and per-layer blocks."""

    eta0: float
    protocol: str
    task: Any
    d: Any
    c: float
    steps: int = 0          # the run's budget of updates (the schedules span it)

    @property
    def blocks(self):
        return self.task.tensor_blocks()

    @property
    def sizes(self) -> tuple:
        return self.blocks or (self.task.n,)


@dataclass(frozen=True)
class Optimizer:
    """One row of the table. ``family``: "sgd", "adam" or "baseline" (the learning-rate-free methods, whose
    initial rate is their d0); ``base``: the fixed-rate optimizer a rule adapts (None for the baselines);
    ``rule``: None (a fixed rate or a baseline), "clara" (the paper's rule), "alera" (the 2017 rule),
    "uncorrected" (the gradient path against the random walk), "mismatched" (Adam's steps against the random
    walk) or "schedule" (a rate fixed in advance as a function of the step, ``clara_ref.schedules``); ``move``:
    "raw" or "unit" (the authors' "us"); ``variant``: one of the paper's CLARA variants, which the claims compare
    with their base."""

    family: str
    base: str | None
    rule: str | None
    move: str
    variant: bool
    description: str
    build: Callable[[Setting], tuple]


def _adam_clara(s: Setting):
    """Adam-CLARA as the grid runs it (the authors' protocol compares with their table's K mu(N) on real data)."""
    ref = "direction"
    if s.protocol == "authors" and s.task.kind == "classification":
        # K mu(N) from the authors' table (N = total parameters; nearest entry in log N when theirs lacks N)
        ref = authors.adam_reference(s.task.n_params(), len(s.blocks), nearest=True)
    return clara(adam_direction(), s.eta0, c=s.c, d=s.d, blocks=s.blocks, reference=ref)


def speed_matched_damping(clara_opt, sizes, c: float = PATH_CONSTANT) -> float:
    """The d at which the uncorrected rule (gradient path, K c/(2-c)) rises as fast as ``clara_opt`` at its own d:
    d_clara (K/ref_clara - 1) / (K/ref_rw - 1), the two largest exponents per step made equal."""
    K = len(sizes)
    ref = clara_opt.reference_at(None, sizes)
    ref_rw = K * reference.random_walk_mean(c)
    return clara_opt.damping(sizes) * (K / ref - 1.0) / (K / ref_rw - 1.0)


def _fixed(make):
    return lambda s: (make(s.eta0), None, None)


def _clara(base: str, move: str):
    def build(s: Setting):
        opt = _adam_clara(s) if base == "adam" else clara(sgd_direction(), s.eta0, c=s.c, d=s.d, blocks=s.blocks)
        opt = opt if move == "raw" else replace(opt, move=move)
        return opt, s.d, opt.damping(s.sizes)
    return build


def _mismatched(s: Setting):
    opt = clara(adam_direction(), s.eta0, c=s.c, d=s.d, blocks=s.blocks, reference="random_walk")
    return opt, s.d, opt.damping(s.sizes)


def _uncorrected(matched: bool):
    def build(s: Setting):
        corrected = _adam_clara(s)
        d_num = corrected.damping(s.sizes)     # adam-clara's d on this task ("auto" resolved for Adam's steps)
        if matched:
            d_num = speed_matched_damping(corrected, s.sizes, s.c)
        opt = clara(adam_direction(), s.eta0, c=s.c, d=d_num, blocks=s.blocks, path_of="gradient",
                    reference="random_walk")
        return opt, s.d, d_num
    return build


def _alera(s: Setting):
    # C is chosen so that the effective damping C mu / sigma of the largest block equals the d that Adam-CLARA
    # uses on this task ("auto" resolved for the Adam step path).
    layer_blocks = s.task.layer_blocks()
    n = max(layer_blocks) if layer_blocks else s.task.n_params()
    if s.d == "auto":
        d_num = clara(adam_direction(), s.eta0, d="auto", blocks=s.blocks).damping(s.sizes)
    else:
        d_num = float(s.d)
    return alera(adam_direction(), s.eta0, C=C_for_damping(d_num, n), blocks=layer_blocks), s.d, d_num


def _schedule(base: str, schedule: str):
    return lambda s: (scheduled(base, s.eta0, s.steps, schedule), None, None)


_row = Optimizer
#: optimizer name -> its row
OPTIMIZERS = {
    "sgd": _row("sgd", "sgd", None, "raw", False, "SGD, constant rate", _fixed(sgd)),
    "sgd-clara": _row("sgd", "sgd", "clara", "raw", True,
                   "SGD-CLARA: clara(sgd_direction()), raw moves, per-tensor blocks", _clara("sgd", "raw")),
    "sgd-clara-us": _row("sgd", "sgd", "clara", "unit", True, "SGD-CLARA-us: clara(sgd_direction(), move='unit')",
                      _clara("sgd", "unit")),
    "adam": _row("adam", "adam", None, "raw", False, "Adam, constant rate", _fixed(adam)),
    "adam-clara": _row("adam", "adam", "clara", "raw", True,
                    "Adam-CLARA: clara(adam_direction()), raw moves, per-tensor blocks", _clara("adam", "raw")),
    "adam-clara-us": _row("adam", "adam", "clara", "unit", True, "Adam-CLARA-us: clara(adam_direction(), move='unit')",
                       _clara("adam", "unit")),
    "adam-alera": _row("adam", "adam", "alera", "raw", False,
                    "Adam with the 2017 rule: alera(adam_direction()), layer blocks", _alera),
    "adam-clara-uncorrected": _row("adam", "adam", "uncorrected", "raw", False,
                                "Adam-CLARA without the correction: clara(adam_direction(), path_of='gradient', "
                                "reference='random_walk'), at adam-clara's d", _uncorrected(matched=False)),
    "adam-clara-uncorrected-matched": _row("adam", "adam", "uncorrected", "raw", False,
                                        "the same with d scaled so that its fastest rise per step equals "
                                        "adam-clara's (speed-matched)", _uncorrected(matched=True)),
    "adam-clara-mismatched": _row("adam", "adam", "mismatched", "raw", False,
                               "Adam's step path against the random walk's reference c/(2-c) (pure-noise tasks "
                               "only)", _mismatched),
    "sgd-cosine": _row("sgd", "sgd", "schedule", "raw", False, "SGD, cosine decay after a linear warm-up over 5% of "
                       "the budget", _schedule("sgd", "cosine")),
    "adam-cosine": _row("adam", "adam", "schedule", "raw", False, "Adam, cosine decay after a linear warm-up over 5% "
                        "of the budget", _schedule("adam", "cosine")),
    "sgd-step": _row("sgd", "sgd", "schedule", "raw", False, "SGD, rate x 0.1 at 50% and at 75% of the budget",
                     _schedule("sgd", "step")),
    "adam-step": _row("adam", "adam", "schedule", "raw", False, "Adam, rate x 0.1 at 50% and at 75% of the budget",
                      _schedule("adam", "step")),
    "dadapt-adam": _row("baseline", None, None, "raw", False,
                     "D-Adaptation Adam, d0 = initial rate (as the CLARA authors ran it)",
                     lambda s: (dadapt_adam(d0=s.eta0), None, None)),
    "prodigy": _row("baseline", None, None, "raw", False, "Prodigy, d0 = initial rate",
                 lambda s: (prodigy(d0=s.eta0), None, None)),
}
del _row


def names(**want) -> tuple:
    """The names whose rows match every field given, in table order: ``names(variant=True)``."""
    return tuple(k for k, o in OPTIMIZERS.items() if all(getattr(o, f) == v for f, v in want.items()))


#: the paper's four CLARA variants, which the claims compare with their base
CLARA_NAMES = names(variant=True)
#: the schedule baselines (their rate moves, but by a plan fixed in advance: no claim counts them as fixed rates)
SCHEDULE_NAMES = names(rule="schedule")
#: the optimizers whose rate moves (the eta figures draw their trajectories)
PATH_RULES = tuple(k for k, o in OPTIMIZERS.items() if o.rule is not None)
