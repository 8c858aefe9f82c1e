"""The image loaders read the official formats from tiny files written here (IDX gz for MNIST and Fashion-MNIST,
CIFAR-10's binary records), check them against checksums, and explain what is missing. Nothing touches the network:
the download test fetches from file:// URLs."""

import gzip
import hashlib
import os
import tarfile

import numpy as np
import pytest

import clara_ref as cr
from clara_ref import images


def _md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize("name,width", [("mnist", 784), ("fashion_mnist", 784), ("cifar10", 3072)])
def test_shapes_dtypes_labels_scaling_and_splits(tmp_path, name, width):
    images.write_sample_files(name, tmp_path, n_train=40, n_test=12, seed=1)
    X, y, Xt, yt = cr.data.load(name, data_dir=tmp_path, verify=False)
    assert X.shape == (40, width) and Xt.shape == (12, width) and y.shape == (40,) and yt.shape == (12,)
    assert X.dtype == np.float32 and y.dtype == np.int64 and set(y.tolist()) <= set(range(10))
    assert X.min() >= -1.0 and X.max() <= 1.0 and X.min() < -0.9 and X.max() > 0.9
    assert cr.data.n_train(name) == images.N_TRAIN[name]


def test_pixels_are_scaled_as_the_papers_torchvision_pipeline(tmp_path):
    """ToTensor then Normalize(0.5, 0.5): p = 0 -> -1, 255 -> 1, 51 -> -0.6; MNIST rows are row-major pixels and
    CIFAR rows hold the red plane, then green, then blue (torch's channel-first layout)."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    img = np.zeros((2, 28, 28), dtype=np.uint8)
    img[0, 0, 1], img[1, 27, 27], img[1, 3, 0] = 255, 51, 255
    for part in ("train", "t10k"):
        images.write_idx(folder / f"{part}-images-idx3-ubyte.gz", img)
        images.write_idx(folder / f"{part}-labels-idx1-ubyte.gz", np.array([7, 3]))
    X, y, _, _ = cr.data.load("mnist", data_dir=tmp_path, verify=False)
    assert X[0, 1] == 1.0 and X[0, 0] == -1.0 and X[1, 28 * 27 + 27] == np.float32(51 / 255 * 2 - 1)
    assert X[1, 3 * 28] == 1.0 and y.tolist() == [7, 3]
    images.write_sample_files("cifar10", tmp_path, n_train=5, n_test=1)
    pixels = np.zeros((1, 3, 32, 32), dtype=np.uint8)
    pixels[0, 2, 0, 5] = 255                                    # blue channel, row 0, column 5
    images.write_cifar_batch(tmp_path / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin", pixels, np.array([4]))
    _, _, Xt, yt = cr.data.load("cifar10", data_dir=tmp_path, verify=False)
    assert Xt[0].reshape(3, 32, 32)[2, 0, 5] == 1.0 and (Xt[0] == -1.0).sum() == 3071 and yt.tolist() == [4]


def test_bad_files_are_refused_by_name(tmp_path):
    folder = images.write_sample_files("mnist", tmp_path, n_train=4, n_test=2)
    path = os.path.join(folder, "train-labels-idx1-ubyte.gz")
    with gzip.open(path, "wb") as fh:                          # wrong magic number
        fh.write(b"\x00\x00\x08\x03" + b"\x00" * 20)
    with pytest.raises(ValueError, match=f"{path} is not an IDX label file"):
        cr.data.load("mnist", data_dir=tmp_path, verify=False)
    with pytest.raises(ValueError, match="standardize must be True for mnist"):
        cr.data.load("mnist", data_dir=tmp_path, standardize=False, verify=False)


def test_a_corrupted_file_fails_verify_naming_it(tmp_path, monkeypatch):
    folder = images.write_sample_files("fashion_mnist", tmp_path, n_train=6, n_test=3)
    sums = {f: _md5(os.path.join(folder, f)) for f in images.FILES["fashion_mnist"]}
    monkeypatch.setitem(images.MD5, "fashion_mnist", sums)       # our files play the official ones
    cr.data.load("fashion_mnist", data_dir=tmp_path, verify=True)
    victim = os.path.join(folder, "t10k-images-idx3-ubyte.gz")
    data = bytearray(open(victim, "rb").read())
    data[-9] ^= 0xFF
    open(victim, "wb").write(bytes(data))
    with pytest.raises(images.ChecksumError, match=f"{victim} is not the official fashion_mnist file"):
        cr.data.load("fashion_mnist", data_dir=tmp_path, verify=True)
    with pytest.raises(ValueError, match=f"{victim} is not a readable gzipped IDX file"):
        cr.data.load("fashion_mnist", data_dir=tmp_path, verify=False)    # unverified, still refused by name


def test_the_real_checksums_refuse_generated_files(tmp_path):
    images.write_sample_files("mnist", tmp_path, n_train=3, n_test=2)
    with pytest.raises(images.ChecksumError, match="train-images-idx3-ubyte.gz is not the official mnist file"):
        cr.data.load("mnist", data_dir=tmp_path)


def test_cifar_is_verified_against_its_archive_or_by_its_structure(tmp_path, monkeypatch):
    folder = images.write_sample_files("cifar10", tmp_path, n_train=10, n_test=2, archive=True)
    archive = os.path.join(folder, images.CIFAR_ARCHIVE)
    monkeypatch.setitem(images.MD5, "cifar10", {images.CIFAR_ARCHIVE: _md5(archive)})
    cr.data.load("cifar10", data_dir=tmp_path)                      # archive MD5 and every member match
    victim = os.path.join(folder, "cifar-10-batches-bin", "data_batch_3.bin")
    data = bytearray(open(victim, "rb").read())
    data[100] ^= 1
    open(victim, "wb").write(bytes(data))
    with pytest.raises(images.ChecksumError, match=f"{victim} differs from its copy in the official archive"):
        cr.data.load("cifar10", data_dir=tmp_path)
    os.remove(victim)                                               # a missing batch is unpacked again
    cr.data.load("cifar10", data_dir=tmp_path)
    os.remove(archive)                                              # without the archive: sizes and labels only
    with pytest.raises(images.ChecksumError, match="data_batch_1.bin has 6146 bytes, but an official CIFAR-10 batch"):
        cr.data.load("cifar10", data_dir=tmp_path)


def test_only_the_archive_is_enough_and_is_unpacked_safely(tmp_path):
    src = images.write_sample_files("cifar10", tmp_path / "src", n_train=5, n_test=1, archive=True)
    target = tmp_path / "data" / "cifar10"
    target.mkdir(parents=True)
    os.replace(os.path.join(src, images.CIFAR_ARCHIVE), target / images.CIFAR_ARCHIVE)
    X, _, _, _ = cr.data.load("cifar10", data_dir=tmp_path / "data", verify=False)
    assert X.shape == (5, 3072) and sorted(os.listdir(target / "cifar-10-batches-bin")) == sorted(
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin",
         "test_batch.bin"])
    evil = tmp_path / "evil"
    evil.mkdir()
    with tarfile.open(evil / images.CIFAR_ARCHIVE, "w:gz") as tar:         # members outside the expected names
        (tmp_path / "x.txt").write_text("x")
        tar.add(tmp_path / "x.txt", arcname="../../x.txt")
    with pytest.raises(KeyError):
        images._unpack_cifar(str(evil))
    assert not (tmp_path.parent / "x.txt").exists()


def test_a_missing_folder_says_where_what_and_how(tmp_path):
    with pytest.raises(images.DataMissingError) as info:
        cr.data.load("mnist", data_dir=tmp_path / "nowhere")
    msg = str(info.value)
    assert str(tmp_path / "nowhere" / "mnist") in msg and "train-images-idx3-ubyte.gz" in msg
    assert "--download" in msg and "download=True" in msg and "copy them there" in msg
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-bin/data_batch_1.bin"):
        cr.data.load("cifar10", data_dir=tmp_path)


def test_data_dir_defaults_to_the_environment_then_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CLARA_REF_DATA", str(tmp_path))
    assert images.data_folder() == str(tmp_path)
    monkeypatch.delenv("CLARA_REF_DATA")
    assert "clara_ref" in images.data_folder()


def test_download_fetches_checks_and_moves_into_place(tmp_path, monkeypatch):
    """From file:// URLs (no network): every file arrives whole, a file whose checksum differs is refused and
    leaves nothing behind."""
    src = images.write_sample_files("mnist", tmp_path / "mirror", n_train=5, n_test=2)
    sums = {f: _md5(os.path.join(src, f)) for f in images.FILES["mnist"]}
    monkeypatch.setitem(images.MD5, "mnist", sums)
    monkeypatch.setitem(images.URLS, "mnist", ("file:///nonexistent/", "file://" + src + "/"))
    X, _, _, _ = cr.data.load("mnist", data_dir=tmp_path / "data", download=True)
    assert X.shape == (5, 784)
    assert sorted(os.listdir(tmp_path / "data" / "mnist")) == sorted(images.FILES["mnist"])   # no temporaries
    monkeypatch.setitem(images.MD5, "fashion_mnist", {**sums, "train-images-idx3-ubyte.gz": "0" * 32})
    monkeypatch.setitem(images.URLS, "fashion_mnist", ("file://" + src + "/",))
    with pytest.raises(images.ChecksumError, match="not the official 0000"):
        images.download("fashion_mnist", tmp_path / "data", progress=False)
    assert not [f for f in os.listdir(tmp_path / "data" / "fashion_mnist") if f.startswith("train-images")]
