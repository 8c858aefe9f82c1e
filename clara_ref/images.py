"""The paper's image datasets from their official files: MNIST, Fashion-MNIST and CIFAR-10 (binary version).

Nothing is downloaded unless asked for (``download=True``), and no pickle is ever loaded. Each dataset lives in its
own subfolder of the data folder (``data_dir``, else the environment variable ``CLARA_REF_DATA``, else the user's
cache folder from ``platformdirs``)::

    <data_dir>/mnist/            train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
                                 t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz
    <data_dir>/fashion_mnist/    the same four file names
    <data_dir>/cifar10/          cifar-10-batches-bin/{data_batch_1..5.bin, test_batch.bin}
                                 (and cifar-10-binary.tar.gz, the official archive, when it was downloaded)

Formats (as their authors document them):

* IDX (MNIST, Fashion-MNIST; gzipped): a big-endian header, magic 0x00000803 for images (then the count, 28, 28)
  and 0x00000801 for labels (then the count), followed by one unsigned byte per pixel or label
  (yann.lecun.com/exdb/mnist; github.com/zalandoresearch/fashion-mnist).
* CIFAR-10 binary: records of 3073 bytes, one label byte (0-9) and 3072 pixel bytes, the 1024 red values of the
  32 x 32 image row by row, then the green and the blue ones; 10,000 records per file
  (www.cs.toronto.edu/~kriz/cifar.html).

Splits and scaling: the official train and test parts (60,000 / 10,000 and 50,000 / 10,000); pixels are scaled as
the CLARA authors' torchvision pipeline does, ToTensor then Normalize(0.5, 0.5)::

    x = (p / 255 - 0.5) / 0.5,   in [-1, 1]                                              (I1)

(their ``src/datasets.py``, the same transform for all three). Features come back flattened, float32:
MNIST (n, 784), CIFAR-10 (n, 3072) in channel, row, column order (torch's layout, which the CNN of
``clara_ref.cnn`` reshapes back to (n, 3, 32, 32)); labels int64.

Checksums are MD5, as published: for MNIST and Fashion-MNIST the four files' (torchvision's ``MNIST.resources``
and ``FashionMNIST.resources``; the Fashion-MNIST README lists the same), for CIFAR-10 the archive's (the CIFAR
page). ``verify=True`` checks the files on disk before reading them; for CIFAR-10 it checks the archive's MD5 and
that every extracted file equals its member of the archive, or, when only the extracted folder is there, the
files' record counts and labels (the content itself then cannot be checked against a published checksum, and a
warning says so).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import sys
import tarfile
import tempfile
import warnings

import numpy as np

from . import _validate as V
from .errors import ClaraRefError

__all__ = ["NAMES", "FILES", "MD5", "URLS", "N_TRAIN", "N_TEST", "data_folder", "load", "download", "verify",
           "require", "write_idx", "write_cifar_batch", "write_sample_files", "DataMissingError", "ChecksumError"]

NAMES = ("mnist", "fashion_mnist", "cifar10")
_IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
              "t10k-labels-idx1-ubyte.gz")
CIFAR_DIR = "cifar-10-batches-bin"
CIFAR_ARCHIVE = "cifar-10-binary.tar.gz"
_CIFAR_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)
#: the files each dataset needs, relative to its subfolder
FILES = {"mnist": _IDX_FILES, "fashion_mnist": _IDX_FILES,
         "cifar10": tuple(f"{CIFAR_DIR}/{b}" for b in _CIFAR_BATCHES)}
#: published MD5 checksums (sources in the module docstring)
MD5 = {
    "mnist": {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
              "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
              "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
              "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
    "fashion_mnist": {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                      "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                      "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                      "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
    "cifar10": {CIFAR_ARCHIVE: "c32a1d4ab5d03f1284b67883e8d87530"},
}
#: where ``download`` fetches each file from, in order of preference (MNIST: torchvision's mirror, then the
#: original page; Fashion-MNIST: its authors' bucket; CIFAR-10: its authors' page)
URLS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    "fashion_mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
}
#: the official split sizes
N_TRAIN = {"mnist": 60_000, "fashion_mnist": 60_000, "cifar10": 50_000}
N_TEST = {"mnist": 10_000, "fashion_mnist": 10_000, "cifar10": 10_000}
_IMAGE_SHAPE = {"mnist": (28, 28), "fashion_mnist": (28, 28), "cifar10": (3, 32, 32)}
_CIFAR_RECORD = 1 + 3 * 32 * 32
_CIFAR_PER_FILE = 10_000


class DataMissingError(ClaraRefError, FileNotFoundError):
    """A dataset's files are not in its folder (the message says which folder, which files and how to get them)."""


