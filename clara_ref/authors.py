"""The CLARA authors' published constants, kept as data: their Adam reference table and how they used it.

The authors' ``Adam_Clara`` compares the path statistic P = sum_b |p_b|^2 (one block per tensor, K tensors) with
K mu(N) (U1), where mu(N) is looked up by the model's total parameter count N in a table they estimated by Monte Carlo
(1000 unseeded trials). clara_ref's default instead sums the per-block expectations of the kappa series
(``clara_ref.reference``); this module lets a run use their number, so that their trajectories can be reproduced.

Source: asmaatamna/cumulative-learning-rate-adaptation @ 505f977, ``optimizers/adam_clara.py`` (the table) and
``Monte-Carlo-Adam-reference-path-norm-estimation.ipynb`` (how it was made); paper arXiv 2508.05408. For SGD their
reference is K c/(2-c), which equals clara_ref's default (every block of a random walk has mean c/(2-c)).
"""

from __future__ import annotations

import math

__all__ = ["ADAM_MU_TABLE", "ADAM_SIGMA_TABLE", "adam_mu", "adam_reference"]

#: N (total trainable parameters) -> mu: the authors' Monte-Carlo estimate of E|p|^2 for Adam's normalised steps
#: (c = 0.2, beta1 = 0.9, beta2 = 0.999). N = 2: their 2-D test functions; 15, 42, 62, 650: softmax regression on
#: iris, wine, breast_cancer, digits; 235146: the MNIST/Fashion-MNIST MLP; 2193226 / 2216356: the CIFAR-10/100 CNN.
ADAM_MU_TABLE = {2: 0.5958, 15: 0.6729, 42: 0.6770, 62: 0.6853, 650: 0.6827, 235146: 0.6825, 2193226: 0.6825,
                 2216356: 0.6826}
#: N -> sigma: the same notebook's Monte-Carlo spread of |p|^2, from which their class default d = 2 sigma comes
#: (a spread for one vector of N entries, not for the sum over K normalised tensors that Adam_Clara compares)
ADAM_SIGMA_TABLE = {2: 0.2553, 15: 0.0814, 42: 0.0489, 62: 0.0357, 650: 0.0119, 235146: 0.0006, 2193226: 0.0002,
                    2216356: 0.0002}


def adam_mu(n_params: int, *, nearest: bool = False) -> tuple[float, int]:
    """The authors' mu for a model of ``n_params`` parameters, and the table key it came from.

    Their code fails for a count that is not in the table. With ``nearest=True`` the entry nearest in log N is used
    instead (every entry from N = 15 on lies within 0.013 of the n -> inf value 0.6825, so the choice hardly
    matters); otherwise such a count raises ``ValueError``.

    >>> adam_mu(650)
    (0.6827, 650)
    >>> adam_mu(17226, nearest=True)
    (0.6825, 235146)
    """
    if isinstance(n_params, bool) or not isinstance(n_params, int) or n_params < 1:
        raise ValueError(f"n_params must be a positive int, got {n_params!r}")
    if n_params in ADAM_MU_TABLE:
        return ADAM_MU_TABLE[n_params], n_params
    if not nearest:
        raise ValueError(f"the CLARA authors' Adam table has no entry for N = {n_params} parameters (their code fails "
                         f"here too); entries: {', '.join(map(str, ADAM_MU_TABLE))}")
    key = min(ADAM_MU_TABLE, key=lambda n: abs(math.log(n / n_params)))
    return ADAM_MU_TABLE[key], key


def adam_reference(n_params: int, n_blocks: int, *, nearest: bool = False) -> float:
    """K mu(N) (U1): the number the authors' Adam_Clara compares P with, to pass as ``clara(..., reference=...)``
    in place of clara_ref's own reference.

    >>> round(adam_reference(650, 2), 4)
    1.3654
    """
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or n_blocks < 1:
        raise ValueError(f"n_blocks must be a positive int, got {n_blocks!r}")
    return n_blocks * adam_mu(n_params, nearest=nearest)[0]              # (U1) K mu(N), N the total count
