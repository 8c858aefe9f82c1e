"""What ``python -m clara_ref reproduce`` runs: tasks, optimizers, initial rates, seeds, protocols and presets.

Tasks follow the CLARA paper (arXiv 2508.05408) and its code: noisy sphere and ellipsoid (n = 10, condition 1e6,
x0 = 100, noise sd 0.1, 500 steps), noisy Rosenbrock (n = 2, x0 = (-1.2, 1), 1000 steps), softmax regression on
iris, wine, breast_cancer and digits (100 epochs, batch 128). Two tasks are clara_ref's own:

* ``ellipsoid_rotated``: the ellipsoid turned by a fixed seeded rotation. Adam cannot tell the axis-aligned
  ellipsoid from the sphere (it is invariant to per-coordinate scaling and x0 is equal in every coordinate), so the
  claims use the rotated one in its place and the tables keep the paper's.
* ``digits_mlp`` / ``digits_mlp_long``: an MLP 64-128-64-10 on digits standing in for the paper's image tasks at a
  matched step budget (for readers without the image data). A path rule can move the rate by at most a factor exp(d (K/ref - 1) T) in T steps, so the
  number of optimizer steps, not the dataset, decides whether a rate can recover: ``digits_mlp`` runs 12,150 steps
  (batch 32, 270 epochs), ``digits_mlp_long`` 46,935 (batch 32, 1043 epochs), the paper's MNIST budget of about
  46,900 (100 epochs of 469 batches of 128). Both run in float32, the precision of the paper's torch runs.

The paper's own image tasks (preset ``paper-images``; the data from the official files, ``clara_ref.images``):
``mnist_mlp`` and ``fashion_mnist_mlp`` (the MLP 784-256-128-10, torch's default initialisation, 235,146
parameters) and ``cifar10_cnn`` (``clara_ref.cnn.paper_cnn``, 2,193,226 parameters); 100 epochs of batch 128
(469 and 391 steps per epoch), float32, as the authors ran them.

CLARA's damping is d = "auto" on the synthetic tasks (the authors' class default, which their synthetic notebooks
did not override) and d = 1e-3 on real data (all their runs).

Protocols (``RunSpec.protocol``) change only the real-data tasks: ``"clara_ref"`` (default) standardises features
and splits 80/20 stratified by the seed; ``"authors"`` runs them as the CLARA authors did: raw features, a plain
shuffled 80/20 split (seeded here; theirs was not), and Adam-CLARA compared with K mu(N) from their table
(``clara_ref.authors``) instead of the sum of per-block expectations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

import clara_ref as cr

__all__ = ["Task", "TASKS", "OPTIMIZERS", "RATES", "PROTOCOLS", "PRESETS", "Preset", "RunSpec", "build_optimizer",
           "expand", "load_data", "PAPER_TASKS", "PAPER_IMAGE_TASKS"]

RATES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
PROTOCOLS = ("clara_ref", "authors")


@dataclass(frozen=True)
class Task:
    """A benchmark task. ``kind`` is "synthetic" (metric: final distance to the optimum, lower is better) or
    "classification" (metric: final test accuracy, higher is better); ``role`` is "synthetic", "tabular" or
    "image" (the image stand-in that claim C3 looks at). ``dtype`` is the precision of the parameters."""

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

    @property
    def metric_name(self) -> str:
        return "final distance to optimum" if self.kind == "synthetic" else "test accuracy"

    @property
    def lower_is_better(self) -> bool:
        return self.kind == "synthetic"

    @property
    def steps_per_epoch(self) -> int:
        """Minibatches per epoch (the last one may be smaller); 1 for synthetic tasks, whose unit is the step."""
        return 1 if self.kind == "synthetic" else math.ceil(cr.data.n_train(self.dataset) / self.batch_size)

    @property
    def steps_total(self) -> int:
        """Optimizer steps of one run: ``steps`` for synthetic tasks, epochs x batches per epoch for data tasks."""
        return self.steps if self.kind == "synthetic" else self.epochs * self.steps_per_epoch

    @property
    def chance(self) -> float | None:
        """Test accuracy of guessing one class (1 / classes), or None for synthetic tasks."""
        return None if self.kind == "synthetic" else 1.0 / self.sizes[-1]

    def model(self):
        if self.arch == "cnn":
            return cr.models.paper_cnn()
        if len(self.sizes) > 2:
            return cr.models.mlp(self.sizes, init=self.init)
        return cr.models.softmax_regression(*self.sizes)

    @property
    def official_images(self) -> bool:
        """A task on one of the paper's image datasets (their files, not bundled)."""
        return self.dataset in cr.data.IMAGES

    def tensor_blocks(self):
        """One block per weight and per bias (the CLARA authors' per-tensor normalisation), or None."""
        return None if self.kind == "synthetic" else self.model().block_sizes

    def layer_blocks(self):
        """One block per layer, weight and bias together (the 2017 code), or None."""
        if self.kind == "synthetic":
            return None
        b = self.model().block_sizes
        return tuple(b[i] + b[i + 1] for i in range(0, len(b), 2))

    def n_params(self) -> int:
        return self.n if self.kind == "synthetic" else self.model().n_params

    def scaled(self, factor: float) -> "Task":
        """A shorter copy (for the quick and smoke presets)."""
        return replace(self, steps=max(1, int(self.steps * factor)), epochs=max(1, int(self.epochs * factor)))

    def n_params_cost(self) -> float:
        """A relative cost of one step, for scheduling long runs first."""
        if self.kind == "synthetic":
            return 1.0
        return 20.0 + self.n_params() / (50.0 if self.arch == "cnn" else 1000.0)


