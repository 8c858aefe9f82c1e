"""Every Python block of the README runs as written: a block that defines a test runs as pytest would run it (each
``test_*`` function called), with ``MyAdam = torch.optim.Adam`` bound for the port-testing snippet, under
hypothesis's default settings (the snippet brings its own, ``clara_ref.testing.SETTINGS``)."""

import pathlib
import re

import pytest
from hypothesis import settings

README = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_the_readme_has_its_python_blocks():
    assert len(BLOCKS) >= 3 and any("def test_" in b for b in BLOCKS)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_a_readme_block_runs_as_written(code, capsys):
    namespace = {"__name__": "readme"}
    if "MyAdam" in code:
        torch = pytest.importorskip("torch")
        namespace["MyAdam"] = torch.optim.Adam
    settings.load_profile("default")                   # what a reader's pytest would use, not this suite's profile
    try:
        exec(compile(code, "README.md", "exec"), namespace)
        tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
        for test in tests:
            test()
    finally:
        settings.load_profile("clara_ref")
