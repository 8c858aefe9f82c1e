"""The package version, with one source: the metadata that pyproject.toml gives the installed package."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("clara_ref")
except PackageNotFoundError:                     # a source tree on sys.path that was never installed
    __version__ = "0+unknown"
