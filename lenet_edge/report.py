"""`lenet-edge report`: one page on what a run folder holds, read from its artifacts.

Writes `<run>/report/index.html` (self-contained: images embedded as data: URIs, no script) and
`<run>/report/report.json` together (staged in a sibling folder, then swapped in), and prints a
one-screen text summary (or the JSON with --json).

Sources: metrics.json (training, ONNX accuracies), the two ONNX files (scales, zero points,
calibration saturation, RBF centres), c/manifest.json (per-layer MACs, flash, arena), verify.json
(host C vs ORT), firmware/<board>/manifest.json + firmware.map (linker figures) and run.json
(device vs ORT, per-layer instructions). Every artifact's lineage is checked first
(lenet_edge/lineage.py): a stage made from another model is shown as stale with the command that
refreshes it, and its figures are not mixed into the current model's. The report also runs the
int8 model under ONNX Runtime on the test set (confusion matrix, misclassified digits) and both
ONNX models on a few hundred test digits (per-layer float vs int8 error).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from pathlib import Path

import click
import numpy as np

from lenet_edge import __version__, lineage
from lenet_edge.device.firmware import kept_input_sections
from lenet_edge.errors import LenetEdgeError

REPORT_DIR = "report"
FORMAT = "lenet-edge-report/1"
HIST_IMAGES = 300      # test digits run through both ONNX models for the error histograms
GALLERY = 24           # misclassified digits shown
LAYER_NODES = ("c1", "s2", "c3", "s4", "c5", "f6")


# ---------------------------------------------------------------------------------------------
# Reading the artifacts

def _json(path: Path) -> dict | None:
    """An artifact's JSON object with its fields type-checked (`_checked`), None if it is absent."""
    data = lineage.read_artifact(path)
    return None if data is None else _checked(path, data)


NUM, INT, STR, DICT, LIST, OPT = (int, float), int, str, dict, list, type(None)
# The fields the report reads from each artifact: dotted key -> (types, required). A file that
# breaks this is one line naming the file and the key, never a traceback mid-report.
SCHEMAS = {
    "metrics.json": {"test.accuracy": (NUM, False), "test.images": (INT, False), "test.source": (STR, False),
                     "epochs": (LIST, False), "config": (DICT, False), "export": (DICT, False),
                     "export.float.accuracy": (NUM, False), "export.int8.accuracy": (NUM, False),
                     "export.test.images": (INT, False), "export.test.source": (STR, False),
                     "export.label_agreement": (NUM, False), "export.calibration": (DICT, False)},
    "manifest.json": {"layers": (LIST, True), "flash_bytes": (DICT, True), "ram_bytes": (DICT, True),
                      "onnx": (DICT, True)},
    "verify.json": {"images": (INT, True), "mismatching_images": (INT, True), "test_set": (DICT, True),
                    "test_set.accuracy": (NUM + (OPT,), True), "test_set.images": (INT, True),
                    "test_set.source": (STR, True), "first_divergence": ((DICT, OPT), False)},
    "run.json": {"images": (INT, True), "identical": (INT, True), "device_accuracy": (NUM, True),
                 "test_source": (STR, True), "first_mismatch": ((DICT, OPT), False),
                 "profile_layers": (LIST, False), "instructions_per_inference": (INT, False),
                 "cycles_estimate": (INT, False)},
}


def _checked(path: Path, data: dict | None) -> dict | None:
    """`data` if every field the report reads has the right type, else a one-line error."""
    if data is None:
        return None
    for key, (types, required) in SCHEMAS.get(path.name, {}).items():
        value, ok = data, True
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                ok = False
                break
            value = value[part]
        if not ok:
            if required:
                raise LenetEdgeError(f"{path}: missing key {key!r}")
            continue
        if not isinstance(value, types) or isinstance(value, bool):
            raise LenetEdgeError(f"{path}: {key!r} has the wrong type ({type(value).__name__})")
    for key, fields in ITEMS.get(path.name, {}).items():
        for i, item in enumerate(data.get(key) or []):
            bad = [f for f, types in fields.items() if not isinstance(item, dict) or not isinstance(item.get(f), types)]
            if bad:
                raise LenetEdgeError(f"{path}: {key}[{i}] lacks a valid {bad[0]!r}")
    return data


