"""The tasks of the grid (``TASKS``) and the constants they share.

Tasks follow the CLARA paper (arXiv 2508.05408) and its code: noisy sphere and ellipsoid (n = 10, condition 1e6,
x0 = 100, noise sd 0.1, 500 steps), noisy Rosenbrock (n = 2, x0 = (-1.2, 1), 1000 steps), softmax regression on
iris, wine, breast_cancer and digits (100 epochs, batch 128). Two tasks are clara_ref's own:

* ``ellipsoid_rotated``: the ellipsoid turned by a fixed seeded rotation. Adam cannot tell the axis-aligned
  ellipsoid from the sphere (it is invariant to per-coordinate scaling and x0 is equal in every coordinate), so the
  claims use the rotated one in its place and the tables keep the paper's.
* ``digits_mlp`` / ``digits_mlp_long``: an MLP 64-128-64-10 on digits standing in for the paper's image tasks at a
  matched step budget (for readers without the image data). A path rule can move the rate by at most a factor
  exp(d (K/ref - 1) T) in T steps, so the number of optimizer steps, not the dataset, decides whether a rate can
  recover: ``digits_mlp`` runs 12,150 steps (batch 32, 270 epochs), ``digits_mlp_long`` 46,935 (batch 32, 1043
  epochs), the paper's MNIST budget of about 46,900 (100 epochs of 469 batches of 128). Both run in float32, the
  precision of the paper's torch runs.

The paper's own image tasks (preset ``paper-images``; the data from the official files, ``clara_ref.images``):
``mnist_mlp`` and ``fashion_mnist_mlp`` (the MLP 784-256-128-10, torch's default initialisation, 235,146
parameters) and ``cifar10_cnn`` (``clara_ref.cnn.paper_cnn``, 2,193,226 parameters); 100 epochs of batch 128
(469 and 391 steps per epoch), float32, as the authors ran them.

CLARA's damping is d = "auto" on the synthetic tasks (the authors' class default, which their synthetic notebooks
did not override) and d = 1e-3 on real data (all their runs).

The pure-noise tasks ``pure_noise_<n>`` (clara_ref's own, claim C0) feed Adam gradients with no signal at all
(``objectives.get("pure_noise")``) into one block of n = 2, 15, 650 or 100,000 coordinates for 3,000 steps, with
the three rules that differ in what their path follows and what it is compared with: ``adam-clara`` (Adam's steps
against Adam's own pure-noise reference), ``adam-clara-mismatched`` (Adam's steps against the random walk's
c/(2-c)) and ``adam-clara-uncorrected`` (the gradients against the random walk: the 2017 choice). Their metric is
the change of log eta after a burn-in of ``NULL_BURN_IN`` steps (the path starts at 0 and needs about 50 steps to
reach its stationary length), which a sound rule keeps within its spread over seeds.

The drifting tasks (preset ``drift``, beyond the paper; ``objectives.DRIFTING``) change at step 501 of 1,000:
the curvature jumps 100x up or down, the optimum drifts and then jumps, or the noise grows tenfold. Their metric is
the distance to the optimum of the current step; they count for no claim of the paper.

Two tasks in sequence (preset ``drift``, beyond the paper): ``digits_mlp_seq_pixels`` and ``digits_mlp_seq_labels``
train the digits MLP for 30 epochs on digits, then for 30 more on a second task made from it, the pixels or the
labels permuted by one fixed permutation (``PERMUTATION_SEED``; ``clara_ref.data.permuted``), from where the first
task left (``clara_ref.phases.train_in_sequence``). Their metric is the accuracy on the current task; each record
also holds the accuracy on the first task at the end. d = 1e-2 there, so that Adam-CLARA's rate can move more than
10x within each 1,350-step phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .. import data, models, objectives

__all__ = ["Task", "TASKS", "RATES", "PROTOCOLS", "PERMUTATION_SEED", "NULL_BURN_IN", "NULL_RULES", "NULL_ONLY",
           "NULL_TASKS", "DRIFT_TASKS"]

RATES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
PROTOCOLS = ("clara_ref", "authors")
#: the seed of the one permutation that makes the second task of a sequence (``clara_ref.data.permuted``)
PERMUTATION_SEED = 0
#: steps before the pure-noise tasks start measuring the drift of log eta: E|p_t|^2 starts at 0 and reaches its
#: stationary value within 0.001 by t = 50 (docs/derivations.md), which this leaves four times over
NULL_BURN_IN = 200
#: the three rules the pure-noise tasks run (what the path follows against what it is compared with)
NULL_RULES = ("adam-clara", "adam-clara-mismatched", "adam-clara-uncorrected")
#: optimizers that run on the pure-noise tasks only
NULL_ONLY = ("adam-clara-mismatched",)


@dataclass(frozen=True)
class Task:
    """A benchmark task. ``kind`` is "synthetic" (metric: final distance to the optimum, lower is better),
    "classification" (metric: final test accuracy, higher is better) or "null" (pure noise; metric: the change of
    log eta after the burn-in); ``role`` is "synthetic", "tabular", "image" (the image stand-in that claim C3 looks
    at) or "null". ``dtype`` is the precision of the parameters. ``optimizers`` and ``rates``, when given, are the
    only ones the task runs (the pure-noise tasks: three rules at one rate, since without signal the rate's
    trajectory does not depend on where it starts)."""

    name: str
    kind: str
    role: str
    objective: str = ""
    n: int = 0
    noise: float = 0.0
    steps: int = 0
    dataset: str = ""
    sizes: tuple = ()
    epochs: int = 0
    batch_size: int = 128
    damping: object = 1e-3
    dtype: str = "float64"
    arch: str = ""
    init: str = "he"
    optimizers: tuple | None = None
    rates: tuple | None = None
    change_at: int = 0
    sequence: str = ""

    @property
    def phase_epochs(self) -> tuple:
        """A data task in sequence (``sequence``: what the second task permutes, ``clara_ref.data.permuted``): the
        epochs (E1, E2) on the first task and on the second, which starts at epoch ``change_at``."""
        if not self.sequence:
            raise ValueError(f"task {self.name!r} is not a sequence of two tasks")
        return self.change_at - 1, self.epochs - self.change_at + 1

    @property
    def stepwise(self) -> bool:
        """Counted in optimizer steps on an objective (synthetic and pure-noise tasks), not in epochs over data."""
        return self.kind in ("synthetic", "null")

    @property
    def metric_name(self) -> str:
        return {"synthetic": "final distance to optimum", "null": f"change of log eta after step {NULL_BURN_IN}",
                "classification": "test accuracy"}[self.kind]

    @property
    def lower_is_better(self) -> bool:
        return self.kind == "synthetic"

    @property
    def steps_per_epoch(self) -> int:
        """Minibatches per epoch (the last one may be smaller); 1 for stepwise tasks, whose unit is the step."""
        return 1 if self.stepwise else math.ceil(data.n_train(self.dataset) / self.batch_size)

    @property
    def steps_total(self) -> int:
        """Optimizer steps of one run: ``steps`` for stepwise tasks, epochs x batches per epoch for data tasks."""
        return self.steps if self.stepwise else self.epochs * self.steps_per_epoch

    @property
    def chance(self) -> float | None:
        """Test accuracy of guessing one class (1 / classes), or None for stepwise tasks."""
        return None if self.stepwise else 1.0 / self.sizes[-1]

    def runs(self, optimizer: str) -> bool:
        """Does this task run ``optimizer``? (the pure-noise tasks run their three rules only, and the rules made
        for them run nowhere else)"""
        if self.optimizers is not None:
            return optimizer in self.optimizers
        return optimizer not in NULL_ONLY

    def objective_of(self):
        """The objective of a stepwise task: a drifting one (``objectives.drifting``) when it changes at
        ``change_at``, else ``objectives.get``."""
        if not self.stepwise:
            raise ValueError(f"task {self.name!r} trains a model on data: it has no objective")
        if self.change_at:
            return objectives.drifting(self.objective, change_at=self.change_at, n=self.n)
        return objectives.get(self.objective, n=self.n, noise=self.noise)

    def model(self):
        if self.arch == "cnn":
            return models.paper_cnn()
        if len(self.sizes) > 2:
            return models.mlp(self.sizes, init=self.init)
        return models.softmax_regression(*self.sizes)

    @property
    def official_images(self) -> bool:
        """A task on one of the paper's image datasets (their files, not bundled)."""
        return self.dataset in data.IMAGES

    def tensor_blocks(self):
        """One block per weight and per bias (the CLARA authors' per-tensor normalisation), or None."""
        return None if self.stepwise else self.model().block_sizes

    def layer_blocks(self):
        """One block per layer, weight and bias together (the 2017 code), or None."""
        if self.stepwise:
            return None
        b = self.model().block_sizes
        return tuple(b[i] + b[i + 1] for i in range(0, len(b), 2))

    def n_params(self) -> int:
        return self.n if self.stepwise else self.model().n_params

    def scaled(self, factor: float) -> "Task":
        """A shorter copy (for the quick and smoke presets)."""
        return replace(self, steps=max(1, int(self.steps * factor)), epochs=max(1, int(self.epochs * factor)),
                       change_at=self._scaled_change(factor))

    def _scaled_change(self, factor: float) -> int:
        """Where a shortened drifting task changes: after its first phase shortened alike (at least one step or
        epoch), so that the change stays where it was in proportion (mid-run for every drifting task here)."""
        return max(1, int((self.change_at - 1) * factor)) + 1 if self.change_at else 0

    def n_params_cost(self) -> float:
        """A relative cost of one step, for scheduling long runs first."""
        if self.stepwise:
            return 1.0 + self.n / 1000.0
        return 20.0 + self.n_params() / (50.0 if self.arch == "cnn" else 1000.0)


