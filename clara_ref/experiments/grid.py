"""What ``python -m clara_ref reproduce`` runs: tasks, optimizers, initial rates, seeds and presets.

Tasks and damping follow SPEC §5 (clara_ref's product spec), which follows the CLARA paper (arXiv 2508.05408) and
its code: noisy sphere and ellipsoid (n = 10, condition 1e6, x0 = 100, noise sd 0.1, 500 steps), noisy Rosenbrock
(n = 2, x0 = (-1.2, 1), 1000 steps), softmax regression on iris, wine, breast_cancer and digits (100 epochs,
batch 128), and an MLP 64-128-64-10 on digits (50 epochs, batch 128) standing in for the paper's image tasks
(MNIST and CIFAR cannot be loaded offline). CLARA's damping is d = "auto" on the synthetic tasks (the authors'
class default, which their synthetic notebooks did not override) and d = 1e-3 on real data (all their runs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import clara_ref as cr

__all__ = ["Task", "TASKS", "OPTIMIZERS", "RATES", "PRESETS", "RunSpec", "build_optimizer", "expand"]

RATES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


@dataclass(frozen=True)
class Task:
    """A benchmark task. ``kind`` is "synthetic" (metric: final distance to the optimum, lower is better) or
    "classification" (metric: final test accuracy, higher is better)."""

    name: str
    kind: str
    objective: str = ""
    n: int = 0
    noise: float = 0.0
    steps: int = 0
    dataset: str = ""
    sizes: tuple = ()
    epochs: int = 0
    batch_size: int = 128
    damping: object = 1e-3

    @property
    def metric_name(self) -> str:
        return "final distance to optimum" if self.kind == "synthetic" else "test accuracy"

    @property
    def lower_is_better(self) -> bool:
        return self.kind == "synthetic"

    def model(self):
        return cr.models.mlp(self.sizes) if len(self.sizes) > 2 else cr.models.softmax_regression(*self.sizes)

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
        from dataclasses import replace

        return replace(self, steps=max(1, int(self.steps * factor)), epochs=max(1, int(self.epochs * factor)))


def _synthetic(name, objective, n, steps):
    return Task(name, "synthetic", objective=objective, n=n, noise=0.1, steps=steps, damping="auto")


def _classification(name, dataset, sizes, epochs):
    return Task(name, "classification", dataset=dataset, sizes=sizes, epochs=epochs, batch_size=128, damping=1e-3)


TASKS = {t.name: t for t in [
    _synthetic("sphere", "sphere", 10, 500),
    _synthetic("ellipsoid", "ellipsoid", 10, 500),
    _synthetic("rosenbrock", "rosenbrock", 2, 1000),
    _classification("iris", "iris", (4, 3), 100),
    _classification("wine", "wine", (13, 3), 100),
    _classification("breast_cancer", "breast_cancer", (30, 2), 100),
    _classification("digits", "digits", (64, 10), 100),
    _classification("digits_mlp", "digits", (64, 128, 64, 10), 50),
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
    """One run: a task, an optimizer, an initial rate (d0 for the baselines), a seed and, optionally, a damping
    that overrides the task's default (the ``damping`` preset)."""

    task: str
    optimizer: str
    eta0: float
    seed: int
    damping: object = None
    scale: float = 1.0

    @property
    def run_id(self) -> str:
        d = "" if self.damping is None else f"_d{self.damping}"
        s = "" if self.scale == 1.0 else f"_x{self.scale:g}"
        return f"{self.task}__{self.optimizer}{d}__lr{self.eta0:.0e}__s{self.seed}{s}"

    @property
    def label(self) -> str:
        return self.optimizer if self.damping is None else f"{self.optimizer}[d={self.damping}]"

    def resolved_task(self) -> Task:
        task = TASKS[self.task]
        return task if self.scale == 1.0 else task.scaled(self.scale)