ITEMS = {  # list fields: the keys each entry must have
    "manifest.json": {"layers": {"node": STR, "tensor": STR, "kind": STR, "out_shape": LIST, "dtype": STR}},
    "run.json": {"profile_layers": {"name": STR, "instructions": INT, "cycles_estimate": INT}},
    "metrics.json": {"epochs": {"epoch": INT, "loss": NUM, "val_loss": NUM, "accuracy": NUM, "val_accuracy": NUM}},
}


def _get(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def _onnx_meta(path: Path) -> dict[str, str]:
    import onnx

    try:
        return {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    except Exception as e:  # noqa: BLE001 - a broken file is one line
        raise LenetEdgeError(f"{path}: cannot read the ONNX model ({type(e).__name__})") from None


def _onnx_initializer(path: Path, name: str) -> np.ndarray | None:
    import onnx
    from onnx import numpy_helper

    for init in onnx.load(str(path)).graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    return None


def _stage(name: str, status: lineage.Status | None, **fields) -> dict:
    state = status.state if status else "missing"
    row = {"stage": name, "state": state, "reason": status.reason if status else "",
           "refresh": status.refresh if status else "", "accuracy": None, "test_set": None, "images": None,
           "agreement": None, "first_divergence": None}
    if state == "current":
        row.update(fields)
    return row


def accuracy_stages(run_dir: Path, status: dict[str, lineage.Status], metrics: dict | None,
                    verify: dict | None, runs: dict[str, dict]) -> list[dict]:
    """One row per stage: torch float, float ONNX, int8 ONNX, host C, each board run in QEMU."""
    test = _get(metrics, "test") or {}
    export = _get(metrics, "export") or {}
    ex_test = export.get("test") or {}
    rows = [
        _stage("torch float (checkpoint.pt)", status["metrics.json:train"], accuracy=test.get("accuracy"),
               test_set=test.get("source"), images=test.get("images")),
    ]
    exp_status = status["metrics.json:export"]
    for which, artifact in (("float", lineage.FLOAT_ONNX), ("int8", lineage.INT8_ONNX)):
        st = status[artifact] if not status[artifact].current else exp_status
        fields = dict(accuracy=_get(export, which, "accuracy"), test_set=ex_test.get("source"),
                      images=ex_test.get("images"))
        if which == "int8" and "label_agreement" in export and ex_test.get("images"):
            n = int(ex_test["images"])
            fields["agreement"] = {"identical": int(round(export["label_agreement"] * n)), "of": n,
                                   "what": "labels equal to the float ONNX model's"}
        rows.append(_stage(f"{which} ONNX under ONNX Runtime ({artifact})", st, **fields))
    if verify is not None:
        t = verify.get("test_set") or {}
        div = verify.get("first_divergence")
        fields = dict(accuracy=t.get("accuracy"), test_set=t.get("source"), images=t.get("images"),
                      agreement={"identical": verify["images"] - verify["mismatching_images"], "of": verify["images"],
                                 "what": "inputs with every score and the label equal to ORT's (both requant paths)"},
                      first_divergence=None if not div else
                      f"layer {div.get('layer')} ({div.get('tensor')}), index {div.get('index')}: "
                      f"C {div.get('got')}, ORT {div.get('want')}")
        rows.append(_stage("generated C on the host (verify.json)", status["verify.json"], **fields))
    else:
        rows.append(_stage("generated C on the host (verify.json)", status["verify.json"]))
    for board, rj in runs.items():
        first = rj.get("first_mismatch")
        fields = dict(accuracy=rj.get("device_accuracy"), test_set=rj.get("test_source"), images=rj.get("images"),
                      agreement={"identical": rj.get("identical"), "of": rj.get("images"),
                                 "what": "images with every score and the label equal to ORT's"},
                      first_divergence=None if not first else
                      f"image {first.get('index')}: device label {first.get('device_label')}, ORT {first.get('ort_label')} "
                      f"(layer not traced on the device: `lenet-edge verify` locates it on the host)")
        rows.append(_stage(f"firmware in QEMU, {board} (run.json)", status[f"firmware/{board}/run.json"], **fields))
    if not runs:
        rows.append(_stage("firmware in QEMU", lineage.Status(
            "firmware", "missing", "no board run yet",
            lineage._cmd(run_dir, "run", "--board", "mps2-an386"))))
    return rows


def map_flash_per_node(map_file: Path, nodes: list[str]) -> dict[str, int]:
    """Bytes of lenet5_weights.o's const arrays per layer that the image keeps, from the linker map
    (each array has its own .rodata.<symbol> section; a symbol belongs to the longest node name it
    starts with). An array that no kernel of this core reads (C3's kstep or in_off) is dropped by
    --gc-sections and not counted."""
    sizes: dict[str, int] = {}
    by_length = sorted(nodes, key=len, reverse=True)
    for name, size, obj in kept_input_sections(map_file):
        if obj != "lenet5_weights.o" or not name.startswith(".rodata.lenet5_"):
            continue
        rest = name[len(".rodata.lenet5_"):]
        node = next((n for n in by_length if rest.startswith(n + "_")), "(other)")
        sizes[node] = sizes.get(node, 0) + size
    return sizes


def layer_table(run_dir: Path, status: dict[str, lineage.Status], manifest: dict | None,
                firmware: dict[str, dict], runs: dict[str, dict]) -> tuple[list[dict], dict]:
    """Per layer of the generated C: shape, parameters, MACs, scale/zero point, flash (manifest vs
    linker map), arena bytes, instructions and cycles on the device, calibration saturation."""
    if manifest is None or not status["c"].current:
        return [], {}
    int8 = run_dir / lineage.INT8_ONNX
    meta = _onnx_meta(int8) if status[lineage.INT8_ONNX].current else {}
    calibration = json.loads(meta.get("calibration", "{}") or "{}")
    saturation = calibration.get("saturation", {})
    arch = meta.get("arch")
    params = {}
    if arch:
        from lenet_edge.model.summary import layer_counts  # the paper's counting rules

        params = {r.name: r.parameters for r in layer_counts(arch)}
    layers = manifest.get("layers", [])
    nodes = [layer["node"] for layer in layers]
    # linker figures from the first current firmware build; M3 boards use the integer requant path
    fw_board = next((b for b in firmware if status[f"firmware/{b}"].current), None)
    fw_map, path_key = {}, "float_requant"
    if fw_board and (run_dir / "firmware" / fw_board / "firmware.map").is_file():
        fw_map = map_flash_per_node(run_dir / "firmware" / fw_board / "firmware.map", nodes)
        if _get(firmware[fw_board], "firmware", "cpu") == "cortex-m3":
            path_key = "int_requant"
    prof_board = next((b for b, r in runs.items() if r.get("profile_layers")
                       and status[f"firmware/{b}/run.json"].current), None)
    prof = {p["name"]: p for p in runs[prof_board]["profile_layers"]} if prof_board else {}
    rows = []
    for layer in layers:
        node, tensor = layer["node"], layer["tensor"]
        scale = meta.get(f"scale:{tensor}")
        zp = meta.get(f"zero_point:{tensor}")
        p = prof.get(node, {})
        # a fused layer (e.g. c1 -> table -> s2 -> table) counts the parameters of every node it holds
        names = ["out" if tensor == "scores" else node, *layer.get("fused", [])]
        counted = [params[n] for n in dict.fromkeys(names) if n in params]
        saturated = [saturation[n] for n in dict.fromkeys(names) if n in saturation]
        rows.append({
            "node": node, "kind": layer["kind"], "out_shape": layer["out_shape"][1:], "dtype": layer["dtype"],
            "fused": layer.get("fused", []),
            "parameters": sum(counted) if counted else None, "macs": layer.get("macs"),
            "scale": float(scale) if scale is not None else None, "zero_point": int(zp) if zp is not None else None,
            "flash_manifest": sum((layer.get("flash_bytes") or {}).get(path_key, {}).values()),
            "flash_map": fw_map.get(node) if fw_map else None,
            "arena_bytes": _get(layer, "arena", "out_bytes"),
            "instructions": p.get("instructions"), "cycles": p.get("cycles_estimate"),
            "saturation": max(saturated) if saturated else None,  # the worst of the fused tensors
        })
    totals = {
        "flash_manifest": _get(manifest, "flash_bytes", path_key),
        "flash_map": sum(fw_map.values()) if fw_map else None,
        "flash_path": path_key, "flash_board": fw_board,
        "arena_manifest": _get(manifest, "ram_bytes", "arena"),
        "bss_map": _get(firmware.get(fw_board, {}), "firmware", "model_bytes", "bss") if fw_board else None,
        "profile_board": prof_board,
        "instructions": _get(runs, prof_board, "instructions_per_inference") if prof_board else None,
        "cycles": _get(runs, prof_board, "cycles_estimate") if prof_board else None,
        "overhead": {name: prof[name] for name in prof if name.startswith("(")},
    }
    return rows, totals


# ---------------------------------------------------------------------------------------------
# What the report computes itself (ORT on the test set)

def _intermediate_pairs(arch: str) -> dict[str, tuple[str, str]]:
    """{label: (float graph tensor, int8 graph tensor)} of the layer outputs compared."""
    if arch == "paper":
        return {f"{n}_act": (f"{n}_act", f"{n}_act") for n in LAYER_NODES}
    relu = {"c1": "c1_relu", "s2": "s2", "c3": "c3_relu", "s4": "s4", "c5": "c5_relu", "f6": "f6_relu"}
    return {n: (f, n) for n, f in relu.items()}


def layer_errors(run_dir: Path, images: np.ndarray, arch: str) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """(int8 dequantized - float) per compared layer output on `images`, and each tensor's scale."""
    from lenet_edge.check import ort

    pairs = _intermediate_pairs(arch)
    meta = _onnx_meta(run_dir / lineage.INT8_ONNX)
    f_out = ort.run_with_intermediates(run_dir / lineage.FLOAT_ONNX, images, [f for f, _ in pairs.values()])
    q_out = ort.run_with_intermediates(run_dir / lineage.INT8_ONNX, images, [q for _, q in pairs.values()])
    errors, steps = {}, {}
    for label, (f, q) in pairs.items():
        scale, zp = float(meta[f"scale:{q}"]), int(meta[f"zero_point:{q}"])
        deq = scale * (q_out[q].astype(np.float64) - zp)
        errors[label] = deq.reshape(len(images), -1) - f_out[f].astype(np.float64).reshape(len(images), -1)
        steps[label] = scale
    return errors, steps


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def build(run_dir: Path, test_dir: Path | None = None) -> tuple[dict, dict[str, bytes]]:
    """(report dict, {figure name: PNG bytes}); writes nothing."""
    from lenet_edge import plots

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise LenetEdgeError(f"{run_dir}: no such run folder")
    status = lineage.check_run(run_dir)
    metrics = _json(run_dir / lineage.METRICS)
    manifest = _json(run_dir / "c" / "manifest.json")
    verify = _json(run_dir / "verify.json")
    firmware, runs = {}, {}
    fw_root = run_dir / "firmware"
    for board_dir in sorted(p for p in fw_root.iterdir() if p.is_dir()) if fw_root.is_dir() else []:
        for name, into in (("manifest.json", firmware), ("run.json", runs)):
            data = _json(board_dir / name)
            if data is not None:
                into[board_dir.name] = data
    figures: dict[str, bytes] = {}
    notes: dict[str, str] = {}
    train_ok = status["metrics.json:train"].current
    if metrics and train_ok and metrics.get("epochs"):
        cfg = metrics.get("config") or {}
        figures["training_curves"] = plots.png_bytes(plots.training_curves_figure(
            metrics["epochs"], f"LeNet-5 ({cfg.get('arch')}, {cfg.get('optimizer')})"))
    else:
        notes["training_curves"] = f"no current training history: {status['metrics.json:train'].refresh}"

    int8_ok = status[lineage.INT8_ONNX].current
    float_ok = status[lineage.FLOAT_ONNX].current
    arch = _onnx_meta(run_dir / lineage.INT8_ONNX).get("arch") if int8_ok else _get(metrics, "config", "arch")
    gallery, test_info = [], None
    if int8_ok:
        from lenet_edge.check import ort
        from lenet_edge.check.evaluate import test_set_for_run

        test = test_set_for_run(run_dir, test_dir)
        test_info = {"source": test.source, "images": int(len(test.labels)), "sha256": test.sha256}
        out = ort.predict(run_dir / lineage.INT8_ONNX, test.images)
        predicted, scores = out["label"].astype(np.int64), out["scores"]
        labels = np.asarray(test.labels, dtype=np.int64)
        test_info["int8_accuracy"] = float((predicted == labels).mean())
        figures["confusion_matrix"] = plots.png_bytes(plots.confusion_figure(
            labels, predicted, f"int8 ONNX under ORT, {test.source}"))
        for i in np.flatnonzero(predicted != labels)[:GALLERY]:
            gallery.append({"index": int(i), "label": int(labels[i]), "predicted": int(predicted[i]),
                            "scores": [int(s) if float(s).is_integer() else float(s) for s in scores[i]],
                            "png": plots.digit_png(test.images[i])})
        if float_ok and arch:
            errors, steps = layer_errors(run_dir, test.images[:HIST_IMAGES], arch)
            figures["layer_error_histograms"] = plots.png_bytes(plots.error_histograms_figure(errors, steps))
        else:
            notes["layer_error_histograms"] = f"float ONNX not current: {status[lineage.FLOAT_ONNX].refresh}"
        centres = _onnx_initializer(run_dir / lineage.INT8_ONNX, "rbf_centres") if arch == "paper" else None
        if centres is not None:
            figures["rbf_centres"] = plots.png_bytes(plots.glyphs_figure(np.sign(centres.reshape(10, 84))))
        else:
            notes["rbf_centres"] = "the modern architecture has no RBF layer (linear classifier)"
    else:
        refresh = status[lineage.INT8_ONNX].refresh
        for name in ("confusion_matrix", "layer_error_histograms", "rbf_centres", "misclassified"):
            notes[name] = f"int8 ONNX not current: {refresh}"

    layers, totals = layer_table(run_dir, status, manifest, firmware, runs)
    if totals.get("profile_board"):
        prof = [p for p in runs[totals["profile_board"]]["profile_layers"]]
        figures["layer_cost"] = plots.png_bytes(plots.layer_cost_figure(
            [p["name"] for p in prof], [p["instructions"] for p in prof], [p["cycles_estimate"] for p in prof],
            totals["profile_board"]))
    else:
        board = next(iter(runs), "mps2-an386")
        notes["layer_cost"] = ("no current profiled run: "
                               f"{lineage._cmd(run_dir, 'run', '--board', board, '--profile', '1')}")

    report = {
        "format": FORMAT,
        "run": str(run_dir),
        "tool_version": __version__,
        "arch": arch,
        "stages": accuracy_stages(run_dir, status, metrics, verify, runs),
        "lineage": lineage.as_json(status),
        "layers": layers,
        "totals": totals,
        "test_set": test_info,
        "misclassified": [{k: v for k, v in g.items() if k != "png"} for g in gallery],
        "figures": sorted(figures),
        "missing_figures": notes,
        "provenance": provenance(run_dir, status, metrics, manifest, verify, firmware, runs),
    }
    for g in gallery:
        figures[f"digit_{g['index']}"] = g["png"]
    return report, figures


def provenance(run_dir: Path, status, metrics, manifest, verify, firmware, runs) -> dict:
    """sha256s, versions, boards, and the command line that (re)makes each artifact (rebuilt from the
    settings each artifact records)."""
    cfg = _get(metrics, "config") or {}
    train = ["lenet-edge", "train", "--run", str(run_dir)]
    if cfg:
        train += ["--arch", str(cfg.get("arch")), "--optimizer", str(cfg.get("optimizer")),
                  "--epochs", str(cfg.get("epochs")), "--seed", str(cfg.get("seed"))]
        train += ["--data-dir", str(cfg["data_dir"])] if cfg.get("data_dir") else ["--dataset", str(cfg.get("dataset"))]
        train += ["--augment" if cfg.get("augment", True) else "--no-augment", "--map-j", str(cfg.get("map_j"))]
    calib = _get(metrics, "export", "calibration") or {}
    export = ["lenet-edge", "export", "--target", "onnx", "--run", str(run_dir)]
    if calib.get("images"):
        export += ["--calib-images", str(calib["images"])]
    if calib.get("qat"):
        export.append("--qat")
    import shlex

    commands = {"train": shlex.join(train), "export --target onnx": shlex.join(export),
                "export --target c": shlex.join(["lenet-edge", "export", "--target", "c", "--run", str(run_dir)]),
                "verify": shlex.join(["lenet-edge", "verify", "--run", str(run_dir)])}
    boards = {}
    for board in sorted(set(firmware) | set(runs)):
        rj = runs.get(board, {})
        cmd = ["lenet-edge", "run", "--board", board, "--run", str(run_dir), "--images", str(rj.get("images", 1000))]
        if rj.get("profile_layers"):
            cmd += ["--profile", "1"]
        commands[f"export --target firmware --board {board}"] = shlex.join(
            ["lenet-edge", "export", "--target", "firmware", "--board", board, "--run", str(run_dir)])
        commands[f"run --board {board}"] = shlex.join(cmd)
        fwm = firmware.get(board, {})
        boards[board] = {"cpu": _get(fwm, "firmware", "cpu"), "machine": rj.get("machine"),
                         "flash_used_bytes": _get(fwm, "firmware", "flash_used_bytes"),
                         "ram_static_bytes": _get(fwm, "firmware", "ram_static_bytes"),
                         "stack_peak_bytes": rj.get("stack_peak_bytes"),
                         "firmware_tool_version": _get(fwm, "firmware", "lenet_edge_version")}
    return {
        "report_tool_version": __version__,
        "checkpoint_sha256": status[lineage.INT8_ONNX].parents.get("checkpoint_sha256"),
        "onnx_int8_sha256": status[lineage.INT8_ONNX].parents.get("sha256"),
        "onnx_float_sha256": status[lineage.FLOAT_ONNX].parents.get("sha256"),
        "c_onnx_sha256": _get(manifest, "onnx", "sha256"),
        "opset": _get(manifest, "onnx", "opset"),
        "tool_versions": {"train": _get(metrics, "tool_version"), "export": _get(metrics, "export", "tool_version"),
                          "c": _get(manifest, "tool", "version"), "verify": _get(verify, "lenet_edge_version")},
        "verify_environment": None if verify is None else {
            "compiler": verify.get("compiler"), "cflags": verify.get("cflags"),
            "onnxruntime": verify.get("onnxruntime"), "cpu": _get(verify, "cpu", "model")},
        "boards": boards,
        "commands": commands,
    }


# ---------------------------------------------------------------------------------------------
# Output

def render_html(report: dict, figures: dict[str, bytes]) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent)),
                             undefined=jinja2.StrictUndefined, autoescape=True, trim_blocks=True, lstrip_blocks=True)
    images = {name: _data_uri(png) for name, png in figures.items()}
    return env.get_template("report.html.j2").render(r=report, img=images)


