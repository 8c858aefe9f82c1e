"""pytest's collection of clara_ref's doctests (``--doctest-modules`` over clara_ref/): the module that *is* the
torch optimizer, clara_ref/_torch_optim.py, imports torch at its top and is left out where torch is not installed
(clara_ref.torch, which users import, reads it lazily)."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("torch") else ["clara_ref/_torch_optim.py"]
