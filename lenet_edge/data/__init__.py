"""Digit data: the embedded 5k MNIST sample, standard IDX files, the downloader. numpy only."""
from lenet_edge.data.datasets import DATASETS, FASHION_DIR, load_test, load_train_val
from lenet_edge.data.digits import Digits, digits_sha256
from lenet_edge.data.download import DEFAULT_MIRROR, MIRRORS, MNIST_MD5, cache_dir, download_mnist
from lenet_edge.data.idx import read_idx, write_idx

__all__ = [
    "DATASETS", "DEFAULT_MIRROR", "FASHION_DIR", "MIRRORS", "MNIST_MD5", "Digits", "cache_dir",
    "digits_sha256", "download_mnist", "load_test", "load_train_val", "read_idx", "write_idx",
]
