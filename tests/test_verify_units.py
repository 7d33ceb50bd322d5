"""Unit tests of the verification inputs and the comparison logic (no C, no ORT)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from lenet_edge.check.compare import TraceRecord, compare_outputs, first_divergence
from lenet_edge.check.inputs import SIDE, hot_pixels, verification_families
from lenet_edge.errors import LenetEdgeError


@pytest.fixture(scope="module")
def digits():
    return np.random.default_rng(1).integers(0, 256, size=(1200, SIDE, SIDE), dtype=np.uint8)


@pytest.fixture(scope="module")
def families(digits):
    return verification_families(digits)


def _digest(families):
    return hashlib.sha256(b"".join(f.name.encode() + f.images.tobytes() for f in families)).hexdigest()


def test_full_families_are_large_typed_and_named(families):
    names = [f.name for f in families]
    assert len(set(names)) == len(names)
    assert {"constant", "checkerboard", "hot-pixel", "uniform", "strokes", "blobs",
            "inverted-digits"} <= set(names)
    assert sum(len(f.images) for f in families) >= 10_000
    for f in families:
        assert f.images.dtype == np.uint8 and f.images.shape[1:] == (SIDE, SIDE) and len(f.images) > 0, f.name
        assert f.description


def test_families_are_deterministic_and_limit_caps_each(digits, families):
    assert _digest(verification_families(digits)) == _digest(families)
    small = verification_families(digits, limit=7)
    assert all(1 <= len(f.images) <= 7 for f in small)
    # the generators are per call: a limited run leaves the full set unchanged
    assert _digest(verification_families(digits)) == _digest(families)


def test_corner_images_present(families):
    by_name = {f.name: f.images for f in families}
    const = by_name["constant"]
    assert (const[0] == 0).all() and (const[255] == 255).all() and len(const) == 256
    boards = by_name["checkerboard"]
    assert set(np.unique(boards)) == {0, 255}
    # period-1 board: neighbours differ
    assert any((b[:, 1:] != b[:, :-1]).all() for b in boards)


def test_hot_pixels_cover_every_position_once_per_value():
    hp = hot_pixels().reshape(4, SIDE * SIDE, SIDE * SIDE)
    for k, (value, background) in enumerate([(255, 0), (128, 0), (1, 0), (0, 255)]):
        lit = hp[k] != background
        assert (lit.sum(axis=1) == 1).all()
        assert (np.argmax(lit, axis=1) == np.arange(SIDE * SIDE)).all()
        assert (hp[k][lit] == value).all()


def test_digit_families_derive_from_the_digits(digits, families):
    inverted = {f.name: f for f in families}["inverted-digits"].images
    originals = {d.tobytes() for d in digits}
    assert all((255 - img).tobytes() in originals for img in inverted)


def _scores(n, seed=0):
    return np.random.default_rng(seed).integers(-1000, 1000, size=(n, 10)).astype(np.int32)


def test_compare_outputs_counts_per_family():
    want = _scores(10)
    labels = want.argmax(1)
    got = want.copy()
    got_labels = labels.copy()
    got[3, 7] += 1                       # score-only mismatch in family "a"
    got_labels[8] = (labels[8] + 1) % 10  # label mismatch in family "b"
    cmp = compare_outputs(got, got_labels, want, labels, [("a", 5), ("b", 5)])
    assert not cmp.ok and cmp.images == 10
    assert (cmp.families["a"].mismatches, cmp.families["a"].label_mismatches) == (1, 0)
    assert (cmp.families["b"].mismatches, cmp.families["b"].label_mismatches) == (1, 1)
    assert [(m.image, m.family, m.family_index) for m in cmp.mismatches] == [(3, "a", 3), (8, "b", 3)]
    assert cmp.mismatches[0].got_scores[7] == want[3, 7] + 1
    assert compare_outputs(want, labels, want, labels, [("a", 10)]).ok


def test_compare_outputs_rejects_bad_shapes():
    want = _scores(4)
    with pytest.raises(LenetEdgeError, match="shapes"):
        compare_outputs(want[:3], want.argmax(1)[:3], want, want.argmax(1), [("a", 4)])
    with pytest.raises(LenetEdgeError, match="cover 3"):
        compare_outputs(want, want.argmax(1), want, want.argmax(1), [("a", 3)])


def test_first_divergence_names_first_differing_layer():
    rng = np.random.default_rng(2)
    c1 = rng.integers(-128, 128, size=(1, 6, 28, 28), dtype=np.int8)
    s2 = rng.integers(-128, 128, size=(1, 6, 14, 14), dtype=np.int8)
    scores = _scores(1)
    want = {"c1_out": c1, "s2_out": s2, "scores": scores}
    bad_s2 = s2.reshape(-1).copy()
    bad_s2[[100, 300]] += 1
    trace = [TraceRecord(9, "scores", scores[0]), TraceRecord(4, "s2_out", bad_s2),
             TraceRecord(2, "c1_out", c1.reshape(-1))]
    div = first_divergence(trace, want)
    assert (div.layer, div.tensor, div.index, div.got, div.want) == (4, "s2_out", 100, int(bad_s2[100]),
                                                                      int(s2.reshape(-1)[100]))
    assert div.differing == 2 and div.size == s2.size
    assert "layer 4 (s2_out): index 100" in str(div)
    good = [TraceRecord(2, "c1_out", c1.reshape(-1)), TraceRecord(4, "s2_out", s2.reshape(-1))]
    assert first_divergence(good + [TraceRecord(9, "scores", scores[0])], want) is None
    worse = scores[0].copy()
    worse[4] -= 3
    div = first_divergence(good + [TraceRecord(9, "scores", worse)], want)
    assert (div.layer, div.tensor, div.index, div.got - div.want) == (9, "scores", 4, -3)


def test_first_divergence_size_and_name_errors():
    c1 = np.zeros((1, 6, 28, 28), np.int8)
    with pytest.raises(LenetEdgeError, match="traced 5 values"):
        first_divergence([TraceRecord(0, "c1_out", np.zeros(5, np.int8))], {"c1_out": c1})
    with pytest.raises(LenetEdgeError, match="did not report tensor 'zz'"):
        first_divergence([TraceRecord(0, "zz", np.zeros(5, np.int8))], {"c1_out": c1})