def _synthetic(name, objective, n, steps):
    return Task(name, "synthetic", "synthetic", objective=objective, n=n, noise=0.1, steps=steps, damping="auto")


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
]}

#: optimizer name -> (family, short description)
OPTIMIZERS = {
    "sgd": ("sgd", "SGD, constant rate"),
    "sgd-clara": ("sgd", "SGD-CLARA: clara(sgd_direction()), raw moves, per-tensor blocks"),
    "sgd-clara-us": ("sgd", "SGD-CLARA-us: clara(sgd_direction(), move='unit')"),
    "adam": ("adam", "Adam, constant rate"),
    "adam-clara": ("adam", "Adam-CLARA: clara(adam_direction()), raw moves, per-tensor blocks"),
    "adam-clara-us": ("adam", "Adam-CLARA-us: clara(adam_direction(), move='unit')"),
    "adam-alera": ("adam", "Adam with the 2017 rule: alera(adam_direction()), layer blocks"),
    "dadapt-adam": ("baseline", "D-Adaptation Adam, d0 = initial rate (as the CLARA authors ran it)"),
    "prodigy": ("baseline", "Prodigy, d0 = initial rate"),
}


@dataclass(frozen=True)
class RunSpec:
    """One run: a task, an optimizer, an initial rate (d0 for the baselines), a seed, optionally a damping that
    overrides the task's default (the ``damping`` preset), a step scale (fast presets), a protocol and an epoch
    count that overrides the task's (``reproduce --epochs``)."""

    task: str
    optimizer: str
    eta0: float
    seed: int
    damping: object = None
    scale: float = 1.0
    protocol: str = "clara_ref"
    epochs: int | None = None

    @property
    def run_id(self) -> str:
        """A file name that encodes every field exactly (two different runs never share it): the grid's round
        numbers keep their short form (``lr1e-03``), any other value is written in full (``lr0.0014``)."""
        d = "" if self.damping is None else f"_d{self.damping}"
        s = "" if self.scale == 1.0 else f"_x{_exact(self.scale, 'g')}"
        p = "" if self.protocol == "clara_ref" else f"_{self.protocol}"
        e = "" if self.epochs is None else f"_e{self.epochs}"
        return f"{self.task}__{self.optimizer}{d}__lr{_exact(self.eta0, '.0e')}__s{self.seed}{s}{p}{e}"

    @property
    def label(self) -> str:
        return self.optimizer if self.damping is None else f"{self.optimizer}[d={self.damping}]"

    def resolved_task(self) -> Task:
        task = TASKS[self.task]
        task = task if self.scale == 1.0 else task.scaled(self.scale)
        return task if self.epochs is None else replace(task, epochs=self.epochs)


