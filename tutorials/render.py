"""Render the tutorials as executed notebooks and HTML pages with rendered math, into docs/tutorials/.

    python tutorials/render.py                    # every tutorial, full mode, into docs/tutorials/
    python tutorials/render.py 00_the_path --fast --out /tmp/rendered

Each percent-format script is read with jupytext, executed cell by cell in a fresh Python kernel (nbclient; the
figures appear inline, the math in markdown cells is rendered by MathJax in the HTML) and written as
``NN_name.ipynb`` and ``NN_name.html``. Needs the ``docs`` extra: ``pip install ".[docs]"``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import tempfile

HERE = pathlib.Path(__file__).resolve().parent


def render(script: pathlib.Path, out_dir: pathlib.Path, *, fast: bool = False, timeout: int = 600) -> list:
    """Execute ``script`` as a notebook and write its .ipynb and .html into ``out_dir``; returns the two paths."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = jupytext.read(script)
    # a script knows its own path as __file__ (tutorial.setup uses it); a kernel does not: set it, run, remove
    nb.cells.insert(0, nbformat.v4.new_code_cell(f"__file__ = {str(script)!r}"))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    saved = {k: os.environ.get(k) for k in ("CLARA_REF_FAST", "CLARA_REF_FIGURES")}
    with tempfile.TemporaryDirectory() as figures:
        os.environ["CLARA_REF_FAST"] = "1" if fast else "0"
        os.environ["CLARA_REF_FIGURES"] = figures          # the scripts' own PNGs; the notebook shows them inline
        try:
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(script.parent)}}).execute()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    nb.cells.pop(0)
    out_dir.mkdir(parents=True, exist_ok=True)
    ipynb, html = out_dir / f"{script.stem}.ipynb", out_dir / f"{script.stem}.html"
    nbformat.write(nb, ipynb)
    body, _ = HTMLExporter().from_notebook_node(nb)
    html.write_text(body, encoding="utf-8")
    return [ipynb, html]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="tutorial names (default: all), e.g. 00_the_path")
    ap.add_argument("--out", default=str(HERE.parent / "docs" / "tutorials"), help="output folder [docs/tutorials]")
    ap.add_argument("--fast", action="store_true", help="run the tutorials in fast mode")
    args = ap.parse_args(argv)
    scripts = sorted(HERE.glob("[0-9][0-9]_*.py"))
    if args.names:
        scripts = [s for s in scripts if s.stem in args.names]
        missing = set(args.names) - {s.stem for s in scripts}
        if missing:
            ap.error(f"unknown tutorials: {', '.join(sorted(missing))}")
    for script in scripts:
        for path in render(script, pathlib.Path(args.out), fast=args.fast):
            print(path)


if __name__ == "__main__":
    main()
