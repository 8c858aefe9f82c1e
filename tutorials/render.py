"""Render the tutorials as executed notebooks and HTML pages with rendered math, into docs/tutorials/.

    python tutorials/render.py                    # every tutorial, full mode, into docs/tutorials/
    python tutorials/render.py 00_the_path --fast --out /tmp/rendered

Each percent-format script is read with jupytext, executed cell by cell in a fresh Python kernel (nbclient; the
figures appear inline) and written as ``NN_name.ipynb`` and ``NN_name.html``. The notebook keeps its LaTeX (Jupyter
typesets it); in the HTML page every $...$ and $$...$$ of the markdown cells is converted to MathML at build time
(latex2mathml), which browsers typeset natively: the page needs no script and no network to show its math
(``tutorials/check_rendered_math.py`` checks this in a headless Chromium with the network off). Needs the ``docs``
extra: ``pip install ".[docs]"``.
"""

from __future__ import annotations

import argparse
import copy
import os
import pathlib
import re
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
#: display math $$...$$ (may span lines) or inline math $...$ (one line) in a markdown cell
MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", re.S)
#: nbconvert's MathJax loader and configuration (a CDN script): not needed once the math is MathML
MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
#: nbconvert's require.js and mermaid loader (CDN scripts for widgets and diagrams, which these pages have none of)
REQUIRE = re.compile(r'<script src="https://cdnjs\.cloudflare\.com/ajax/libs/require\.js/[^"]*"></script>\n?')
MERMAID = re.compile(r'<script type="module">(?:(?!</script>).)*?cdnjs\.cloudflare\.com/ajax/libs/mermaid'
                     r'.*?</script>\n?', re.S)


def html_page(nb) -> str:
    """The HTML page of an executed notebook, its markdown math as MathML, with nothing loaded from the network
    (nbconvert's MathJax, require.js and mermaid scripts are left out).

    Each formula is swapped for a placeholder before the markdown is converted (markdown would otherwise read the
    ``*`` and ``_`` inside the MathML as emphasis) and replaced by its MathML after.
    """
    from latex2mathml.converter import convert
    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    formulas = {}

    def hold(match):
        key = f"CLARAREFMATH{len(formulas):04d}X"
        display, inline = match.groups()
        formulas[key] = convert((display or inline).strip(), display="block" if display else "inline")
        return key

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = MATH.sub(hold, cell.source)
    body, _ = HTMLExporter().from_notebook_node(nb)
    body, n_loaders = MATHJAX.subn("", body)
    body, n_require = REQUIRE.subn("", body)
    body, n_mermaid = MERMAID.subn("", body)
    if (n_loaders, n_require, n_mermaid) != (1, 1, 1):
        raise RuntimeError("nbconvert's HTML template changed: its MathJax, require.js or mermaid loader was not "
                           "found once")
    if re.search(r'(src|href)="https?://|import\("https?://|Url = "https?://', body):
        raise RuntimeError("the page still loads something from the network")
    for key, mathml in formulas.items():
        if body.count(key) != 1:
            raise RuntimeError(f"a formula's placeholder {key} appears {body.count(key)} times in the page")
        body = body.replace(key, mathml)
    return body


def render(script: pathlib.Path, out_dir: pathlib.Path, *, fast: bool = False, timeout: int = 600) -> list:
    """Execute ``script`` as a notebook and write its .ipynb and .html into ``out_dir``; returns the two paths."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient

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
    html.write_text(html_page(nb), encoding="utf-8")
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