def _exact(x: float, fmt: str) -> str:
    """``x`` in the short format ``fmt`` when that reads back as exactly ``x``, else its full repr."""
    short = format(x, fmt)
    return short if float(short) == x else repr(float(x))


def build_optimizer(spec: RunSpec):
    """``(optimizer, damping setting, damping value)`` of a run: the setting as given (``"auto"`` or a number) and
    its value for this task's blocks (both None for methods without a path rule). For the 2017 rule the value is
    the effective damping C mu / sigma its C was chosen for."""
    task = TASKS[spec.task]
    d = task.damping if spec.damping is None else spec.damping
    name, eta0 = spec.optimizer, spec.eta0
    blocks = task.tensor_blocks()
    if name == "sgd":
        return cr.sgd(eta0), None, None
    if name == "adam":
        return cr.adam(eta0), None, None
    if name in ("sgd-clara", "sgd-clara-us", "adam-clara", "adam-clara-us"):
        adam_based = name.startswith("adam")
        direction = cr.adam_direction() if adam_based else cr.sgd_direction()
        reference = "direction"
        if adam_based and spec.protocol == "authors" and task.kind != "synthetic":
            # K mu(N) from the authors' table (N = total parameters; nearest entry in log N when theirs lacks N)
            reference = cr.authors.adam_reference(task.n_params(), len(blocks), nearest=True)
        opt = cr.clara(direction, eta0, d=d, move="unit" if name.endswith("-us") else "raw", blocks=blocks,
                       reference=reference)
        return opt, d, opt.damping(blocks or (task.n,))
    if name == "adam-alera":
        # C is chosen so that the effective damping C mu / sigma of the largest block equals the d that
        # Adam-CLARA uses on this task ("auto" resolved for the Adam step path).
        layer_blocks = task.layer_blocks()
        n = max(layer_blocks) if layer_blocks else task.n_params()
        if d == "auto":
            d_num = cr.clara(cr.adam_direction(), eta0, d="auto", blocks=blocks).damping(blocks or (task.n,))
        else:
            d_num = float(d)
        return cr.alera(cr.adam_direction(), eta0, C=cr.C_for_damping(d_num, n), blocks=layer_blocks), d, d_num
    if name == "dadapt-adam":
        return cr.dadapt_adam(d0=eta0), None, None
    if name == "prodigy":
        return cr.prodigy(d0=eta0), None, None
    raise ValueError(f"unknown optimizer {name!r}")


def load_data(spec: RunSpec, data_dir=None):
    """The run's dataset, split and scaled as its protocol says. The paper's image sets come from ``data_dir``
    (their official split and scaling under both protocols, as the authors ran them); the command line checks
    their files once before the sweep, so a run reads them unverified."""
    task = TASKS[spec.task]
    if task.official_images:
        return cr.data.load(task.dataset, data_dir=data_dir, verify=False)
    authors = spec.protocol == "authors"
    return cr.data.load(task.dataset, seed=spec.seed, standardize=not authors, stratify=not authors)


@dataclass(frozen=True)
class Preset:
    """A named grid. ``scale`` shortens every task (steps and epochs) for fast presets; ``task_scales`` overrides
    it per task, as ``((task, scale), ...)``."""

    name: str
    tasks: tuple
    optimizers: tuple
    rates: tuple
    seeds: tuple
    dampings: tuple = (None,)
    scale: float = 1.0
    task_scales: tuple = ()
    note: str = ""

    def scale_of(self, task: str) -> float:
        return dict(self.task_scales).get(task, self.scale)


PAPER_TASKS = tuple(t for t in TASKS if t != "digits_mlp_long" and not TASKS[t].official_images)
PAPER_IMAGE_TASKS = ("mnist_mlp", "fashion_mnist_mlp", "cifar10_cnn")

