"""The CLARA authors' optimizer classes as clara_ref calls: :func:`authors_clara`."""

from __future__ import annotations

import math

from .shapes import layout

__all__ = ["authors_clara"]


def authors_clara(params_shapes, lr: float, d: float | None = None, unit_step_direction: bool = False,
                  optimizer: str = "sgd", *, c: float = 0.2, beta1: float = 0.9, beta2: float = 0.999,
                  eps: float = 1e-8, weight_decay: float = 0.0):
    """The ``clara(...)`` that reproduces the CLARA authors' ``SGD_Clara`` / ``Adam_Clara`` (asmaatamna/
    cumulative-learning-rate-adaptation @ 505f977) on a model whose parameters have ``params_shapes``.

    Their rule (``clara_ref/clara.py``'s Notes): one block per tensor with a gradient, the move with the current
    rate, one rate adapted after the move, compared with K mu where K counts *every* tensor (frozen ones too, use
    :func:`frozen`) and mu is c/(2-c) for SGD or, for Adam, their Monte-Carlo table keyed by the number N of
    trainable parameters (``clara_ref.authors``). ``d=None`` is their class default 2 sigma: for SGD
    sigma = sqrt(2) mu (1-c) / sqrt((1 + (1-c)^2) N) (their formula, sqrt(2) too small, docs/companion.md), for
    Adam their table's sigma(N). A parameter count their Adam table lacks raises ``ValueError`` (their code fails
    there too). Only the keyword arguments of their classes are offered; the table is for c = 0.2 and the
    default betas, which their code uses whatever c is. tests/test_authors_port.py compares it with trajectories
    recorded from their classes.

    >>> opt = authors_clara([(4, 3), (3,)], lr=0.01, optimizer="adam")
    >>> opt.blocks, round(opt.reference, 4), opt.move
    ((12, 3), 1.3458, 'raw')
    """
    from .. import _validate as V
    from .. import authors
    from ..clara import clara
    from ..directions import adam_direction, sgd_direction
    from ..reference import random_walk_mean

    shapes, sizes = layout(params_shapes)
    V.flag("unit_step_direction", unit_step_direction)
    V.one_of("optimizer", optimizer, ("sgd", "adam"))
    c = V.path_constant(c)
    K, N = len(shapes), int(sum(sizes))
    if optimizer == "sgd":
        mu = random_walk_mean(c)
        sigma = math.sqrt(2.0) * mu * (1.0 - c) / math.sqrt((1.0 + (1.0 - c) ** 2) * N)    # their sigma
        direction = sgd_direction(weight_decay=weight_decay)
    else:
        mu, _ = authors.adam_mu(N)
        sigma = authors.ADAM_SIGMA_TABLE[N]
        direction = adam_direction(beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
    return clara(direction, lr, c=c, d=2.0 * sigma if d is None else d, move="unit" if unit_step_direction else "raw",
                 blocks=sizes, reference=K * mu)
