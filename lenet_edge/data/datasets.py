"""Which digits to train, validate and test on.

Training data (load_train_val):
    mnist-5k        the 5,000 digits shipped in lenet_edge/data/mnist_5k.npz; validation = 50 per class (500), seeded
    mnist           the official files, downloaded once into cache_dir()/mnist
    fashion-mnist   Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist)
    data_dir        any folder with the four MNIST-named IDX files; overrides the dataset name.
                    Validation = the last 5,000 train images when there are >= 20,000, else a
                    seeded 10% split.

Test data (load_test), first found wins:
    test_dir > cached official MNIST (mnist-5k / mnist without data_dir) > t10k files of the
    data_dir or of Fashion-MNIST > the `fallback` (the held-out split), whose source then says so.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from lenet_edge.data.digits import Digits
from lenet_edge.data.download import cache_dir, download_mnist
from lenet_edge.data.embedded import load_mnist_5k
from lenet_edge.data.idx import has_split, read_split
from lenet_edge.errors import LenetEdgeError

DATASETS = ("mnist-5k", "mnist", "fashion-mnist")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # where Debian's package installs the files
FASHION_INSTALL = "sudo apt-get install dataset-fashion-mnist"

MNIST_5K_VAL_PER_CLASS = 50  # 10 classes x 50 = 500 held out, 4,500 left to train on
LARGE_TRAIN = 20_000         # from this many train images on, validate on the last LARGE_VAL
LARGE_VAL = 5_000
SMALL_VAL_FRACTION = 0.1

# digits_sha256 of the two known t10k sets, so `source` can say "official" only when it is.
OFFICIAL_TEST_SHA256 = "a0863a96c44e5666edbb30c4071ee79ca0514c621e6349c5967fc78e7305c891"
FASHION_TEST_SHA256 = "9a494dc49efeb996f4076c469b31cd058152067b1594ba6ab85dd739fce3775e"


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise LenetEdgeError(f"unknown dataset {dataset!r} (choose from {', '.join(DATASETS)})")


def _fashion_dir() -> Path:
    if not has_split(FASHION_DIR, "train"):
        raise LenetEdgeError(
            f"{FASHION_DIR}: Fashion-MNIST not found (install it with `{FASHION_INSTALL}`, "
            "or pass --data-dir DIR with its IDX files)")
    return FASHION_DIR


# ---- training and validation ----------------------------------------------------------------

def load_train_val(dataset: str = "mnist-5k", data_dir: Path | None = None, val_size: int | None = None,
                   seed: int = 0) -> tuple[Digits, Digits]:
    """(train, validation) digits; deterministic for a given dataset, data and seed."""
    _check_dataset(dataset)
    if data_dir is None and dataset == "mnist-5k":
        return _split_mnist_5k(val_size, seed)
    if data_dir is not None:
        folder, name = Path(data_dir), f"IDX files in {data_dir}"
    elif dataset == "mnist":
        folder, name = download_mnist(), "official MNIST"
    else:
        folder, name = _fashion_dir(), "Fashion-MNIST"
    images, labels, images_path = read_split(folder, "train")
    return _split_idx(Digits.from_arrays(images, labels, str(images_path)), name, val_size, seed)


def _split_mnist_5k(val_size: int | None, seed: int) -> tuple[Digits, Digits]:
    """Stratified: val_size/10 digits of each class, drawn with default_rng(seed) class by class."""
    images, labels = load_mnist_5k()
    val_size = 10 * MNIST_5K_VAL_PER_CLASS if val_size is None else val_size
    per_class = val_size // 10
    smallest = int(np.bincount(labels, minlength=10).min())
    if val_size % 10 or not 0 < per_class < smallest:
        raise LenetEdgeError(f"mnist-5k: validation size {val_size} must be a multiple of 10 between 10 "
                             f"and {10 * (smallest - 1)} (stratified: val_size/10 per class)")
    rng = np.random.default_rng(seed)
    val_index = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(10)]))
    is_val = np.zeros(len(labels), dtype=bool)
    is_val[val_index] = True
    train = Digits.from_arrays(images[~is_val], labels[~is_val],
                               f"mnist-5k (embedded, {np.count_nonzero(~is_val):,} train)")
    val = Digits.from_arrays(images[is_val], labels[is_val],
                             f"held-out split of mnist-5k ({val_size:,}, seed {seed})")
    return train, val


def _split_idx(all_train: Digits, name: str, val_size: int | None, seed: int) -> tuple[Digits, Digits]:
    """Large sets: the last 5,000 (or val_size) images. Small sets: a seeded random 10% (or val_size)."""
    n = len(all_train)
    large = n >= LARGE_TRAIN
    if val_size is None:
        val_size = LARGE_VAL if large else max(1, round(n * SMALL_VAL_FRACTION))
    if not 0 < val_size < n:
        raise LenetEdgeError(f"{all_train.source}: {n} training images cannot give a validation split "
                             f"of {val_size} (need 1 <= val_size < {n})")
    if large:
        is_val = np.arange(n) >= n - val_size
        how = f"last {val_size:,} train images"
    else:
        is_val = np.zeros(n, dtype=bool)
        is_val[np.random.default_rng(seed).choice(n, val_size, replace=False)] = True
        how = f"random, seed {seed}"
    train = all_train.subset(~is_val, f"{name} ({n - val_size:,} train)")
    val = all_train.subset(is_val, f"held-out split of {name} ({val_size:,}, {how})")
    return train, val


# ---- test -----------------------------------------------------------------------------------

def _load_t10k(folder: Path) -> Digits:
    images, labels, _ = read_split(folder, "t10k")
    digits = Digits.from_arrays(images, labels, f"t10k IDX files in {folder}")
    if digits.sha256 == OFFICIAL_TEST_SHA256:
        return dataclasses.replace(digits, source=f"official MNIST test set ({folder}/t10k-*)")
    if digits.sha256 == FASHION_TEST_SHA256:
        return dataclasses.replace(digits, source=f"Fashion-MNIST test set ({folder}/t10k-*)")
    return digits


def load_test(test_dir: Path | None = None, dataset: str = "mnist-5k", data_dir: Path | None = None,
              fallback: Digits | None = None) -> Digits:
    """The evaluation set, first found of: test_dir, the cached official MNIST (mnist-5k / mnist
    without data_dir), the t10k files of data_dir or Fashion-MNIST, the fallback. `source` says which."""
    _check_dataset(dataset)
    if test_dir is not None:
        return _load_t10k(Path(test_dir))
    if data_dir is None and dataset in ("mnist-5k", "mnist"):
        cached = cache_dir() / "mnist"
        if has_split(cached, "t10k"):
            return _load_t10k(cached)
    folder = Path(data_dir) if data_dir is not None else FASHION_DIR if dataset == "fashion-mnist" else None
    if folder is not None and has_split(folder, "t10k"):
        return _load_t10k(folder)
    if fallback is not None:
        return dataclasses.replace(
            fallback, source=f"{fallback.source}; no test set found (pass --test-dir DIR with the t10k files)")
    hint = f" (or `{FASHION_INSTALL}`)" if dataset == "fashion-mnist" and data_dir is None else ""
    raise LenetEdgeError(f"no test set found: pass --test-dir DIR with the t10k-images/labels IDX files{hint}")
