"""docs/companion.md stays true to the code: every function its concept index names exists, every equation tag
appears in that function's file, and its glossary covers the symbols of the module boxes."""

import importlib
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEXT = (ROOT / "docs" / "companion.md").read_text()
INDEX = TEXT.split("## 1. Concept index")[1].split("## 2.")[0]
ROWS = [line for line in INDEX.splitlines() if line.startswith("| ") and "`clara_ref/" in line]


def test_the_index_covers_every_concept_of_the_rules():
    wanted = ["path", "normalisation", "random-walk", "transient", "Adam's reference", "kappa", "spread", "rate rule",
              "damping", "blocks" if "blocks" in INDEX else "block", "unit", "2017 rule", "Page-Hinkley"]
    for word in wanted:
        assert word in INDEX, word
    assert len(ROWS) >= 20


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.split("|")[1].strip()[:40])
def test_every_indexed_function_and_tag_exists(row):
    target = re.search(r"`clara_ref/([\w/]+)\.py:([\w.]+)`", row)
    path, qualname = target.group(1), target.group(2)
    module = importlib.import_module("clara_ref." + path.replace("/", "."))
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)                              # AttributeError: the index names a missing function
    source = (ROOT / "clara_ref" / f"{path}.py").read_text()
    tag_column = re.split(r"(?<!\\)\|", row)[3]                 # markdown cells; "\|" is an escaped pipe
    assert re.search(r"\([A-Z]\d", tag_column), row
    for first, last in re.findall(r"\(([A-Z]\d'?)\)(?:-\(([A-Z]\d'?)\))?", tag_column):
        tags = [first] if not last else [f"{first[0]}{i}" for i in range(int(first[1]), int(last[1]) + 1)]
        for tag in tags:
            assert f"({tag}" in source or f" {tag})" in source or f"{tag}," in source, (tag, path)


def test_the_glossary_covers_the_symbols_of_the_module_boxes():
    glossary = TEXT.split("## 3. Glossary of symbols")[1]          # both tables: the path rules and the baselines
    names = set()
    for line in glossary.splitlines():
        if line.startswith("| ") and not line.startswith("| symbol"):
            for token in re.split(r"[\s,]+", line.split("|")[1].strip()):
                names.add(re.sub(r"\(.*", "", token))           # kappa_n(rho) -> kappa_n
    for symbol in ("c", "d", "C", "mu", "mu_A", "kappa", "sigma", "K", "n_b", "P", "u", "p", "eta", "eta_b", "t",
                   "beta1", "beta2", "eps", "m_hat", "v_hat", "lambda", "mu_t", "lbar", "mu0", "U", "r", "\"us\"",
                   "d0", "s_t", "x_b", "theta", "alpha", "f_t", "k", "a_t", "d_hat", "lr", "A", "N", "S", "G0",
                   "lam_k", "dlr", "x0", "beta3", "growth_rate", "d_coef"):
        assert symbol in names or any(n.startswith(symbol + "_") for n in names), symbol


def test_the_three_sigmas_are_side_by_side_with_numbers_that_the_code_gives():
    import clara_ref as cr

    section = TEXT.split("### The three sigmas")[1].split("## 3.")[0]
    exact15 = cr.reference.random_walk_std(0.2, 15)
    for value in (exact15, exact15 / 2**0.5, 0.2 / 15**0.5):             # exact, the authors', the 2017 paper's
        assert f"{value:.4f}" in section
    assert f"{cr.reference.random_walk_std(0.2, 650):.5f}" in section


def test_citations_point_only_to_what_a_reader_can_open():
    """Nothing in the repository cites the developers' private spec files: citations name a file in the repository,
    a paper (arXiv id) or a package version (the names are assembled here so that this file does not match)."""
    private = [re.compile(r"(?<![A-Za-z_])" + word + r"(?![A-Za-z_])") for word in ("SP" + "EC", "ALGO" + "RITHMS")]
    offenders = []
    for folder in ("clara_ref", "tests", "tutorials", "docs", "benchmarks"):
        for path in (ROOT / folder).rglob("*"):
            suffixes = (".py", ".md", ".txt", ".toml", ".cff", ".html", ".ipynb", ".csv", ".json", ".log")
            if path.suffix in suffixes and "figures" not in path.parts:
                text = path.read_text(errors="ignore")
                offenders += [f"{path.relative_to(ROOT)}: {w.pattern}" for w in private if w.search(text)]
    for name in ("README.md", "pyproject.toml", "CITATION.cff"):
        text = (ROOT / name).read_text()
        offenders += [f"{name}: {w.pattern}" for w in private if w.search(text)]
    assert offenders == []
