"""Default tolerances of :func:`lockstep`, by the dtype the port returns (:data:`TOLERANCES`).

Each tolerance bounds what rounding alone makes two correct implementations disagree by, for one compared
quantity, with a measured margin:

* **update** (relative to |D_ref|, beyond the floor of 2 ulps of theta): a step D = -eta s computes s from m and
  v in a handful of element-wise operations; each rounds at half an ulp, and the moments carry their rounding
  forward with weights beta^k, so a correct port's s differs by at most a few tens of eps relative. In float32
  (eps 1.2e-7) that is ~1e-6; the floor of 2 ulps of theta covers the rounding of theta_t and theta_(t-1) on each
  side, which dominates once an update is a few ulps of theta (small rates).
* **theta** (relative to the operands S_t of the move): every step adds its own update error and rounds theta
  once more, so the deviations add up over the steps; where beta1 > beta2, m_hat is a sum of nearly cancelling
  terms and a step's error is amplified (the worst float32 case measured).
* **eta** (relative): both sides keep the rate as a Python float, so it moves only through the path statistic P,
  computed from the port's float32 steps: d |dP|/ref per step, accumulated over the steps.

The float32 values were measured on correct ports (``torch.optim.Adam`` with foreach off and on, the CLARA rule in
torch with SGD and Adam, raw and unit moves, one tensor at a time and with ``torch._foreach`` ops; 1,000
derandomised examples of each of the lockstep strategies, over their whole domain, and an MLP of 203,530
parameters: ``benchmarks/harness_tolerances.py``, docs/benchmarks/harness_tolerances.txt, zero false alarms) and
are the worst deviations seen times a margin of at least 3; tests/test_testing.py repeats a smaller measurement in
the suite and asserts the margin::

    dtype      theta rtol   update rtol   eta rtol    worst measured (theta / update / eta)
    float64    1e-10        1e-10         1e-10       1.1e-14 / 4.7e-15 / 5.4e-15
    float32    5e-4         1e-5          2e-5        1.1e-5  / 2.9e-6  / 3.5e-6

What float32 cannot show. A bug that only changes when the rate is applied (adapted before the move, or the
previous step's rate used) changes an update by the factor exp(d (P/ref - 1)) - 1, about d: at d = 1e-3 and a rate
of 1e-5 that is 1e-8 of theta, below float32's spacing at |theta| ~ 0.5 (6e-8), and no comparison of float32
iterates can see it; at d = 0.05 (the authors' vectors) it is 20 times larger and the update comparison sees it.
Bugs that change the rate itself (its exponent, its reference, c and d) show in eta, which is compared whenever
the port returns it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TOLERANCES", "tolerances_for"]

#: default tolerances by the dtype the port returns: theta, update and eta relative tolerances (module box)
TOLERANCES = {
    "float64": {"theta": 1e-10, "update": 1e-10, "eta": 1e-10},
    "float32": {"theta": 5e-4, "update": 1e-5, "eta": 2e-5},
}


def tolerances_for(dtype, compare: str, rtol=None, atol=None, eta_rtol=None) -> dict:
    """The tolerances a comparison uses for a port returning ``dtype``: the defaults, with ``rtol`` replacing
    theta's (or the update's with ``compare="update"``), ``eta_rtol`` eta's, ``atol`` 0 unless given.

    >>> tolerances_for(np.float32, "both")["update"], tolerances_for(np.float64, "update", rtol=0.1)["update"]
    (1e-05, 0.1)
    """
    kind = "float32" if np.dtype(dtype) == np.float32 else "float64"
    base = TOLERANCES[kind]
    return {"dtype": kind, "theta": base["theta"] if rtol is None or compare == "update" else rtol,
            "update": base["update"] if rtol is None or compare == "theta" else rtol,
            "eta": base["eta"] if eta_rtol is None else eta_rtol, "atol": 0.0 if atol is None else atol,
            "eps": float(np.finfo(np.float32 if kind == "float32" else np.float64).eps)}