def write_report(run_dir: Path, report: dict, html: str) -> Path:
    """<run>/report/{index.html, report.json} as one set: staged in a sibling folder, then swapped
    in; on any failure the previous report folder stays as it was."""
    dest = Path(run_dir) / REPORT_DIR
    if dest.exists() and not dest.is_dir():
        raise LenetEdgeError(f"{dest}: exists and is not a folder")
    try:
        staging = Path(tempfile.mkdtemp(prefix=".report.", suffix=".tmp", dir=run_dir))
    except OSError as e:
        raise LenetEdgeError(f"{run_dir}: cannot write the report ({e.strerror or e})") from None
    old = None
    try:
        (staging / "index.html").write_text(html, encoding="utf-8")
        (staging / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
        os.chmod(staging, 0o777 & ~_umask())
        if dest.exists():
            old = dest.with_name(f".report.old.{os.getpid()}")
            os.replace(dest, old)
        os.replace(staging, dest)
    except OSError as e:
        if old is not None and not dest.exists():
            os.replace(old, dest)
            old = None
        raise LenetEdgeError(f"{dest}: cannot write the report ({e.strerror or e})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return dest


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def _n(x) -> str:
    return "?" if x is None else f"{x:,}"


def text_summary(report: dict, dest: Path | None) -> str:
    lines = [f"== lenet-edge report of {report['run']} (--arch {report['arch'] or '?'})"]
    for s in report["stages"]:
        if s["state"] == "current":
            agree = s["agreement"]
            extra = f"; {_n(agree['identical'])}/{_n(agree['of'])} {agree['what']}" if agree else ""
            div = f"; first divergence: {s['first_divergence']}" if s["first_divergence"] else ""
            lines.append(f"  {s['stage']}: {_pct(s['accuracy'])} on {_n(s['images'])} images of {s['test_set']}"
                         f"{extra}{div}")
        else:
            lines.append(f"  {s['stage']}: {s['state'].upper()} ({s['reason']}); run: {s['refresh']}")
    t = report["totals"]
    if t:
        line = f"  generated C: constants {_n(t['flash_manifest'])} B flash ({t['flash_path'].replace('_', ' ')})"
        if t["flash_map"] is not None:
            line += f", linker map {_n(t['flash_map'])} B ({t['flash_board']})"
        lines.append(line + f"; RAM arena {_n(t['arena_manifest'])} B")
        if t["instructions"]:
            lines.append(f"  {t['profile_board']}: {_n(t['instructions'])} instructions per inference "
                         f"(~{_n(t['cycles'])} Cortex-M4 cycles, estimate)")
    stale = [v for v in report["lineage"].values() if v["state"] == "stale"]
    if stale:
        lines.append(f"  {len(stale)} stale artifact(s): " + ", ".join(v["artifact"] for v in stale))
    if dest is not None:
        lines.append(f"wrote {dest / 'index.html'} and {dest / 'report.json'}")
    return "\n".join(lines)


def report_cmd(run_dir: Path, test_dir: Path | None = None, open_page: bool = False, as_json: bool = False) -> dict:
    """CLI entry (see cli.py)."""
    dest = Path(run_dir) / REPORT_DIR
    if dest.exists() and not dest.is_dir():  # before the work, not after it
        raise LenetEdgeError(f"{dest}: exists and is not a folder")
    report, figures = build(Path(run_dir), test_dir)
    html = render_html(report, figures)
    dest = write_report(Path(run_dir), report, html)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        click.echo(text_summary(report, dest))
    if open_page:
        click.launch(str((dest / "index.html").resolve()))
    return report