def _synthetic(name, objective, n, steps):
    return Task(name, "synthetic", "synthetic", objective=objective, n=n, noise=0.1, steps=steps, damping="auto")


def _drift(name):
    """A drifting task: 1,000 steps, the change at step 501 (two phases of 500 updates), d = "auto" as on every
    synthetic task, so that SGD-CLARA's and Adam-CLARA's rate can move by far more than 10x within each phase."""
    return Task(name, "synthetic", "drift", objective=name, n=10, steps=1000, damping="auto", change_at=501)


def _sequence(name, what):
    """Real data in sequence: the digits MLP for 30 epochs on digits, then 30 on a second task made from it
    (``what``: the pixels or the labels permuted by one fixed permutation, seed PERMUTATION_SEED), the change at
    epoch 31 (1,350 steps per phase at batch 32). d = 1e-2: at the paper's 1e-3 Adam-CLARA's rate could move by at
    most about 1.9x in a phase, at 1e-2 by far more than the 10x the drift claim needs."""
    return Task(name, "classification", "drift", dataset="digits", sizes=(64, 128, 64, 10), epochs=60, batch_size=32,
                dtype="float32", damping=1e-2, change_at=31, sequence=what)


def _null(n):
    return Task(f"pure_noise_{n}", "null", "null", objective="pure_noise", n=n, noise=1.0, steps=3000,
                damping=1e-3, optimizers=NULL_RULES, rates=(1e-3,))


