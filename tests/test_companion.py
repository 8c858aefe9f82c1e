"""docs/companion.md stays true to the code: every function its concept index names exists and holds a line of code
that its equation tag marks, every tag marks computing lines in one module only, and the glossary covers the
symbols of the module boxes."""

import collections
import importlib
import inspect
import io
import pathlib
import re
import tokenize

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


#: one item of a tag comment: "K1", "L2'", "N3-N5" (a range)
_ITEM = re.compile(r"([A-Z])(\d+)'?(?:-([A-Z])?(\d+)'?)?")


def computing_tags(path) -> dict:
    """{tag: [line numbers]} of the equation tags that mark a line of code: a comment after code on its line
    whose parenthesised group is a tag list, "# (K5)", "# (N1, N2)", "# (N3-N5) ...". A tag named in a docstring,
    a comment line of its own, or prose such as "layers.py's M1" marks nothing."""
    out = collections.defaultdict(list)
    for tok in tokenize.generate_tokens(io.StringIO(pathlib.Path(path).read_text()).readline):
        if tok.type != tokenize.COMMENT or not tok.line[:tok.start[1]].strip():
            continue
        for group in re.findall(r"\(([^()]*)\)", tok.string):
            for item in re.split(r",\s*", group):
                match = _ITEM.fullmatch(item.strip())
                if match:
                    letter, first, _, last = match.groups()
                    for i in range(int(first), int(last or first) + 1):
                        out[f"{letter}{i}"].append(tok.start[0])
    return out


def _span(module, path, qualname) -> range:
    """The source lines of the function, class or module-level table ``qualname``."""
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)                              # AttributeError: the index names a missing function
    if callable(obj):
        lines, start = inspect.getsourcelines(obj)
        return range(start, start + len(lines))
    source = path.read_text().splitlines()                    # a table: its assignment, to the next unindented line
    start = next(i for i, line in enumerate(source, 1) if line.startswith(qualname + " ="))
    end = next((i for i, line in enumerate(source[start:], start + 1) if line and not line.startswith(" ")),
               len(source) + 1)
    return range(start, end)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.split("|")[1].strip()[:40])
def test_every_indexed_function_holds_a_line_its_tag_marks(row):
    target = re.search(r"`clara_ref/([\w/]+)\.py:([\w.]+)`", row)
    name, qualname = target.group(1), target.group(2)
    path = ROOT / "clara_ref" / f"{name}.py"
    span = _span(importlib.import_module("clara_ref." + name.replace("/", ".")), path, qualname)
    tags = computing_tags(path)
    tag_column = re.split(r"(?<!\\)\|", row)[3]                 # markdown cells; "\|" is an escaped pipe
    assert re.search(r"\([A-Z]\d", tag_column), row
    for first, last in re.findall(r"\(([A-Z]\d'?)\)(?:-\(([A-Z]\d'?)\))?", tag_column):
        first = first.rstrip("'")
        wanted = [first] if not last else [f"{first[0]}{i}" for i in range(int(first[1]), int(last[1]) + 1)]
        for tag in wanted:
            assert any(line in span for line in tags.get(tag, ())), f"({tag}) marks no line of {name}.py:{qualname}"


def test_every_tag_marks_computing_lines_in_one_module_only():
    """A tag means one equation: the lines it marks are all in one module (others cite it in prose)."""
    where = collections.defaultdict(set)
    for path in sorted((ROOT / "clara_ref").rglob("*.py")):
        for tag in computing_tags(path):
            where[tag].add(str(path.relative_to(ROOT)))
    assert {tag: sorted(files) for tag, files in where.items() if len(files) > 1} == {}


def test_the_tag_reader_sees_code_lines_only(tmp_path):
    source = tmp_path / "m.py"
    source.write_text('"""(K1) in a docstring"""\n# (K2) on a line of its own\nx = 1  # (K3) and (N3-N5), or (L2\')\n'
                      "y = 2  # layers.py's M1\n")
    assert sorted(computing_tags(source)) == ["K3", "L2", "N3", "N4", "N5"]


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