def build_optimizer(spec: RunSpec):
    """The clara_ref optimizer of a run, and the CLARA damping it uses (None for methods without one)."""
    task = TASKS[spec.task]
    d = task.damping if spec.damping is None else spec.damping
    name, eta0 = spec.optimizer, spec.eta0
    blocks = task.tensor_blocks()
    if name == "sgd":
        return cr.sgd(eta0), None
    if name == "adam":
        return cr.adam(eta0), None
    if name in ("sgd-clara", "sgd-clara-us", "adam-clara", "adam-clara-us"):
        direction = cr.sgd_direction() if name.startswith("sgd") else cr.adam_direction()
        opt = cr.clara(direction, eta0, d=d, move="unit" if name.endswith("-us") else "raw", blocks=blocks)
        return opt, d
    if name == "adam-alera":
        # C is chosen so that the effective damping C mu / sigma of the largest block equals the d that
        # Adam-CLARA uses on this task ("auto" resolved for the Adam step path).
        layer_blocks = task.layer_blocks()
        n = max(layer_blocks) if layer_blocks else task.n_params()
        if d == "auto":
            d_num = cr.clara(cr.adam_direction(), eta0, d="auto", blocks=blocks).damping(blocks or (task.n,))
        else:
            d_num = float(d)
        return cr.alera(cr.adam_direction(), eta0, C=cr.C_for_damping(d_num, n), blocks=layer_blocks), d_num
    if name == "dadapt-adam":
        return cr.dadapt_adam(d0=eta0), None
    if name == "prodigy":
        return cr.prodigy(d0=eta0), None
    raise ValueError(f"unknown optimizer {name!r}")


@dataclass(frozen=True)
class Preset:
    """A named grid. ``scale`` shortens every task (steps and epochs) for fast presets."""

    name: str
    tasks: tuple
    optimizers: tuple
    rates: tuple
    seeds: tuple
    dampings: tuple = (None,)
    scale: float = 1.0
    note: str = ""


PRESETS = {
    "paper": Preset("paper", tuple(TASKS), tuple(OPTIMIZERS), RATES, (0, 1, 2, 3, 4),
                    note="the full grid of SPEC §5"),
    "quick": Preset("quick", ("sphere", "ellipsoid", "iris", "wine", "digits_mlp"),
                    ("sgd", "sgd-clara", "adam", "adam-clara", "dadapt-adam"), RATES, (0, 1), scale=0.5,
                    note="a subset at half the steps/epochs that runs in under a minute on 2 cores"),
    "damping": Preset("damping", ("sphere", "ellipsoid", "iris", "digits"),
                      ("sgd-clara", "adam-clara"), RATES, (0, 1, 2), dampings=(1e-4, 1e-3, 1e-2, "auto"),
                      note="CLARA's damping d swept over {1e-4, 1e-3, 1e-2, auto}"),
    "smoke": Preset("smoke", ("sphere", "iris"), ("sgd", "sgd-clara", "adam", "adam-clara", "dadapt-adam"),
                    (1e-4, 1e-2, 1.0), (0, 1), scale=0.1, note="a seconds-long end-to-end check (used by the tests)"),
}


def expand(preset: Preset, tasks=None, optimizers=None, rates=None, seeds=None) -> list[RunSpec]:
    """Every RunSpec of ``preset``, restricted by the optional filters (validated: unknown names raise)."""
    tasks = preset.tasks if tasks is None else tuple(tasks)
    optimizers = preset.optimizers if optimizers is None else tuple(optimizers)
    rates = preset.rates if rates is None else tuple(rates)
    seeds = preset.seeds if seeds is None else tuple(seeds)
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
        if not (isinstance(s, int) and s >= 0):
            raise ValueError(f"seeds must be non-negative ints, got {s!r}")
    specs = []
    for t in tasks:
        for o in optimizers:
            dampings = preset.dampings if "clara" in o or o == "adam-alera" else (None,)
            for d in dampings:
                for r in rates:
                    for s in seeds:
                        specs.append(RunSpec(t, o, float(r), int(s), d, preset.scale))
    return specs
