"""The measurement behind clara_ref.testing.TOLERANCES: correct ports against clara_ref over the harness's own
strategies, counting false alarms under the default tolerances and recording the worst deviations.

For each dtype (float64, float32), 1,000 derandomised hypothesis examples per (strategy, port):

* ``adam``: ``gradient_sequences`` x ``adam_hyperparameters``, ports ``torch.optim.Adam`` with foreach off (one
  tensor at a time) and on (torch._foreach over the list);
* ``clara``: ``gradient_sequences`` x ``clara_hyperparameters`` (the variants the ports implement: the step path
  against its own reference, raw and unit moves, every damping and path constant the strategy draws), ports
  ``tests/ports.py``'s ``TorchClara`` (SGD and Adam, one tensor at a time) and ``ForeachClara`` (Adam, foreach ops,
  the moments by lerp);
* ``quadratic``: ``quadratic_problems`` (gradients at each side's own iterate of a noisy quadratic) with the CLARA
  ports above;

and modules of more than 10^5 coordinates: torch.nn.Linear(784, 256) -> Linear(256, 10) (203,530 parameters) and
its CLARA port, 20 steps of a cross-entropy gradient on random data. Run: ``python benchmarks/harness_tolerances.py``
(about 10 minutes on 2 cores); it prints the table that docs/benchmarks/harness_tolerances.txt keeps.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import clara_ref as cr  # noqa: E402
from clara_ref.testing import (TOLERANCES, adam_hyperparameters, clara_hyperparameters, gradient_sequences,  # noqa
                               lockstep, quadratic_problems, torch_port)
from tests.ports import ForeachClara, TorchClara  # noqa: E402

ETA = staticmethod(lambda o: o.param_groups[0]["lr"])


def _loose(run):
    """Run with tolerances of 1 (measure, do not stop at the first large deviation); count a false alarm where the
    default tolerances would have failed."""
    saved = {k: dict(v) for k, v in TOLERANCES.items()}
    try:
        TOLERANCES.update({k: dict(theta=1.0, update=1.0, eta=1.0) for k in TOLERANCES})
        report = run()
    finally:
        TOLERANCES.update(saved)
    return report


class Tally:
    def __init__(self):
        self.worst = {"theta": 0.0, "update": 0.0, "eta": 0.0}
        self.examples = self.alarms = self.stopped = 0

    def add(self, report, dtype):
        self.examples += 1
        self.stopped += report.stopped is not None
        tol = TOLERANCES[dtype]
        values = {"theta": report.max_theta_deviation, "update": report.max_update_deviation,
                  "eta": report.max_eta_deviation}
        alarm = False
        for k, v in values.items():
            self.worst[k] = max(self.worst[k], v or 0.0)
            alarm = alarm or (v or 0.0) > tol[k]
        self.alarms += alarm


def _clara(hp, kind, sizes, dtype):
    direction = cr.sgd_direction() if kind == "sgd" else cr.adam_direction()
    return cr.clara(direction, hp["eta0"], c=hp["c"], d=hp["d"], move=hp["move"], blocks=sizes)


def measure(strategy, port_name, dtype, examples):
    tally = Tally()
    np_dtype = np.dtype(dtype)

    def shapes_of(n):
        return [(n // 2,), (n - n // 2,)] if n >= 2 else [(1,)]

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        if strategy == "quadratic":
            q = data.draw(quadratic_problems(n=(2, 12)))
            theta0, grads, steps = q.theta0.astype(np_dtype), q.gradient, data.draw(st.integers(1, 30))
        else:
            theta0, grads = data.draw(gradient_sequences(n=(2, 12), dtype=np_dtype))
            steps = None
        n = theta0.size
        if port_name.startswith("torch.optim.Adam"):
            hp = data.draw(adam_hyperparameters())
            ours = cr.adam(**hp)
            port = torch_port(lambda ps: torch.optim.Adam(ps, lr=hp["eta0"], betas=(hp["beta1"], hp["beta2"]),
                                                          eps=hp["eps"], weight_decay=hp["weight_decay"],
                                                          foreach=port_name.endswith("foreach")), theta0)
        else:
            foreach = port_name == "ForeachClara"
            hp = data.draw(clara_hyperparameters(path_of=("step",), references=("direction",),
                                                 moves=("raw",) if foreach else ("raw", "unit")))
            kind = "adam" if foreach else data.draw(st.sampled_from(["sgd", "adam"]))
            shapes = shapes_of(n)
            sizes = tuple(s[0] for s in shapes)
            ours = _clara(hp, kind, sizes, np_dtype)
            d = ours.damping(sizes)
            if foreach:
                make = lambda ps: ForeachClara(ps, hp["eta0"], c=hp["c"], d=d)                     # noqa: E731
            else:
                make = lambda ps: TorchClara(ps, hp["eta0"], kind=kind, c=hp["c"], d=d,            # noqa: E731
                                             unit=hp["move"] == "unit")
            port = torch_port(make, theta0, shapes=shapes, eta_of=lambda o: o.param_groups[0]["lr"])
        report = _loose(lambda: lockstep(ours, port, theta0, grads, steps=steps))
        tally.add(report, np_dtype.name)

    run()
    return tally


def modules(dtype):
    """A 203,530-parameter MLP head (Linear 784 -> 256 -> 10), Adam and CLARA-Adam, 20 steps of real gradients."""
    torch.manual_seed(0)
    tdtype = torch.float32 if dtype == "float32" else torch.float64
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)).to(tdtype)
    shapes = [tuple(p.shape) for p in model.parameters()]
    theta0 = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    x, y = torch.randn(128, 784, dtype=tdtype), torch.randint(0, 10, (128,))
    grads = []
    for _ in range(20):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x + 0.1 * torch.randn_like(x)), y).backward()
        grads.append(np.concatenate([p.grad.numpy().ravel() for p in model.parameters()]))
    sizes = tuple(int(np.prod(s)) for s in shapes)
    out = {}
    for name, ours, make in (
            ("torch.optim.Adam", cr.adam(1e-3), lambda ps: torch.optim.Adam(ps, lr=1e-3)),
            ("TorchClara", cr.clara(cr.adam_direction(), 1e-3, d=1e-3, blocks=sizes),
             lambda ps: TorchClara(ps, 1e-3, d=1e-3)),
            ("ForeachClara", cr.clara(cr.adam_direction(), 1e-3, d=1e-3, blocks=sizes),
             lambda ps: ForeachClara(ps, 1e-3, d=1e-3))):
        eta = None if name == "torch.optim.Adam" else (lambda o: o.param_groups[0]["lr"])
        port = torch_port(make, theta0, shapes=shapes, eta_of=eta)
        tally = Tally()
        tally.add(_loose(lambda: lockstep(ours, port, theta0, grads)), dtype)
        out[name] = tally
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=1000)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}; {args.examples} derandomised examples per (strategy, port, dtype)\n")
    print("dtype | strategy | port | examples | false alarms | stopped (both diverged) | worst theta | worst update | "
          "worst eta")
    print("|".join(["---"] * 9))
    plan = [("adam", "torch.optim.Adam"), ("adam", "torch.optim.Adam foreach"), ("clara", "TorchClara"),
            ("clara", "ForeachClara"), ("quadratic", "TorchClara"), ("quadratic", "ForeachClara")]
    for dtype in ("float64", "float32"):
        for strategy, port in plan:
            t0 = time.perf_counter()
            t = measure(strategy, port, dtype, args.examples)
            print(f"{dtype} | {strategy} | {port} | {t.examples} | {t.alarms} | {t.stopped} | {t.worst['theta']:.2e} | "
                  f"{t.worst['update']:.2e} | {t.worst['eta']:.2e}   ({time.perf_counter() - t0:.0f} s)", flush=True)
        for port, t in modules(dtype).items():
            print(f"{dtype} | MLP 784-256-10 (203,530 parameters), 20 steps | {port} | 1 | {t.alarms} | {t.stopped} | "
                  f"{t.worst['theta']:.2e} | {t.worst['update']:.2e} | {t.worst['eta']:.2e}", flush=True)
    print(f"\ndefault tolerances: {TOLERANCES}")


if __name__ == "__main__":
    main()
