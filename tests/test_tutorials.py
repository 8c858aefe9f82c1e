"""Every tutorial runs as a plain script in fast mode and asserts what it teaches (its own asserts)."""

import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

TUTORIALS = sorted((pathlib.Path(__file__).parent.parent / "tutorials").glob("[0-9][0-9]_*.py"))


def test_there_are_twelve_tutorials():
    assert [p.name[:2] for p in TUTORIALS] == [f"{i:02d}" for i in range(0, 12)]


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    """MNIST-format files (random images) for tutorial 10: the suite never downloads the real ones."""
    from clara_ref import images

    folder = tmp_path_factory.mktemp("data")
    images.write_sample_files("mnist", folder, n_train=2500, n_test=500, seed=0)
    return folder


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_in_fast_mode(path, tmp_path, mnist_dir):
    env = dict(os.environ, CLARA_REF_FAST="1", CLARA_REF_FIGURES=str(tmp_path), MPLBACKEND="Agg",
               CLARA_REF_DATA=str(mnist_dir), CLARA_REF_VERIFY="0")
    proc = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert list((tmp_path / path.stem).glob("*.png")), "the tutorial wrote no figure"


def test_the_mnist_tutorial_without_the_data_says_how_to_get_it(tmp_path):
    env = dict(os.environ, CLARA_REF_FAST="1", CLARA_REF_FIGURES=str(tmp_path), MPLBACKEND="Agg",
               CLARA_REF_DATA=str(tmp_path / "empty"))
    path = TUTORIALS[0].parent / "10_mnist_paper_mlp.py"
    proc = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "MNIST is not here" in proc.stdout and "download=True" in proc.stdout
    assert str(tmp_path / "empty" / "mnist") in proc.stdout and not list(tmp_path.rglob("*.png"))


def test_exercise_solutions_run_and_assert():
    path = TUTORIALS[0].parent / "exercises.py"
    proc = subprocess.run([sys.executable, str(path), "--solutions"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "all 6 solutions ran and asserted" in proc.stdout


def test_a_tutorial_renders_to_an_executed_notebook_and_html(tmp_path):
    """tutorials/render.py (the docs extra) executes a tutorial in a Jupyter kernel and writes .ipynb and .html."""
    pytest.importorskip("jupytext")
    pytest.importorskip("nbclient")
    pytest.importorskip("nbconvert")
    import json

    proc = subprocess.run([sys.executable, str(TUTORIALS[0].parent / "render.py"), "00_the_path", "--fast", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    nb = json.loads((tmp_path / "00_the_path.ipynb").read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)          # figures inline
    html = (tmp_path / "00_the_path.html").read_text()
    assert "P/ref over the first 20 steps" in html
    # the math is MathML made at build time (no script, no network), and no LaTeX delimiter is left in the page's
    # markdown; the page names no temporary folder of the machine that rendered it
    assert html.count("<math") >= 3 and "cdnjs" not in html and "mathjax" not in html.lower()
    assert "$$" not in html and "figures in" not in html and tempfile.gettempdir() + "/" not in html


def test_the_committed_pages_typeset_their_math_offline_in_a_headless_browser():
    """tutorials/check_rendered_math.py on the committed pages: every formula laid out by Chromium with the network
    off, no TeX left raw, no request beyond the page (runs where Playwright and Debian's chromium are installed).
    The page with formulas (00) and one without (the newest) are checked here, 1.5 s each; the script's run on
    every page is docs/tutorials/offline_math_check.txt."""
    pytest.importorskip("playwright")
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("no /usr/bin/chromium (Debian's chromium package)")
    docs = TUTORIALS[0].parent.parent / "docs" / "tutorials"
    pages = [str(docs / f"{TUTORIALS[0].stem}.html"), str(docs / f"{TUTORIALS[-1].stem}.html")]
    proc = subprocess.run([sys.executable, str(TUTORIALS[0].parent / "check_rendered_math.py"), *pages],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "00_the_path.html: ok, 19 formulas typeset offline" in proc.stdout
    assert f"{TUTORIALS[-1].stem}.html: ok" in proc.stdout
