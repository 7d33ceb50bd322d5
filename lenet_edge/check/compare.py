"""Exact comparison of the generated C against ONNX Runtime: whole outputs, then layer by layer.

Nothing here runs the C or ORT; the functions take arrays, so they are tested on their own.
Shapes: scores int32 [N, 10], labels int [N]; a layer's codes int8, flat NCHW for one image.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lenet_edge.errors import LenetEdgeError


@dataclass(frozen=True)
class Mismatch:
    """One image whose C scores or label differ from ORT's."""
    image: int                # index in the whole verification batch
    family: str               # input family ("test-set", "hot-pixel", ...)
    family_index: int         # index inside that family
    got_label: int
    want_label: int
    got_scores: list[int]
    want_scores: list[int]


@dataclass(frozen=True)
class TraceRecord:
    """One layer's output for one image, as the C computed it: the int8 codes its trace hook
    (lenet5_trace) reported, or the int32 scores / the label that lenet5_predict returned."""
    layer: int                # layer index in the generated code (0 = first layer)
    tensor: str               # ONNX output tensor name of that layer
    codes: np.ndarray         # [n] integers in NCHW order


@dataclass(frozen=True)
class Divergence:
    """The first layer where the C and ORT disagree, for one image."""
    layer: int                # layer index in the generated code
    tensor: str               # ONNX tensor name of that layer's output
    index: int                # flat index of the first differing value (NCHW, one image)
    got: int                  # the C's value there
    want: int                 # ORT's value there
    differing: int            # how many values of that tensor differ
    size: int                 # values in that tensor

    def __str__(self) -> str:
        return (f"layer {self.layer} ({self.tensor}): index {self.index}: got {self.got}, want {self.want} "
                f"({self.differing} of {self.size} values differ)")


@dataclass
class FamilyCount:
    images: int = 0
    mismatches: int = 0
    label_mismatches: int = 0


@dataclass
class Comparison:
    """Result of comparing all images: counts per family and every mismatching image."""
    families: dict[str, FamilyCount] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def images(self) -> int:
        return sum(c.images for c in self.families.values())

    @property
    def ok(self) -> bool:
        return not self.mismatches


def compare_outputs(got_scores: np.ndarray, got_labels: np.ndarray, want_scores: np.ndarray,
                    want_labels: np.ndarray, families: list[tuple[str, int]]) -> Comparison:
    """Compare every score and label; `families` lists (name, count) in batch order and must cover
    the batch exactly. An image mismatches if any of its 10 scores or its label differs."""
    got_scores, want_scores = np.asarray(got_scores), np.asarray(want_scores)
    got_labels, want_labels = np.asarray(got_labels).reshape(-1), np.asarray(want_labels).reshape(-1)
    n = len(want_labels)
    if got_scores.shape != want_scores.shape or got_labels.shape != want_labels.shape:
        raise LenetEdgeError(f"C output shapes scores {got_scores.shape} / labels {got_labels.shape} do not match "
                             f"ORT's {want_scores.shape} / {want_labels.shape}")
    if sum(count for _, count in families) != n:
        raise LenetEdgeError(f"input families cover {sum(c for _, c in families)} images, batch has {n}")
    score_bad = (got_scores != want_scores).any(axis=1)
    label_bad = got_labels != want_labels
    result = Comparison()
    start = 0
    for name, count in families:
        sl = slice(start, start + count)
        fc = result.families.setdefault(name, FamilyCount())
        fc.images += count
        fc.mismatches += int((score_bad[sl] | label_bad[sl]).sum())
        fc.label_mismatches += int(label_bad[sl].sum())
        for i in np.flatnonzero(score_bad[sl] | label_bad[sl]):
            j = start + int(i)
            result.mismatches.append(Mismatch(
                image=j, family=name, family_index=int(i),
                got_label=int(got_labels[j]), want_label=int(want_labels[j]),
                got_scores=[int(v) for v in got_scores[j]], want_scores=[int(v) for v in want_scores[j]]))
        start += count
    return result


def _first_difference(tensor: str, layer: int, got: np.ndarray, want: np.ndarray) -> Divergence | None:
    got, want = np.asarray(got).reshape(-1), np.asarray(want).reshape(-1)
    if got.size != want.size:
        raise LenetEdgeError(f"layer {layer} ({tensor}): C traced {got.size} values, ORT's tensor has {want.size}")
    diff = np.flatnonzero(got.astype(np.int64) != want.astype(np.int64))
    if diff.size == 0:
        return None
    i = int(diff[0])
    return Divergence(layer=layer, tensor=tensor, index=i, got=int(got[i]), want=int(want[i]),
                      differing=int(diff.size), size=int(want.size))


def first_divergence(trace: list[TraceRecord], want_tensors: dict[str, np.ndarray]) -> Divergence | None:
    """Walk the C's layer outputs in layer order and return the first that differs from ORT's tensor
    of the same name (one image: ORT arrays are [1, ...]); None when every layer agrees."""
    for rec in sorted(trace, key=lambda r: r.layer):
        if rec.tensor not in want_tensors:
            raise LenetEdgeError(f"layer {rec.layer}: ORT did not report tensor {rec.tensor!r}")
        found = _first_difference(rec.tensor, rec.layer, rec.codes, want_tensors[rec.tensor])
        if found:
            return found
    return None
