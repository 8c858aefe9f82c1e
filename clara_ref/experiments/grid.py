"""What ``python -m clara_ref reproduce`` runs: run specs, optimizers, protocols and presets, over the tasks of
``clara_ref.experiments.tasks`` (re-exported here, the grid's face).

The ablation ``adam-clara-uncorrected`` is ``clara(adam_direction(), path_of="gradient",
reference="random_walk")`` with everything else as ``adam-clara`` (blocks, move, d). It moves the rate faster: the
largest rise per step is exp(d (K/ref - 1)), and K/ref - 1 is 8 against the random walk's reference but about 0.47
against Adam's, so ``adam-clara-uncorrected-matched`` runs it with d scaled by (K/ref_Adam - 1)/(K/ref_rw - 1),
which makes the two rules' fastest rise equal: a difference between those two is the correction's, not the speed's.

Protocols (``RunSpec.protocol``) change only the real-data tasks: ``"clara_ref"`` (default) standardises features
and splits 80/20 stratified by the seed; ``"authors"`` runs them as the CLARA authors did: raw features, a plain
shuffled 80/20 split (seeded here; theirs was not), and Adam-CLARA compared with K mu(N) from their table
(``clara_ref.authors``) instead of the sum of per-block expectations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .. import data
from .torch_engine import ENGINES, TORCH_OPTIMIZERS, check_device, check_optimizers
from .optimizers import (OPTIMIZERS, PATH_CONSTANT, SCHEDULE_NAMES, Setting,  # noqa: F401 (grid's face)
                         speed_matched_damping)
from .tasks import (DRIFT_TASKS, NULL_BURN_IN, NULL_ONLY, NULL_RULES, NULL_TASKS, PERMUTATION_SEED,  # noqa: F401
                    PROTOCOLS, RATES, TASKS, Task)
from clara_ref import _validate as V

__all__ = ["Task", "TASKS", "OPTIMIZERS", "RATES", "PROTOCOLS", "PRESETS", "Preset", "RunSpec", "build_optimizer",
           "expand", "load_data", "load_sequence", "PAPER_TASKS", "PAPER_IMAGE_TASKS", "PAPER_OPTIMIZERS", "NULL_TASKS",
           "NULL_RULES", "NULL_BURN_IN", "NULL_ONLY", "PATH_CONSTANT", "speed_matched_damping", "DRIFT_TASKS",
           "DRIFT_OPTIMIZERS", "PERMUTATION_SEED"]


@dataclass(frozen=True)
class RunSpec:
    """One run: a task, an optimizer, an initial rate (d0 for the baselines), a seed, optionally a damping and a
    path constant that override the task's defaults (the ``damping`` preset), a step scale (fast presets), a
    protocol, an epoch count that overrides the task's (``reproduce --epochs``), and the engine that trains it
    (``"numpy"``, clara_ref's own models; ``"torch"``, the image tasks on torch, ``clara_ref.experiments.
    torch_engine``) with its device."""

    task: str
    optimizer: str
    eta0: float
    seed: int
    damping: object = None
    scale: float = 1.0
    protocol: str = "clara_ref"
    epochs: int | None = None
    c: float | None = None
    engine: str = "numpy"
    device: str = "cpu"

    @property
    def run_id(self) -> str:
        """A file name that encodes every field exactly (two different runs never share it): the grid's round
        numbers keep their short form (``lr1e-03``), any other value is written in full (``lr0.0014``); a torch
        run ends in ``__torch-<device>``, so that resuming never takes a NumPy run for a torch one."""
        d = "" if self.damping is None else f"_d{self.damping}"
        c = "" if self.c is None else f"_c{_exact(self.c, 'g')}"
        s = "" if self.scale == 1.0 else f"_x{_exact(self.scale, 'g')}"
        p = "" if self.protocol == "clara_ref" else f"_{self.protocol}"
        e = "" if self.epochs is None else f"_e{self.epochs}"
        g = "" if self.engine == "numpy" else f"__{self.engine}-{self.device.replace(':', '')}"
        return f"{self.task}__{self.optimizer}{d}{c}__lr{_exact(self.eta0, '.0e')}__s{self.seed}{s}{p}{e}{g}"

    @property
    def label(self) -> str:
        """The optimizer as the tables show it, with the damping and path constant of a sweep (display only: the
        records carry ``damping_setting`` and ``c`` as fields, and nothing parses them back from here)."""
        extra = ([] if self.damping is None else [f"d={self.damping}"]) + ([] if self.c is None else [f"c={self.c:g}"])
        return self.optimizer if not extra else f"{self.optimizer}[{','.join(extra)}]"

    def resolved_task(self) -> Task:
        task = TASKS[self.task]
        task = task if self.scale == 1.0 else task.scaled(self.scale)
        return task if self.epochs is None else replace(task, epochs=self.epochs)


def _exact(x: float, fmt: str) -> str:
    """``x`` in the short format ``fmt`` when that reads back as exactly ``x``, else its full repr."""
    short = format(x, fmt)
    return short if float(short) == x else repr(float(x))


def build_optimizer(spec: RunSpec):
    """``(optimizer, damping setting, damping value)`` of a run, from its row of the optimizer table
    (``clara_ref.experiments.optimizers``): the damping and path constant are the run's, else the task's."""
    if spec.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {spec.optimizer!r}")
    task = TASKS[spec.task]
    d = task.damping if spec.damping is None else spec.damping
    c = PATH_CONSTANT if spec.c is None else spec.c
    return OPTIMIZERS[spec.optimizer].build(Setting(eta0=spec.eta0, protocol=spec.protocol, task=task, d=d, c=c,
                                                    steps=spec.resolved_task().steps_total))


def load_data(spec: RunSpec, data_dir=None):
    """The run's dataset, split and scaled as its protocol says. The paper's image sets come from ``data_dir``
    (their official split and scaling under both protocols, as the authors ran them); the command line checks
    their files once before the sweep, so a run reads them unverified."""
    task = TASKS[spec.task]
    if task.official_images:
        return data.load(task.dataset, data_dir=data_dir, verify=False)
    as_authors = spec.protocol == "authors"
    return data.load(task.dataset, seed=spec.seed, standardize=not as_authors, stratify=not as_authors)


def load_sequence(spec: RunSpec, data_dir=None) -> tuple:
    """The two datasets of a task in sequence: the run's data (``load_data``) and the same data with the pixels or
    the labels permuted by the permutation of seed PERMUTATION_SEED (one for every run, whatever its seed)."""
    task = TASKS[spec.task]
    first = load_data(spec, data_dir)
    return first, data.permuted(first, task.sequence, seed=PERMUTATION_SEED)


@dataclass(frozen=True)
class Preset:
    """A named grid. ``scale`` shortens every task (steps and epochs) for fast presets; ``task_scales`` overrides
    it per task, as ``((task, scale), ...)``; a preset that shortens any task is a ``demonstration``: its
    verdicts are at reduced budgets. ``dampings`` sweeps CLARA's d; ``path_constants`` sweeps c at each of
    ``path_constant_dampings`` for the ``path_constant_optimizers``. ``decide_seeds`` > 0: a claim whose verdict
    is not robust gets more seeds on its deciding cells, up to that many, within ``decide_budget_s`` seconds of
    extra runs (``clara_ref.experiments.decide``)."""

    name: str
    tasks: tuple
    optimizers: tuple
    rates: tuple
    seeds: tuple
    dampings: tuple = (None,)
    scale: float = 1.0
    task_scales: tuple = ()
    note: str = ""
    path_constants: tuple = ()
    path_constant_dampings: tuple = ()
    path_constant_optimizers: tuple = ()
    decide_seeds: int = 0
    decide_budget_s: float = 0.0

    def scale_of(self, task: str) -> float:
        return dict(self.task_scales).get(task, self.scale)

    @property
    def demonstration(self) -> bool:
        """Does this preset shorten its tasks? Its verdicts then demonstrate the claims at reduced budgets; the
        ``paper`` and ``images`` presets are the test."""
        return self.scale != 1.0 or any(x != 1.0 for _, x in self.task_scales)

    def settings(self, optimizer: str) -> list:
        """The (damping, c) pairs an optimizer runs at: the d sweep at the default c, then the c sweep (c = 0.2 is
        the default and already in the d sweep) at each of ``path_constant_dampings``; (None, None) for methods
        without a path rule."""
        if "clara" not in optimizer and optimizer != "adam-alera":
            return [(None, None)]
        pairs = [(d, None) for d in self.dampings]
        if optimizer in self.path_constant_optimizers:
            pairs += [(d, c) for d in self.path_constant_dampings for c in self.path_constants if c != PATH_CONSTANT]
        return pairs


PAPER_TASKS = tuple(t for t in TASKS if t != "digits_mlp_long" and not TASKS[t].official_images
                    and TASKS[t].kind != "null" and TASKS[t].role != "drift")
PAPER_IMAGE_TASKS = ("mnist_mlp", "fashion_mnist_mlp", "cifar10_cnn")
#: the nine optimizers of the paper's grid (without clara_ref's ablations of the correction)
PAPER_OPTIMIZERS = ("sgd", "sgd-clara", "sgd-clara-us", "adam", "adam-clara", "adam-clara-us", "adam-alera",
                    "dadapt-adam", "prodigy")

#: the drift preset's optimizers: the adaptive rules, the fixed rates, the schedules and the rate-free baselines
DRIFT_OPTIMIZERS = ("sgd", "sgd-clara", "adam", "adam-clara", "adam-clara-uncorrected", "adam-alera", "sgd-cosine",
                    "adam-cosine", "sgd-step", "adam-step", "dadapt-adam", "prodigy")

#: the paper preset's optimizers: every row of the table, the schedules included (C7 compares CLARA with them;
#: C2, C4 and C5 never count them as fixed rates)
PAPER_GRID = tuple(OPTIMIZERS)

PRESETS = {
    "paper": Preset("paper", PAPER_TASKS + NULL_TASKS, PAPER_GRID, RATES, (0, 1, 2, 3, 4),
                    note="the paper's grid: synthetic, tabular and the step-matched digits MLP (12,150 steps), the "
                    "uncorrected ablation and the pure-noise tasks", decide_seeds=20, decide_budget_s=600.0),
    "images": Preset("images", ("digits_mlp_long",),
                     ("sgd", "sgd-clara", "sgd-clara-us", "adam", "adam-clara", "adam-clara-us", "dadapt-adam",
                      "prodigy"), RATES, (0, 1, 2, 3, 4),
                     note="the digits MLP at the paper's MNIST budget (46,935 steps)", decide_seeds=20,
                     decide_budget_s=900.0),
    "paper-images": Preset("paper-images", PAPER_IMAGE_TASKS, PAPER_OPTIMIZERS, RATES, (0, 1, 2, 3, 4),
                           note="the paper's own image tasks from the official files (MNIST and Fashion-MNIST MLP, "
                           "CIFAR-10 CNN; 100 epochs of batch 128); needs the data (--data-dir, --download)"),
    "quick": Preset("quick", ("sphere", "ellipsoid_rotated", "iris", "wine", "digits_mlp", "pure_noise_2",
                              "pure_noise_15", "pure_noise_650"),
                    ("sgd", "sgd-clara", "adam", "adam-clara", "adam-clara-uncorrected",
                     "adam-clara-uncorrected-matched", "adam-clara-mismatched", "dadapt-adam"), RATES, (0, 1),
                    scale=0.5, task_scales=(("digits_mlp", 0.1),),
                    note="a subset at half the steps (the digits MLP at a tenth) that runs in about a minute on "
                    "2 cores: a demonstration of the claims, not their test"),
    "damping": Preset("damping", ("sphere", "ellipsoid_rotated", "iris", "digits", "digits_mlp"),
                      ("sgd", "sgd-clara", "sgd-clara-us", "adam", "adam-clara", "adam-clara-us"), RATES, (0, 1, 2),
                      dampings=(1e-4, 1e-3, 1e-2, "auto"), path_constants=(0.05, 0.1, 0.2, 0.5),
                      path_constant_dampings=(1e-3, "auto"), path_constant_optimizers=("sgd-clara", "adam-clara"),
                      note="CLARA's damping d swept over {1e-4, 1e-3, 1e-2, auto} and its path constant c over "
                      "{0.05, 0.1, 0.2, 0.5} (at d = 1e-3 and auto), with the fixed-rate baselines"),
    "drift": Preset("drift", DRIFT_TASKS, DRIFT_OPTIMIZERS, RATES, (0, 1, 2, 3, 4),
                    note="the drifting tasks (beyond the paper): the ideal rate changes at step 501 of 1,000"),
    "smoke": Preset("smoke", ("sphere", "iris"), ("sgd", "sgd-clara", "adam", "adam-clara", "dadapt-adam"),
                    (1e-4, 1e-2, 1.0), (0, 1), scale=0.1, note="a seconds-long end-to-end check (used by the tests)"),
}


def expand(preset: Preset, tasks=None, optimizers=None, rates=None, seeds=None,
           protocol: str = "clara_ref", epochs: int | None = None, engine: str = "numpy",
           device: str = "cpu") -> list[RunSpec]:
    """Every RunSpec of ``preset``, restricted by the optional filters (validated: unknown names raise).

    The protocol only changes real-data tasks: synthetic and pure-noise runs keep ``"clara_ref"`` (and are shared
    between both). ``epochs`` overrides the epochs of the data tasks (stepwise tasks count steps and keep theirs).
    A task that names its optimizers (the pure-noise tasks) runs only those of the filter's that it names; one that
    names its rates runs those of the filter's that it names, or all of its own when the filter keeps none of
    them.

    ``engine="torch"`` (with ``device``) runs the paper's image tasks on torch (``clara_ref.experiments.
    torch_engine``) and refuses any other task; of the preset's optimizers it keeps those the torch engine provides
    (:func:`torch_left_out` names the others), and optimizers named in the filter that it does not provide are
    refused by name.
    """
    device = check_device(device)
    optimizers = _engine_optimizers(preset, tasks, optimizers, engine, device)
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
        if not (isinstance(s, (int, np.integer)) and not isinstance(s, bool) and 0 <= s <= V.MAX_SEED):
            raise ValueError(f"seeds must be ints in [0, {V.MAX_SEED}] (the range scikit-learn's splits take), got "
                             f"{s!r}")
    specs = []
    for t in tasks:
        task = TASKS[t]
        proto = "clara_ref" if task.stepwise else protocol
        ep = None if task.stepwise else epochs
        # a task of its own rates runs at those the filter keeps, or at all of them if it keeps none (the pure-noise
        # tasks: without signal, log eta_t - log eta_B does not depend on where the rate starts)
        task_rates = rates if task.rates is None else [r for r in rates if r in task.rates] or list(task.rates)
        for o in optimizers:
            if not task.runs(o):
                continue
            for d, c in preset.settings(o):
                for r in task_rates:
                    for s in seeds:
                        specs.append(RunSpec(t, o, float(r), int(s), d, preset.scale_of(t), proto, ep, c,
                                             engine, device))
    return specs


def _engine_optimizers(preset: Preset, tasks, optimizers, engine: str, device: str):
    """The optimizer filter for ``engine`` on ``device`` (already checked): on torch, the preset's optimizers that
    it provides, or the filter's, refused by name where it lacks one; and the tasks must be the image tasks."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if engine == "numpy" and device != "cpu":
        raise ValueError(f"the numpy engine runs on the cpu; device {device!r} needs --engine torch")
    if engine == "numpy":
        return optimizers
    if optimizers is None:
        optimizers = [o for o in preset.optimizers if o in TORCH_OPTIMIZERS]
    else:
        check_optimizers(o for o in optimizers if o in OPTIMIZERS)
    others = [t for t in (preset.tasks if tasks is None else tasks) if t in TASKS and not TASKS[t].official_images]
    if others:
        raise ValueError(f"the torch engine runs the paper's image tasks ({', '.join(PAPER_IMAGE_TASKS)}) only, "
                         f"not {', '.join(others)}")
    return optimizers


def torch_left_out(preset: Preset, optimizers=None) -> tuple:
    """The preset's optimizers that ``expand(..., engine="torch")`` leaves out (none when a filter names them)."""
    return () if optimizers is not None else tuple(o for o in preset.optimizers if o not in TORCH_OPTIMIZERS)
