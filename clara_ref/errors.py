"""The library's errors, in one place: every error clara_ref raises on purpose derives from ``ClaraRefError``.

Each also keeps the built-in base it always had, so ``except ValueError`` and ``except FloatingPointError`` go on
working::

    ClaraRefError
    ├── NonFiniteGradientError   (also ValueError)          a gradient held inf or NaN; the state is unchanged
    ├── LearningRateError        (also FloatingPointError)  an adapted rate became inf, 0 or NaN
    ├── NonFiniteStateError      (also FloatingPointError)  an update made theta or the state inf or NaN
    ├── ReferenceValueError      (also ArithmeticError)     a path rule's pure-noise reference is not finite
    ├── RateFloorError           (also FloatingPointError)  SALeRA halved a rate below 1e-15
    ├── ClusterError             (also RuntimeError)        --executor dask cannot start or reach its cluster
    ├── images.DataMissingError  (also FileNotFoundError)   an image dataset's files are not in its folder
    └── images.ChecksumError     (also ValueError)          a dataset file is not the official one

>>> import clara_ref as cr
>>> issubclass(cr.LearningRateError, cr.ClaraRefError), issubclass(cr.LearningRateError, FloatingPointError)
(True, True)
"""

from __future__ import annotations

__all__ = ["ClaraRefError", "NonFiniteGradientError", "LearningRateError", "NonFiniteStateError", "RateFloorError",
           "ReferenceValueError", "ClusterError"]


class ClaraRefError(Exception):
    """Base of every error clara_ref raises on purpose."""


class NonFiniteGradientError(ClaraRefError, ValueError):
    """A gradient holds inf or NaN; the optimizer state is left as it was."""


class LearningRateError(ClaraRefError, FloatingPointError):
    """The adapted learning rate left the floats (inf, 0 or NaN); the state was left unchanged."""


class NonFiniteStateError(ClaraRefError, FloatingPointError):
    """An update would have made theta or the optimizer state inf or NaN (for example Adam's v after g**2
    overflowed); the message names the step, the quantity and the cause where it is known. Nothing was returned,
    so the caller's theta and state are as they were."""


class ReferenceValueError(ClaraRefError, ArithmeticError):
    """The expected path length under pure noise came out inf or NaN for a block size and hyperparameters; the
    message names them (clara_ref.reference)."""


class RateFloorError(ClaraRefError, FloatingPointError):
    """SALeRA halved a learning rate below 1e-15: training cannot go on (the authors stop here too)."""


class ClusterError(ClaraRefError, RuntimeError):
    """The dask executor cannot be used: dask.distributed is not installed, or the scheduler address is malformed
    or cannot be reached, or the local cluster does not start; the message names the address and the cause."""