class ChecksumError(ClaraRefError, ValueError):
    """A dataset file on disk is not the official one (corrupt, truncated or another file)."""


def data_folder(data_dir=None):
    """The data folder: ``data_dir``, else ``$CLARA_REF_DATA``, else the user's cache folder for clara_ref."""
    if data_dir is not None:
        return os.fspath(V.path("data_dir", data_dir))
    if os.environ.get("CLARA_REF_DATA"):
        return os.environ["CLARA_REF_DATA"]
    try:
        import platformdirs

        return os.path.join(platformdirs.user_cache_dir("clara_ref"), "data")
    except ImportError:  # pragma: no cover - platformdirs is a dependency
        return os.path.join(os.path.expanduser("~"), ".cache", "clara_ref", "data")


def _name(name):
    if not isinstance(name, str) or name not in NAMES:
        raise ValueError(f"name must be one of {', '.join(NAMES)}; got {name!r}")
    return name


def _md5(path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _missing(name, folder):
    return [f for f in FILES[name] if not os.path.isfile(os.path.join(folder, f))]


def _missing_message(name, folder, missing) -> str:
    how = (f"run `python -m clara_ref reproduce --preset paper-images --download` or call "
           f"clara_ref.data.load({name!r}, download=True) to fetch them from {URLS[name][0]}, or copy them there")
    if name == "cifar10":
        how += (f" (unpacking the official {CIFAR_ARCHIVE} in that folder gives {CIFAR_DIR}/; the archive itself "
                "may also be put there, and is unpacked on the next load)")
    return (f"{name}: {len(missing)} of its files are missing in {folder}: {', '.join(missing)}. To get them, {how}. "
            "The data folder is data_dir=, else $CLARA_REF_DATA, else the user cache folder.")


# -- download ---------------------------------------------------------------------------------------------------

def _fetch(url: str, target: str, md5: str, progress: bool) -> None:
    """Stream ``url`` into a temporary file beside ``target``, check its MD5, then move it into place."""
    import urllib.request

    folder = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(target)}.{os.getpid()}.", suffix=".tmp")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, desc=os.path.basename(target), file=sys.stderr)
            for chunk in iter(lambda: response.read(1 << 16), b""):
                out.write(chunk)
                digest.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != md5:
            raise ChecksumError(f"{url} gave a file whose MD5 is {digest.hexdigest()}, not the official {md5}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def download(name: str, data_dir=None, *, progress: bool = True) -> str:
    """Fetch the official files of ``name`` into its folder (atomically, each checked against its published MD5;
    files already there and correct are kept) and return the folder. CIFAR-10's archive is unpacked there, every
    batch afresh, so that afterwards every file is known to be the official one (``verify`` need not run again)."""
    name = _name(name)
    folder = os.path.join(data_folder(data_dir), name)
    os.makedirs(folder, exist_ok=True)
    for filename, md5 in MD5[name].items():
        target = os.path.join(folder, filename)
        if os.path.isfile(target) and _md5(target) == md5:
            continue
        errors = []
        for base in URLS[name]:
            try:
                _fetch(base + filename, target, md5, progress)
                break
            except ChecksumError:
                raise
            except OSError as exc:
                errors.append(f"{base + filename}: {exc}")
        else:
            raise DataMissingError(f"{name}: could not download {filename} into {folder} ({'; '.join(errors)}); "
                                   "copy the official files there instead") from None
    if name == "cifar10":
        _unpack_cifar(folder)
    return folder


def _unpack_cifar(folder: str) -> None:
    """Extract exactly the six batch files of the official archive (no other member, no path outside the folder),
    each atomically."""
    archive = os.path.join(folder, CIFAR_ARCHIVE)
    os.makedirs(os.path.join(folder, CIFAR_DIR), exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        for member_name in FILES["cifar10"]:
            member = tar.getmember(member_name)
            if not member.isfile():
                raise ChecksumError(f"{archive}: {member_name} is not a regular file")
            source = tar.extractfile(member)
            target = os.path.join(folder, member_name)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.",
                                       suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(source, out)
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)


# -- verification ---------------------------------------------------------------------------------------------------

def verify(name: str, data_dir=None) -> str:
    """Check the files of ``name`` on disk against the published checksums (module docstring); raise
    ``ChecksumError`` naming the first file that differs, ``DataMissingError`` if files are missing; return the
    folder."""
    name = _name(name)
    folder = os.path.join(data_folder(data_dir), name)
    if name != "cifar10":
        missing = _missing(name, folder)
        if missing:
            raise DataMissingError(_missing_message(name, folder, missing))
        for filename, md5 in MD5[name].items():
            path = os.path.join(folder, filename)
            got = _md5(path)
            if got != md5:
                raise ChecksumError(f"{path} is not the official {name} file: its MD5 is {got}, the published one "
                                    f"is {md5} (corrupt or truncated? delete it and download again; for files "
                                    "you made yourself pass verify=False, or --no-verify to reproduce)")
        return folder
    archive = os.path.join(folder, CIFAR_ARCHIVE)
    if os.path.isfile(archive):
        got = _md5(archive)
        if got != MD5["cifar10"][CIFAR_ARCHIVE]:
            raise ChecksumError(f"{archive} is not the official CIFAR-10 binary archive: its MD5 is {got}, the "
                                f"published one is {MD5['cifar10'][CIFAR_ARCHIVE]}")
        if _missing(name, folder):
            _unpack_cifar(folder)
        with tarfile.open(archive, "r:gz") as tar:
            for member_name in FILES["cifar10"]:
                expected = hashlib.sha256(tar.extractfile(member_name).read()).hexdigest()
                path = os.path.join(folder, member_name)
                with open(path, "rb") as fh:
                    got = hashlib.sha256(fh.read()).hexdigest()
                if got != expected:
                    raise ChecksumError(f"{path} differs from its copy in the official archive {archive} (corrupt "
                                        "or truncated? delete it: the next load unpacks it again)")
        return folder
    missing = _missing(name, folder)
    if missing:
        raise DataMissingError(_missing_message(name, folder, missing))
    for member_name in FILES["cifar10"]:
        path = os.path.join(folder, member_name)
        size = os.path.getsize(path)
        if size != _CIFAR_PER_FILE * _CIFAR_RECORD:
            raise ChecksumError(f"{path} has {size} bytes, but an official CIFAR-10 batch has "
                                f"{_CIFAR_PER_FILE} records of {_CIFAR_RECORD} bytes ({_CIFAR_PER_FILE * _CIFAR_RECORD})")
        labels = np.fromfile(path, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)[:, 0]
        if labels.max() > 9:
            raise ChecksumError(f"{path} has a label {int(labels.max())} > 9: not a CIFAR-10 batch")
    warnings.warn(f"{folder} has the CIFAR-10 batches but not the official archive {CIFAR_ARCHIVE}: their sizes and "
                  "labels were checked, their content cannot be checked against the published checksum (put the "
                  "archive beside them for a full check)", stacklevel=3)
    return folder


def require(name: str, data_dir=None) -> str:
    """The folder of ``name`` if its files are there (CIFAR-10's archive alone is unpacked first), else
    ``DataMissingError`` naming the folder, the missing files and how to get them."""
    name = _name(name)
    folder = os.path.join(data_folder(data_dir), name)
    if name == "cifar10" and _missing(name, folder) and os.path.isfile(os.path.join(folder, CIFAR_ARCHIVE)):
        _unpack_cifar(folder)
    missing = _missing(name, folder)
    if missing:
        raise DataMissingError(_missing_message(name, folder, missing))
    return folder


# -- reading ----------------------------------------------------------------------------------------------------

def _read_idx(path: str, magic: int, dims: int) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:          # BadGzipFile, a truncated stream
        raise ValueError(f"{path} is not a readable gzipped IDX file ({type(exc).__name__}: {exc}); it is corrupt "
                         "or truncated: delete it and download it again") from None
    if len(data) < 4 + 4 * dims:
        raise ValueError(f"{path} is too short for an IDX file ({len(data)} bytes)")
    head = struct.unpack(">" + "I" * (1 + dims), data[:4 + 4 * dims])
    if head[0] != magic:
        raise ValueError(f"{path} is not an IDX {'image' if dims == 3 else 'label'} file: magic {head[0]:#010x}, "
                         f"expected {magic:#010x}")
    shape = head[1:]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: the header announces {shape} values, the file holds {body.size}")
    return body.reshape(shape)


def _read_cifar(path: str):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % _CIFAR_RECORD:
        raise ValueError(f"{path} is not a CIFAR-10 batch: {raw.size} bytes is not a whole number of "
                         f"{_CIFAR_RECORD}-byte records")
    records = raw.reshape(-1, _CIFAR_RECORD)
    labels = records[:, 0]
    if labels.max() > 9:
        raise ValueError(f"{path} has a label {int(labels.max())} > 9: not a CIFAR-10 batch")
    return records[:, 1:], labels


def _scale(pixels: np.ndarray) -> np.ndarray:
    """ToTensor then Normalize(0.5, 0.5): (p / 255 - 0.5) / 0.5, as float32 (I1)."""
    x = pixels.astype(np.float32) / np.float32(255.0)
    return (x - np.float32(0.5)) / np.float32(0.5)                            # (I1)


_CACHE: dict = {}


_this = sys.modules[__name__]


def load(name: str, data_dir=None, *, download: bool = False, verify: bool = True):
    """``(X_train, y_train, X_test, y_test)`` of ``name`` from its official files (module docstring). The last
    dataset read is kept in memory, so the runs of a sweep in one worker read it once."""
    name = _name(name)
    folder = os.path.join(data_folder(data_dir), name)
    if download:                                  # the arguments are named as data.load's: the functions by module
        _this.download(name, data_dir)            # checks every file it keeps or fetches
    else:
        require(name, data_dir)
        if verify:
            _this.verify(name, data_dir)
    key = (name, os.path.abspath(folder), tuple(os.stat(os.path.join(folder, f)).st_mtime_ns for f in FILES[name]))
    if key in _CACHE:
        return _CACHE[key]
    if name == "cifar10":
        parts = [_read_cifar(os.path.join(folder, f)) for f in FILES[name]]
        X_tr = np.concatenate([p[0] for p in parts[:5]])
        y_tr = np.concatenate([p[1] for p in parts[:5]])
        X_te, y_te = parts[5]
    else:
        X_tr, y_tr, X_te, y_te = (_read_idx(os.path.join(folder, f), 0x803 if "images" in f else 0x801,
                                            3 if "images" in f else 1) for f in FILES[name])
        for X, y, part in ((X_tr, y_tr, "train"), (X_te, y_te, "t10k")):
            if X.shape[0] != y.shape[0]:
                raise ValueError(f"{folder}: {X.shape[0]} {part} images but {y.shape[0]} labels")
            if X.shape[1:] != (28, 28):
                raise ValueError(f"{folder}: {part} images are {X.shape[1:]}, not 28 x 28")
        X_tr, X_te = X_tr.reshape(X_tr.shape[0], -1), X_te.reshape(X_te.shape[0], -1)
    out = (_scale(X_tr), y_tr.astype(np.int64), _scale(X_te), y_te.astype(np.int64))
    _CACHE.clear()
    _CACHE[key] = out
    return out


def write_idx(path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzipped IDX file (images: (n, rows, cols); labels: (n,)): the official format, for
    tests and for users who convert their own data."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x803 if array.ndim == 3 else 0x801
    header = struct.pack(">" + "I" * (1 + array.ndim), magic, *array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.tobytes())


def write_cifar_batch(path, pixels: np.ndarray, labels: np.ndarray) -> None:
    """Write CIFAR-10 binary records (pixels (n, 3, 32, 32) or (n, 3072) uint8, labels (n,)): the official format."""
    pixels = np.asarray(pixels, dtype=np.uint8).reshape(len(labels), -1)
    records = np.concatenate([np.asarray(labels, dtype=np.uint8)[:, None], pixels], axis=1)
    with open(path, "wb") as fh:
        fh.write(records.tobytes())


def write_sample_files(name: str, data_dir, n_train: int = 64, n_test: int = 32, seed: int = 0, *,
                       archive: bool = False) -> str:
    """Write a small random dataset in ``name``'s official file format into ``<data_dir>/<name>/`` and return the
    folder: for trying the pipeline offline, for tests and for benchmarks of the real shapes. The files are not
    the official ones, so load them with ``verify=False``. ``archive`` (CIFAR-10) also writes the .tar.gz.

    >>> import tempfile
    >>> folder = write_sample_files("mnist", tempfile.mkdtemp(), n_train=10, n_test=5)
    >>> X, y, Xt, yt = load("mnist", os.path.dirname(folder), verify=False)
    >>> X.shape, X.dtype, float(X.min()) >= -1.0, Xt.shape, y.dtype
    ((10, 784), dtype('float32'), True, (5, 784), dtype('int64'))
    """
    name = _name(name)
    # at most the official counts: a sample is never larger than the real files
    n_train = V.integer("n_train", n_train, lo=1, hi=N_TRAIN[name])
    n_test = V.integer("n_test", n_test, lo=1, hi=N_TEST[name])
    rng = np.random.default_rng(V.seed(seed))
    folder = os.path.join(os.fspath(V.path("data_dir", data_dir)), name)
    os.makedirs(folder, exist_ok=True)
    if name != "cifar10":
        parts = {"train": n_train, "t10k": n_test}
        for part, n in parts.items():
            write_idx(os.path.join(folder, f"{part}-images-idx3-ubyte.gz"), rng.integers(0, 256, (n, 28, 28)))
            write_idx(os.path.join(folder, f"{part}-labels-idx1-ubyte.gz"), rng.integers(0, 10, n))
        return folder
    os.makedirs(os.path.join(folder, CIFAR_DIR), exist_ok=True)
    sizes = [n_train // 5 + (1 if i < n_train % 5 else 0) for i in range(5)] + [n_test]
    for batch, n in zip(_CIFAR_BATCHES, sizes):
        write_cifar_batch(os.path.join(folder, CIFAR_DIR, batch), rng.integers(0, 256, (max(n, 1), 3072)),
                          rng.integers(0, 10, max(n, 1)))
    if archive:
        with tarfile.open(os.path.join(folder, CIFAR_ARCHIVE), "w:gz") as tar:
            tar.add(os.path.join(folder, CIFAR_DIR), arcname=CIFAR_DIR)
    return folder
