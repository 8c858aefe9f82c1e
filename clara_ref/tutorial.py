"""Support for the tutorial scripts in ``tutorials/``: fast mode and the figure folder.

``CLARA_REF_FAST=1`` shrinks every tutorial so that it finishes in under 30 s on 2 cores (and still asserts what it
teaches); ``CLARA_REF_FIGURES`` chooses the folder the figures go to (default ``tutorials/figures``).
"""

from __future__ import annotations

import os
import pathlib

__all__ = ["setup", "figures_saved"]


def setup(script: str):
    """``(fast, figure_dir, plt)`` for the tutorial at path ``script``; matplotlib uses the Agg backend, except inside
    a Jupyter kernel (``tutorials/render.py``), where figures are shown inline.

    >>> fast, fig_dir, plt = setup("tutorials/01_x.py")
    >>> fig_dir.name
    '01_x'
    """
    import sys

    import matplotlib

    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fast = os.environ.get("CLARA_REF_FAST", "") not in ("", "0")
    script = pathlib.Path(script)
    root = pathlib.Path(os.environ.get("CLARA_REF_FIGURES", script.resolve().parent / "figures"))
    fig_dir = root / script.stem
    fig_dir.mkdir(parents=True, exist_ok=True)
    return fast, fig_dir, plt


def figures_saved(fig_dir) -> None:
    """Say where the figures went: ``figures in <fig_dir>`` from a script; nothing inside a Jupyter kernel, where
    they are shown inline and ``fig_dir`` is a temporary folder of ``tutorials/render.py`` (a rendered page names
    no path of the machine that rendered it)."""
    import sys

    if "ipykernel" not in sys.modules:
        print(f"figures in {fig_dir}")
