"""`lenet-edge predict`: the MNIST preprocessing recipe, every backend on the user's own files, the
cached C build, and one-line errors naming the file."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from lenet_edge.cli import main as cli
from lenet_edge.data import load_test
from lenet_edge.errors import LenetEdgeError
from lenet_edge.predict import load_images, to_mnist

N = 12  # official test digits rendered as the user's own files


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    a = img.astype(np.float64)
    return ((a.sum(1) * np.arange(28)).sum() / a.sum(), (a.sum(0) * np.arange(28)).sum() / a.sum())


def user_photo(digit: np.ndarray, size: int, shift: tuple[int, int], light: bool) -> np.ndarray:
    """A 28x28 MNIST digit as a user might draw it: enlarged, off-centre on a large sheet, dark ink
    on light paper (light=True) or light ink on dark."""
    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR))
    sheet = np.zeros((size * 2 + 40, size * 3), dtype=np.uint8)
    sheet[20 + shift[0]:20 + shift[0] + size, size + shift[1]:2 * size + shift[1]] = big
    return 255 - sheet if light else sheet


@pytest.fixture(scope="module")
def digits(official_test_dir):
    t = load_test(official_test_dir)
    return t.images[:N], t.labels[:N]


@pytest.fixture(scope="module")
def user_files(digits, tmp_path_factory):
    """PNG (dark on light, RGBA), JPEG (light on dark, RGB) and PGM files of the first N test digits."""
    folder = tmp_path_factory.mktemp("user_digits")
    files = []
    for i, d in enumerate(digits[0]):
        kind = ("png", "jpg", "pgm")[i % 3]
        photo = user_photo(d, size=90 + 10 * i, shift=(i % 5, -3 * (i % 4)), light=kind != "jpg")
        img = Image.fromarray(photo)
        path = folder / f"digit{i}.{kind}"
        if kind == "png":
            img = img.convert("RGBA")
        elif kind == "jpg":
            img = img.convert("RGB")
        img.save(path, quality=92) if kind == "jpg" else img.save(path)
        files.append(path)
    return files


# ---------------------------------------------------------------------------------------------
# Preprocessing

def test_recipe_fits_20x20_and_centres_the_mass(digits):
    for d in digits[0]:
        out = to_mnist(user_photo(d, 120, (3, -7), light=True))
        rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21  # 20 px box (+1 for resampling tails)
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 >= 19
        cy, cx = centre_of_mass(out)
        assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0
        assert out.max() == 255 and out[0].max() == 0  # bright ink on a black frame


def test_recipe_ignores_polarity_size_and_position(digits):
    d = digits[0][0]
    a = to_mnist(user_photo(d, 100, (0, 0), light=True)).astype(int)
    b = to_mnist(user_photo(d, 100, (9, -20), light=False)).astype(int)
    c = to_mnist(user_photo(d, 300, (2, 5), light=True)).astype(int)
    assert np.array_equal(a, b)                        # polarity and position: identical
    assert np.abs(a - c).mean() < 6                    # size: resampling differences only
    # and it stays close to the original MNIST digit it came from
    assert np.abs(a - d.astype(int)).mean() < 25


def test_transparent_png_with_dark_strokes(tmp_path, digits):
    d = digits[0][1]
    rgba = np.zeros((84, 84, 4), dtype=np.uint8)    # black strokes, alpha = ink, clear elsewhere
    rgba[..., 3] = np.asarray(Image.fromarray(d).resize((84, 84)))
    Image.fromarray(rgba, "RGBA").save(tmp_path / "strokes.png")
    _, out = load_images(tmp_path / "strokes.png")
    ref = to_mnist(user_photo(d, 84, (0, 0), light=False))
    assert np.abs(out[0].astype(int) - ref.astype(int)).mean() < 6


def test_npy_is_taken_as_is(tmp_path, digits):
    np.save(tmp_path / "one.npy", digits[0][0])
    np.save(tmp_path / "many.npy", digits[0][:5])
    names, one = load_images(tmp_path / "one.npy")
    assert names == [str(tmp_path / "one.npy")] and np.array_equal(one[0], digits[0][0])
    names, many = load_images(tmp_path / "many.npy")
    assert names[4] == f"{tmp_path / 'many.npy'}[4]" and np.array_equal(many, digits[0][:5])


# ---------------------------------------------------------------------------------------------
# Backends

def test_user_files_are_recognised_like_the_originals(full_run, user_files, digits):
    result = invoke("predict", "--run", full_run, "--backend", "int8", "--json", *user_files)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["backend"] == "int8" and out["scores"] == "RBF distances, smallest wins"
    assert [r["file"] for r in out["results"]] == [str(p) for p in user_files]
    ref = invoke("predict", "--run", full_run, "--json", *_npy(full_run, digits[0]))
    want = [r["label"] for r in json.loads(ref.stdout)["results"]]
    got = [r["label"] for r in out["results"]]
    assert sum(g == w for g, w in zip(got, want)) >= N - 2, (got, want)
    for r in out["results"]:  # label = argmin of the 10 integer distances
        assert len(r["scores"]) == 10 and r["label"] == int(np.argmin(r["scores"]))


def _npy(run, images):
    path = run.parent / f"predict_{len(images)}.npy"
    np.save(path, images)
    return [path]


def test_backends_agree(full_run, user_files, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    outs = {}
    for backend in ("torch", "onnx", "int8", "c"):
        result = invoke("predict", "--run", run, "--backend", backend, "--json", *user_files)
        assert result.exit_code == 0, (backend, result.output)
        outs[backend] = json.loads(result.stdout)["results"]
    assert outs["c"] == outs["int8"]  # bit for bit: the generated C is ONNX Runtime's int8 model
    for t, o in zip(outs["torch"], outs["onnx"]):
        assert t["label"] == o["label"] and np.allclose(t["scores"], o["scores"], rtol=1e-4, atol=1e-3)


def test_c_backend_builds_once(full_run, tmp_path, digits, monkeypatch):
    from lenet_edge.check import hostbuild

    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    np.save(tmp_path / "d.npy", digits[0][:3])
    builds = []
    real_build = hostbuild.build
    monkeypatch.setattr(hostbuild, "build", lambda *a, **k: builds.append(1) or real_build(*a, **k))
    first = invoke("predict", "--run", run, "--backend", "c", tmp_path / "d.npy")
    second = invoke("predict", "--run", run, "--backend", "c", tmp_path / "d.npy")
    assert first.exit_code == second.exit_code == 0 and first.stdout == second.stdout
    assert len(builds) == 1
    assert len(list((run / ".predict-cache").iterdir())) == 1
    text = first.stdout.splitlines()
    assert len(text) == 3 and text[0].startswith(f"{tmp_path / 'd.npy'}[0]: ") and " scores 0:" in text[0]
    # new C (another model) -> one new build, the old entry is dropped
    (run / "c" / "lenet5_weights.c").write_text((run / "c" / "lenet5_weights.c").read_text() + "\n")
    (run / "lenet5_int8.onnx").unlink()  # the C on its own is used as it is
    assert invoke("predict", "--run", run, "--backend", "c", tmp_path / "d.npy").exit_code == 0
    assert len(builds) == 2 and len(list((run / ".predict-cache").iterdir())) == 1


# ---------------------------------------------------------------------------------------------
# Bad input: one line naming the file, nothing run

def _bad_files(folder):
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("not an image at all\n")
    Image.new("L", (60, 40), 200).save(folder / "blank.png")
    Image.new("RGB", (60, 40), (10, 10, 10)).save(folder / "black.jpg")
    noise = np.random.default_rng(0).integers(0, 256, (100, 100), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "full.png")
    (folder / "truncated.png").write_bytes((folder / "full.png").read_bytes()[:5000])
    np.save(folder / "float.npy", np.zeros((28, 28), np.float32))
    np.save(folder / "shape.npy", np.zeros((3, 27, 28), np.uint8))
    np.save(folder / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (folder / "dir.png").mkdir()
    return {
        "empty.png": "empty file", "text.png": "not an image Pillow can read", "blank.png": "blank image",
        "black.jpg": "blank image", "truncated.png": "cannot decode the image",
        "float.npy": "expected a uint8 array", "shape.npy": "expected a uint8 array",
        "objects.npy": "not a readable .npy array", "dir.png": "is a folder", "missing.pgm": "cannot read",
    }


def test_bad_files_are_one_line_errors(full_run, tmp_path, digits):
    np.save(tmp_path / "good.npy", digits[0][:2])
    for name, problem in _bad_files(tmp_path).items():
        result = invoke("predict", "--run", full_run, tmp_path / "good.npy", tmp_path / name)
        assert result.exit_code == 1, (name, result.output)
        lines = result.stderr.strip().splitlines()
        assert lines == [lines[0]] and lines[0].startswith(f"lenet-edge: error: {tmp_path / name}: "), (name, lines)
        assert problem in lines[0], (name, lines[0])
        assert result.stdout == "" and "Traceback" not in result.output


def test_missing_model_is_one_line(tmp_path, digits):
    np.save(tmp_path / "d.npy", digits[0][0])
    result = invoke("predict", "--run", tmp_path, "--backend", "int8", tmp_path / "d.npy")
    assert result.exit_code == 1 and "lenet5_int8.onnx: no such model file" in result.stderr
    result = invoke("predict", "--run", tmp_path, "--backend", "torch", tmp_path / "d.npy")
    assert result.exit_code == 1 and "checkpoint.pt: checkpoint not found" in result.stderr


def test_to_mnist_rejects_blank_arrays():
    with pytest.raises(LenetEdgeError, match="x.png: blank image"):
        to_mnist(np.full((30, 30), 17, np.uint8), "x.png")


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA", "P", "I;16"])
def test_image_modes_give_the_grayscale_result(tmp_path, digits, mode):
    photo = user_photo(digits[0][2], 70, (1, 2), light=True)
    want = to_mnist(photo)
    img = Image.fromarray(photo)
    if mode == "I;16":
        img = Image.fromarray((photo.astype(np.uint16) * 257).astype(">u2").astype(np.uint16))
        assert img.mode.startswith("I;16")
    else:
        img = img.convert(mode)
    img.save(tmp_path / "d.png")
    _, got = load_images(tmp_path / "d.png")
    assert np.abs(got[0].astype(int) - want.astype(int)).max() <= 2, mode


def test_stale_model_is_flagged(full_run, tmp_path, digits):
    from lenet_edge.model.checkpoint import load_checkpoint, save_checkpoint

    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    ckpt = load_checkpoint(run / "checkpoint.pt")
    save_checkpoint(run / "checkpoint.pt", {k: v for k, v in ckpt.items() if k != "format"} | {"epoch": 99})
    np.save(tmp_path / "d.npy", digits[0][0])
    result = invoke("predict", "--run", run, tmp_path / "d.npy")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"lenet-edge: warning: {run / 'lenet5_int8.onnx'} is stale (made from another "
                                    "checkpoint.pt")
    assert f"refresh with: lenet-edge export --target onnx --run {run}" in result.stderr
    assert invoke("predict", "--run", full_run, tmp_path / "d.npy").stderr == ""
