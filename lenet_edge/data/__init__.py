"""Digit data: the embedded 5k MNIST sample, standard IDX files, the downloader. numpy only."""
