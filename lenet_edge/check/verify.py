"""`lenet-edge verify`: the generated C, built on the host, must equal ONNX Runtime bit for bit.

Steps (docs/verification.md):
  1. generate <run>/c from lenet5_int8.onnx if it is missing or stale, build it with the host compiler
     (strict C99 flags, -O2 -ffp-contract=off) through lenet_edge.check.hostbuild;
  2. run it on the test set plus the synthetic families of lenet_edge.check.inputs (>= 10,000 more);
  3. compare every int32 score and every label with ORT (lenet_edge.check.ort, the pinned session);
  4. on a mismatch, rebuild with -DLENET5_TRACE, rerun the first mismatching image, ask ORT for the
     same tensors and report the first diverging layer as (layer, flat index, got, want);
  5. report the C's accuracy on the test set, and exit non-zero on any mismatch.
"""
from __future__ import annotations

import hashlib
import json
import platform
import tempfile
from pathlib import Path

import click
import numpy as np

from lenet_edge import __version__, fsutil
from lenet_edge.check import compare
from lenet_edge.check.inputs import verification_families
from lenet_edge.errors import LenetEdgeError, require_onnx
from lenet_edge.progress import progress_bar

MODEL_FILE = "lenet5_int8.onnx"
REPORT_FILE = "verify.json"
TEST_FAMILY = "test-set"
CHUNK = 2000  # images per driver run / ORT batch group, for the progress bars
MAX_LISTED = 20  # mismatching images listed in the report (all are counted)
# Both requantization paths of the generated C: float (FPU boards, the host default) and the
# integer-only path the Cortex-M3 build uses (int8-arithmetic.md section 3b). Each must equal ORT.
REQUANT_PATHS = {"float": (), "int": ("-DLENET5_INT_REQUANT",)}
# x86 / ARM features that change how ORT's int8 kernels compute (int8-arithmetic.md §1)
CPU_FLAGS = ("sse4_1", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni",
             "amx_int8", "asimd", "asimddp", "i8mm")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_c(exe: Path, images: np.ndarray, desc: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run the host driver on uint8 [N, 28, 28] images in chunks -> scores int32 [N,10], labels [N]."""
    from lenet_edge.check import hostbuild

    scores, labels = [], []
    for i in progress_bar(range(0, len(images), CHUNK), desc=desc or "", unit="chunk", enabled=desc is not None):
        out = hostbuild.run_images(exe, images[i:i + CHUNK])
        scores.append(out["scores"])
        labels.append(out["label"])
    return np.concatenate(scores), np.concatenate(labels)


def run_ort(model: Path, images: np.ndarray, desc: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """ORT's scores int32 [N,10] and labels [N] under the pinned reference session."""
    from lenet_edge.check import ort

    sess = ort.reference_session(model)
    feed = sess.get_inputs()[0].name
    x = np.ascontiguousarray(images, dtype=np.uint8).reshape(-1, 1, 28, 28)
    scores, labels = [], []
    for i in progress_bar(range(0, len(x), CHUNK), desc=desc or "", unit="chunk", enabled=desc is not None):
        out = ort.run_batches(sess, feed, x[i:i + CHUNK])
        scores.append(out["scores"])
        labels.append(out["label"])
    return np.concatenate(scores), np.concatenate(labels)


def locate_divergence(model: Path, c_dir: Path, image: np.ndarray, work: Path,
                      flags: tuple[str, ...] = ()) -> compare.Divergence | None:
    """Rebuild the C with -DLENET5_TRACE, run one image, and compare every traced layer with the
    ORT tensor of the same name."""
    from lenet_edge.check import hostbuild, ort

    exe = hostbuild.build(c_dir, flags=["-DLENET5_TRACE", *flags], work_dir=work / "trace")
    got = hostbuild.run_images(exe, image.reshape(1, 28, 28), trace=True)
    # layer index of each output tensor in the generated code (manifest.json "layers")
    layers = json.loads((c_dir / "manifest.json").read_text()).get("layers", [])
    index = {layer["tensor"]: layer["index"] for layer in layers}
    outputs = {**{name: codes[0] for name, codes in got["trace"].items()},
               "scores": got["scores"][0], "label": got["label"]}
    trace = [compare.TraceRecord(index.get(name, len(index) + k), name, codes)
             for k, (name, codes) in enumerate(outputs.items())]
    want = ort.run_with_intermediates(model, image.reshape(1, 1, 28, 28), list(got["trace"]))
    return compare.first_divergence(trace, want)


def compiler_version(cc: str) -> str:
    """First line of `cc --version`, e.g. "gcc (Debian 12.2.0-14) 12.2.0"."""
    from lenet_edge import proc

    out = proc.run([cc, "--version"], 30, capture_output=True, text=True).stdout.strip()
    return out.splitlines()[0] if out else Path(cc).name


def cpu_info() -> dict:
    """Machine, CPU model and the int8-relevant feature flags, for the report (Linux /proc/cpuinfo)."""
    info = {"machine": platform.machine(), "model": platform.processor() or "unknown", "flags": []}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and info["model"] in ("unknown", "", platform.machine()):
            info["model"] = value.strip()
        elif key in ("flags", "Features"):
            present = set(value.split())
            info["flags"] = [f for f in CPU_FLAGS if f in present]
            break
    return info


def verify(run_dir: Path, test_dir: Path | None = None, limit: int | None = None,
           progress: bool = True) -> dict:
    """Run the whole check and return the report (a JSON-able dict). `limit` caps the test images and
    each synthetic family (tests only; the CLI runs everything). With `progress`, each step is
    announced on stderr before it starts and chunks are counted with a bar, so a slow or stuck
    step is visible (every program it runs also has a time limit, lenet_edge.proc)."""
    from lenet_edge.check import hostbuild, ort

    say = (lambda msg: click.echo(f"verify: {msg}", err=True)) if progress else (lambda msg: None)
    run_dir = Path(run_dir)
    model = require_onnx(run_dir / MODEL_FILE)
    ort.reference_session(model)  # the contract is checked before anything is generated or built
    hostbuild.find_compiler()  # and a missing compiler is found before any work starts
    c_dir = run_dir / "c"
    from lenet_edge.compiler import ensure_c

    regenerated = ensure_c(model, c_dir)
    if regenerated:
        say(f"generated {c_dir} from {model.name}")
    from lenet_edge.check.evaluate import test_set_for_run

    test = test_set_for_run(run_dir, test_dir)
    test_images = test.images if limit is None else test.images[:limit]
    test_labels = test.labels[:len(test_images)]
    families = [(TEST_FAMILY, f"test set: {test.source}", test_images)]
    families += [(f.name, f.description, f.images) for f in verification_families(test.images, limit)]
    images = np.concatenate([imgs for _, _, imgs in families])

    step = (lambda s: s) if progress else (lambda s: None)
    sizes = [(name, len(imgs)) for name, _, imgs in families]
    with tempfile.TemporaryDirectory(prefix="lenet-edge-verify-") as tmp:
        exes = {}
        for path, flags in REQUANT_PATHS.items():  # build first: a build error fails fast
            say(f"building the host C ({path} requant path)")
            exes[path] = hostbuild.build(c_dir, flags=list(flags), work_dir=Path(tmp) / path)
        say(f"ONNX Runtime on {len(images):,} images")
        want_scores, want_labels = run_ort(model, images, step(f"ORT on {len(images)} images"))
        paths = {}
        for path, exe in exes.items():
            say(f"host C ({path} requant path) on {len(images):,} images, {CHUNK:,} per driver run")
            got_scores, got_labels = run_c(exe, images, step(f"C ({path} requant) on {len(images)} images"))
            paths[path] = (compare.compare_outputs(got_scores, got_labels, want_scores, want_labels, sizes),
                           got_labels)
        # The report details the first path that fails (or the float path when both are exact).
        shown = next((p for p, (r, _) in paths.items() if not r.ok), "float")
        result, got_labels = paths[shown]
        divergence = None
        if result.mismatches:
            say("locating the first diverging layer (traced rebuild)")
            divergence = locate_divergence(model, c_dir, images[result.mismatches[0].image], Path(tmp),
                                           REQUANT_PATHS[shown])

    n_test = len(test_images)
    correct = int((got_labels[:n_test] == test_labels).sum())
    return {
        "ok": all(r.ok for r, _ in paths.values()),
        "requant_paths": {p: {"flags": " ".join(REQUANT_PATHS[p]), "ok": r.ok, "mismatching_images": len(r.mismatches)}
                          for p, (r, _) in paths.items()},
        "detailed_path": shown,
        "model": MODEL_FILE,
        "onnx_sha256": sha256_file(model),
        "lenet_edge_version": __version__,
        "c_regenerated": regenerated,
        "images": result.images,
        "mismatching_images": len(result.mismatches),
        "families": {name: {"description": desc, **vars(result.families[name])} for name, desc, _ in families},
        "mismatches": [vars(m) for m in result.mismatches[:MAX_LISTED]],
        "first_divergence": None if divergence is None else {
            "image": result.mismatches[0].image, "family": result.mismatches[0].family, **vars(divergence)},
        "test_set": {"source": test.source, "images": n_test, "correct": correct,
                     "accuracy": correct / n_test if n_test else None},
        "compiler": compiler_version(hostbuild.find_compiler()),
        "cflags": " ".join(hostbuild.STRICT_FLAGS),
        "onnxruntime": _ort_version(),
        "cpu": cpu_info(),
    }


def _ort_version() -> str:
    from lenet_edge.check import ort

    return ort.version()


def format_report(r: dict) -> str:
    lines = [f"verify {r['model']} (sha256 {r['onnx_sha256'][:12]}...) with {r['compiler']} "
             f"vs ONNX Runtime {r['onnxruntime']} on {r['cpu']['model']}",
             f"{'family':<18}{'images':>8}{'differ':>8}{'labels':>8}  description"]
    for name, f in r["families"].items():
        lines.append(f"{name:<18}{f['images']:>8}{f['mismatches']:>8}{f['label_mismatches']:>8}  {f['description']}")
    t = r["test_set"]
    if t["accuracy"] is not None:
        lines.append(f"accuracy of the C on {t['source']}: {t['correct']}/{t['images']} = {100 * t['accuracy']:.2f} %")
    for p, info in r["requant_paths"].items():
        lines.append(f"{p} requant path{' (' + info['flags'] + ')' if info['flags'] else ''}: "
                     f"{r['images'] - info['mismatching_images']}/{r['images']} identical")
    if r["ok"]:
        lines.append(f"OK: all {r['images']} images give identical scores and labels on both requant paths")
    else:
        for m in r["mismatches"][:5]:
            lines.append(f"mismatch: image {m['image']} ({m['family']} #{m['family_index']}): label {m['got_label']} "
                         f"vs {m['want_label']}, scores {m['got_scores']} vs {m['want_scores']}")
        d = r["first_divergence"]
        if d is not None:
            lines.append(f"[{r['detailed_path']} requant path] first divergence (image {d['image']}, {d['family']}): layer {d['layer']} ({d['tensor']}) "
                         f"index {d['index']}: C got {d['got']}, ORT wants {d['want']} "
                         f"({d['differing']} of {d['size']} values differ)")
    return "\n".join(lines)


def verify_cmd(run_dir: Path, test_dir: Path | None, as_json: bool, limit: int | None = None) -> dict:
    require_onnx(Path(run_dir) / MODEL_FILE)
    out = fsutil.check_writable_file(Path(run_dir) / REPORT_FILE)  # before the long work, not after it
    report = verify(run_dir, test_dir, limit=limit)
    text = json.dumps(report, indent=2, sort_keys=True) + "\n"
    fsutil.write_text(out, text)
    click.echo(text if as_json else format_report(report), nl=not as_json)
    if not report["ok"]:
        d = report["first_divergence"]
        where = f"; first divergence at layer {d['layer']} ({d['tensor']}) index {d['index']}: got {d['got']}, " \
                f"want {d['want']}" if d else ""
        raise LenetEdgeError(f"{report['mismatching_images']} of {report['images']} images differ between the C "
                             f"and ONNX Runtime{where}")
    return report
