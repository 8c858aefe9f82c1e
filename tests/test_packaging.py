"""What a user of the installed package relies on: one version, type information, a documented public face."""

import subprocess
import sys
import textwrap
import importlib.metadata
import pathlib
import re

import clara_ref as cr

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_version_has_one_source():
    """__version__ is read from the installed metadata, which pyproject.toml writes (it used to be typed twice)."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    declared = re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1)
    assert cr.__version__ == importlib.metadata.version("clara_ref") == declared
    assert f"\"{declared}\"" not in (ROOT / "clara_ref" / "__init__.py").read_text()     # not typed twice


def test_the_package_declares_its_types_and_its_classifiers():
    assert (ROOT / "clara_ref" / "py.typed").exists()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"py.typed"' in pyproject and "Typing :: Typed" in pyproject
    meta = importlib.metadata.metadata("clara_ref")
    assert any(c.startswith("Programming Language :: Python :: 3") for c in meta.get_all("Classifier") or [])
    assert any("2508.05408" in u for u in meta.get_all("Project-URL") or [])


def test_every_public_name_exists_and_the_readme_names_it():
    readme = (ROOT / "README.md").read_text()
    for name in cr.__all__:
        assert hasattr(cr, name), name
        assert name == "__version__" or name in readme, f"{name} is exported but the README never names it"


def test_the_optimizers_array_arguments_carry_a_type():
    """Every optimizer's init and update, and every direction's propose, annotate their arrays as ``Array`` (a NumPy
    or array-API array; clara_ref._backend), which py.typed makes visible to a user's type checker."""
    import inspect

    optimizers = [cr.sgd(0.1), cr.adam(0.1), cr.clara(cr.sgd_direction(), 0.1), cr.alera(cr.adam_direction(), 0.1),
                  cr.salera(cr.adam_direction(), 0.1), cr.dadapt_sgd(), cr.dadapt_adam(), cr.prodigy()]
    for opt in optimizers:
        for method, names in ((opt.init, ("theta",)), (opt.update, ("theta", "g"))):
            params = inspect.signature(method).parameters
            assert all(params[n].annotation in ("Array", cr._backend.Array) for n in names), (opt, method)
    for direction in (cr.sgd_direction(), cr.adam_direction()):
        params = inspect.signature(direction.propose).parameters
        assert params["theta"].annotation == "Array" and params["g"].annotation == "Array"


def test_without_torch_or_jax_clara_ref_imports_and_its_doctests_are_collected():
    # torch, jax and optax blocked (None in sys.modules makes their import fail as if not installed): clara_ref and
    # its framework modules import, reading CLARA names the extra to install, and pytest collects every doctest.
    code = textwrap.dedent("""
        import sys
        for name in ("torch", "jax", "jaxlib", "optax"):
            sys.modules[name] = None
        import clara_ref, clara_ref.torch, clara_ref.optax, clara_ref.testing
        try:
            clara_ref.torch.CLARA
        except ImportError as exc:
            assert "pip install" in str(exc), exc
        else:
            raise AssertionError("CLARA imported without torch")
        try:
            clara_ref.optax.clara(1e-3)
        except ImportError:
            pass
        else:
            raise AssertionError("clara ran without jax")
        import pytest
        sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", "-o",
                              "addopts=--doctest-modules", "clara_ref"]))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "_torch_optim" not in done.stdout and "clara_ref/optax.py" in done.stdout