PRESETS = {
    "paper": Preset("paper", PAPER_TASKS, tuple(OPTIMIZERS), RATES, (0, 1, 2, 3, 4),
                    note="the paper's grid: synthetic, tabular and the step-matched digits MLP (12,150 steps)"),
    "images": Preset("images", ("digits_mlp_long",),
                     ("sgd", "sgd-clara", "sgd-clara-us", "adam", "adam-clara", "adam-clara-us", "dadapt-adam",
                      "prodigy"), RATES, (0, 1, 2, 3, 4),
                     note="the digits MLP at the paper's MNIST budget (46,935 steps)"),
    "paper-images": Preset("paper-images", PAPER_IMAGE_TASKS, tuple(OPTIMIZERS), RATES, (0, 1, 2, 3, 4),
                           note="the paper's own image tasks from the official files (MNIST and Fashion-MNIST MLP, "
                           "CIFAR-10 CNN; 100 epochs of batch 128); needs the data (--data-dir, --download)"),
    "quick": Preset("quick", ("sphere", "ellipsoid_rotated", "iris", "wine", "digits_mlp"),
                    ("sgd", "sgd-clara", "adam", "adam-clara", "dadapt-adam"), RATES, (0, 1), scale=0.5,
                    task_scales=(("digits_mlp", 0.1),),
                    note="a subset at half the steps (the digits MLP at a tenth) that runs in about a minute on "
                    "2 cores"),
    "damping": Preset("damping", ("sphere", "ellipsoid_rotated", "iris", "digits", "digits_mlp"),
                      ("sgd", "sgd-clara", "sgd-clara-us", "adam", "adam-clara", "adam-clara-us"), RATES, (0, 1, 2),
                      dampings=(1e-4, 1e-3, 1e-2, "auto"),
                      note="CLARA's damping d swept over {1e-4, 1e-3, 1e-2, auto}, with the fixed-rate baselines"),
    "smoke": Preset("smoke", ("sphere", "iris"), ("sgd", "sgd-clara", "adam", "adam-clara", "dadapt-adam"),
                    (1e-4, 1e-2, 1.0), (0, 1), scale=0.1, note="a seconds-long end-to-end check (used by the tests)"),
}


def expand(preset: Preset, tasks=None, optimizers=None, rates=None, seeds=None,
           protocol: str = "clara_ref", epochs: int | None = None) -> list[RunSpec]:
    """Every RunSpec of ``preset``, restricted by the optional filters (validated: unknown names raise).

    The protocol only changes real-data tasks: synthetic runs keep ``"clara_ref"`` (and are shared between both).
    ``epochs`` overrides the epochs of the data tasks (synthetic tasks count steps and keep theirs).
    """
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    # a repeated task, optimizer, rate or seed would run twice and count twice in the medians: keep the first
    tasks = tuple(dict.fromkeys(preset.tasks if tasks is None else tasks))
    optimizers = tuple(dict.fromkeys(preset.optimizers if optimizers is None else optimizers))
    rates = tuple(dict.fromkeys(preset.rates if rates is None else rates))
    seeds = tuple(dict.fromkeys(preset.seeds if seeds is None else seeds))
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    for t in tasks:
        if t not in TASKS:
            raise ValueError(f"unknown task {t!r}; choose from {', '.join(TASKS)}")
    for o in optimizers:
        if o not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {o!r}; choose from {', '.join(OPTIMIZERS)}")
    for r in rates:
        if not (isinstance(r, float) and r > 0 and math.isfinite(r)):
            raise ValueError(f"initial rates must be positive numbers, got {r!r}")
    for s in seeds:
        if not (isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0):
            raise ValueError(f"seeds must be non-negative ints, got {s!r}")
    specs = []
    for t in tasks:
        proto = "clara_ref" if TASKS[t].kind == "synthetic" else protocol
        ep = None if TASKS[t].kind == "synthetic" else epochs
        for o in optimizers:
            dampings = preset.dampings if "clara" in o or o == "adam-alera" else (None,)
            for d in dampings:
                for r in rates:
                    for s in seeds:
                        specs.append(RunSpec(t, o, float(r), int(s), d, preset.scale_of(t), proto, ep))
    return specs
