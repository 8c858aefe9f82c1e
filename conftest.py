"""pytest's collection of clara_ref's doctests (``--doctest-modules`` over clara_ref/): the module that *is* the
torch optimizer, clara_ref/_torch_optim.py, imports torch at its top and is left out where torch is not installed
(clara_ref.torch, which users import, reads it lazily)."""

import importlib.util

try:
    _has_torch = importlib.util.find_spec("torch") is not None
except ImportError:                  # an import hook that refuses torch outright
    _has_torch = False
collect_ignore = [] if _has_torch else ["clara_ref/_torch_optim.py"]