def _tabular(name, dataset, sizes):
    return Task(name, "classification", "tabular", dataset=dataset, sizes=sizes, epochs=100, batch_size=128)


def _image(name, epochs):
    return Task(name, "classification", "image", dataset="digits", sizes=(64, 128, 64, 10), epochs=epochs,
                batch_size=32, dtype="float32")


def _paper_image(name, dataset, arch):
    sizes = (784, 256, 128, 10) if arch == "mlp" else (3072, 10)
    return Task(name, "classification", "image", dataset=dataset, sizes=sizes, epochs=100, batch_size=128,
                dtype="float32", arch=arch, init="torch")


TASKS = {t.name: t for t in [
    _synthetic("sphere", "sphere", 10, 500),
    _synthetic("ellipsoid", "ellipsoid", 10, 500),
    _synthetic("ellipsoid_rotated", "ellipsoid_rotated", 10, 500),
    _synthetic("rosenbrock", "rosenbrock", 2, 1000),
    _tabular("iris", "iris", (4, 3)),
    _tabular("wine", "wine", (13, 3)),
    _tabular("breast_cancer", "breast_cancer", (30, 2)),
    _tabular("digits", "digits", (64, 10)),
    _image("digits_mlp", 270),                 # 270 x 45 = 12,150 steps
    _image("digits_mlp_long", 1043),           # 1043 x 45 = 46,935 steps, the paper's MNIST budget
    _paper_image("mnist_mlp", "mnist", "mlp"),                 # 100 x 469 = 46,900 steps
    _paper_image("fashion_mnist_mlp", "fashion_mnist", "mlp"),
    _paper_image("cifar10_cnn", "cifar10", "cnn"),             # 100 x 391 = 39,100 steps
    *(_null(n) for n in (2, 15, 650, 100_000)),
    *(_drift(name) for name in objectives.DRIFTING),
    _sequence("digits_mlp_seq_pixels", "pixels"),
    _sequence("digits_mlp_seq_labels", "labels"),
]}
NULL_TASKS = tuple(t for t in TASKS if TASKS[t].kind == "null")
#: the drifting tasks (preset ``drift``): the ideal rate changes at step ``change_at``
DRIFT_TASKS = tuple(t for t in TASKS if TASKS[t].role == "drift")
