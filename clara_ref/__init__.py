"""clara_ref: a pure-NumPy reference implementation of path-length learning-rate adaptation.

Every optimizer is a pair of pure functions, ``init(theta) -> state`` and
``update(theta, g, state, *, loss=None) -> (theta, state)``, over a flat 1-D parameter vector; states are
NamedTuples of plain data with ``t`` (updates done) and ``eta`` (the current learning rate).

>>> import numpy as np
>>> import clara_ref as cr
>>> opt = cr.clara(cr.adam_direction(), eta0=1e-3)
>>> theta = np.ones(4); state = opt.init(theta)
>>> theta, state = opt.update(theta, 2 * theta, state)
>>> state.t, round(state.p_sq, 12)
(1, 0.04)

Methods: ``sgd``, ``adam`` (constant rate); ``clara`` (arXiv 2508.05408); ``alera``, ``salera``
(arXiv 1709.01427); ``dadapt_sgd``, ``dadapt_adam`` (arXiv 2301.07733); ``prodigy`` (arXiv 2306.06101).
Reference math: ``clara_ref.reference``. Property-testing harness: ``clara_ref.testing``.
"""

from . import authors, data, images, models, objectives, reference, schedules
from .gradcheck import gradcheck
from .alera import C_for_damping, alera, salera
from .errors import (ClaraRefError, ClusterError, LearningRateError, NonFiniteGradientError, NonFiniteStateError,
                     RateFloorError)
from .checkpoint import load_state, save_state
from .clara import clara
from .constant import adam, sgd
from .dadapt import dadapt_adam, dadapt_sgd
from .directions import Direction, adam_direction, sgd_direction
from .params import block_sizes, flatten
from .prodigy import prodigy
from .training import optimize, train

from ._version import __version__

__all__ = ["sgd", "adam", "sgd_direction", "adam_direction", "clara", "alera", "salera", "dadapt_sgd",
           "dadapt_adam", "prodigy", "C_for_damping", "authors", "reference", "objectives", "schedules", "models",
           "data",
           "train", "optimize", "gradcheck", "images", "flatten", "block_sizes", "save_state", "load_state",
           "ClaraRefError", "NonFiniteGradientError", "NonFiniteStateError", "LearningRateError", "RateFloorError",
           "ClusterError", "Direction", "__version__"]
