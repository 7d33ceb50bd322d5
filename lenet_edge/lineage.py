"""Artifact lineage: which model every artifact of a run folder was made from.

The chain, and the parent sha256 each artifact records when it is written:

    checkpoint.pt
      -> metrics.json "lineage.checkpoint_sha256"          (train)
      -> lenet5_{float,int8}.onnx metadata "checkpoint_sha256" (export --target onnx)
           -> metrics.json "export.int8.sha256"/"export.float.sha256"
           -> c/manifest.json "onnx.sha256"                 (export --target c)
           -> verify.json "onnx_sha256"                     (verify)
           -> firmware/<board>/manifest.json "onnx.sha256"  (export --target firmware)
           -> firmware/<board>/run.json "onnx_sha256"        (run)

An artifact is *current* when every parent it names is the file now in the run folder, and that
parent is current itself; otherwise it is *stale* and `check_run` says why and which command
refreshes it. `export_block_dropped` is the one writer here (metrics.json around an ONNX export).
Imports onnx (to read metadata), never torch or onnxruntime.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from lenet_edge import fsutil
from lenet_edge.errors import LenetEdgeError

CHECKPOINT = "checkpoint.pt"
FLOAT_ONNX = "lenet5_float.onnx"
INT8_ONNX = "lenet5_int8.onnx"
METRICS = "metrics.json"
ONNX_KEY = "checkpoint_sha256"  # ONNX metadata_props key naming the checkpoint


def sha256_file(path: Path) -> str | None:
    """Hex sha256 of a file, or None when it does not exist."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise LenetEdgeError(f"{path}: cannot read ({e.strerror or e})") from None


def onnx_checkpoint_sha256(path: Path) -> str | None:
    """The checkpoint sha256 an exported ONNX file names in its metadata ("" or None: not recorded)."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - any parse failure: the lineage is unknown
        return None
    return {p.key: p.value for p in model.metadata_props}.get(ONNX_KEY) or None


def forget_export_block(run_dir: Path) -> None:
    """Drop metrics.json's "export" block before new ONNX files are written: an export interrupted
    after the rename must not leave new ONNX beside accuracies measured on the old ones."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return
    try:
        metrics = json.loads(path.read_text())
    except ValueError:
        return  # record_export reports the broken file with its own one-line error
    if isinstance(metrics, dict) and "export" in metrics:
        del metrics["export"]
        try:
            fsutil.write_text(path, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        except OSError as e:
            raise LenetEdgeError(f"{path}: cannot write ({e.strerror or e})") from None


@contextlib.contextmanager
def export_block_dropped(run_dir: Path) -> Iterator[None]:
    """Around the write of a new ONNX pair: the old "export" block is dropped first; if the write
    fails and the ONNX files on disk are still the ones the old block describes, it is put back,
    so a failed export changes nothing."""
    path = Path(run_dir) / METRICS
    original = path.read_bytes() if path.is_file() else None
    forget_export_block(run_dir)
    try:
        yield
    except BaseException:
        if original is not None and _export_block_matches(original, Path(run_dir)):
            fsutil.write_bytes(path, original)
        raise


def _export_block_matches(metrics_bytes: bytes, run_dir: Path) -> bool:
    try:
        export = json.loads(metrics_bytes).get("export")
    except (ValueError, AttributeError):
        return False
    return (isinstance(export, dict)
            and _get(export, "int8", "sha256") == sha256_file(run_dir / INT8_ONNX)
            and _get(export, "float", "sha256") == sha256_file(run_dir / FLOAT_ONNX))


# ---------------------------------------------------------------------------------------------
# Checking a run folder

@dataclass
class Status:
    """One artifact's standing: `state` is "current", "stale" or "missing"."""

    artifact: str            # path relative to the run folder
    state: str
    reason: str = ""
    refresh: str = ""        # the command that (re)makes it
    parents: dict = field(default_factory=dict)

    @property
    def current(self) -> bool:
        return self.state == "current"


def _cmd(run_dir: Path, *args: str) -> str:
    return shlex.join(["lenet-edge", *args, "--run", str(run_dir)])


def read_artifact(path: Path) -> dict | None:
    """The JSON object in `path`, None if there is no such file; one-line error if it is malformed."""
    return fsutil.read_json(path) if path.is_file() else None


def _get(d: dict | None, *keys):
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _short(sha) -> str:
    return str(sha)[:12] if sha else "none"


def check_run(run_dir: Path) -> dict[str, Status]:
    """The lineage of every artifact in `run_dir`, keyed by artifact name (metrics.json:train,
    lenet5_int8.onnx, lenet5_float.onnx, metrics.json:export, c, verify.json, firmware/<board>,
    firmware/<board>/run.json)."""
    run_dir = Path(run_dir)
    out: dict[str, Status] = {}
    ckpt = sha256_file(run_dir / CHECKPOINT)
    train_cmd = _cmd(run_dir, "train")

    def judge(name: str, recorded: str | None, parent: str | None, parent_name: str, parent_ok: bool,
              refresh: str) -> Status:
        if parent is None:
            return Status(name, "stale", f"{parent_name} is missing, so its origin cannot be checked", refresh)
        if not recorded:
            return Status(name, "stale", f"records no {parent_name} sha256 (made by an older lenet-edge)",
                          refresh)
        if recorded != parent:
            return Status(name, "stale", f"made from another {parent_name} (sha256 {_short(recorded)}, "
                                         f"current {_short(parent)})", refresh)
        if not parent_ok:
            return Status(name, "stale", f"its {parent_name} is itself stale", refresh)
        return Status(name, "current", refresh=refresh)

    metrics = read_artifact(run_dir / METRICS)
    if metrics is None:
        out["metrics.json:train"] = Status("metrics.json", "missing", "not trained yet", train_cmd)
    else:
        epochs = _get(metrics, "config", "epochs")  # --resume up to the same epoch: evaluates only
        again = _cmd(run_dir, "train", "--resume", "--epochs", str(epochs)) if isinstance(epochs, int) else train_cmd
        out["metrics.json:train"] = judge("metrics.json", _get(metrics, "lineage", "checkpoint_sha256"), ckpt,
                                          CHECKPOINT, True, again)

    export_cmd = _cmd(run_dir, "export", "--target", "onnx")
    onnx_sha = {}
    for name in (INT8_ONNX, FLOAT_ONNX):
        path = run_dir / name
        onnx_sha[name] = sha256_file(path)
        if onnx_sha[name] is None:
            out[name] = Status(name, "missing", "not exported yet", export_cmd)
        elif ckpt is None:  # ONNX on its own (copied or downloaded): the root of its own chain
            out[name] = Status(name, "current", "no checkpoint.pt beside it: taken as the root", export_cmd)
        else:
            out[name] = judge(name, onnx_checkpoint_sha256(path), ckpt, CHECKPOINT, True, export_cmd)
        out[name].parents = {"checkpoint_sha256": ckpt, "sha256": onnx_sha[name]}
    int8_ok = out[INT8_ONNX].current
    int8 = onnx_sha[INT8_ONNX]

    def after_onnx(cmd: str) -> str:
        """The refresh command, preceded by the export when the ONNX itself is stale."""
        return cmd if int8_ok or int8 is None else f"{export_cmd} && {cmd}"

    export = _get(metrics, "export")
    if export is None:
        out["metrics.json:export"] = Status("metrics.json (export block)", "missing",
                                            "ONNX accuracies not recorded", export_cmd)
    else:
        st = judge("metrics.json (export block)", _get(export, "int8", "sha256"), int8, INT8_ONNX, int8_ok,
                   export_cmd)
        if st.current and _get(export, "float", "sha256") != onnx_sha[FLOAT_ONNX]:
            st = Status(st.artifact, "stale", f"made from another {FLOAT_ONNX}", export_cmd)
        out["metrics.json:export"] = st

    c_cmd = after_onnx(_cmd(run_dir, "export", "--target", "c"))
    manifest = read_artifact(run_dir / "c" / "manifest.json")
    out["c"] = (Status("c/", "missing", "no generated C", c_cmd) if manifest is None else
                judge("c/", _get(manifest, "onnx", "sha256"), int8, INT8_ONNX, int8_ok, c_cmd))

    verify_cmd = after_onnx(_cmd(run_dir, "verify"))
    verify = read_artifact(run_dir / "verify.json")
    out["verify.json"] = (Status("verify.json", "missing", "not verified", verify_cmd) if verify is None else
                          judge("verify.json", verify.get("onnx_sha256"), int8, INT8_ONNX, int8_ok, verify_cmd))

    fw_root = run_dir / "firmware"
    for board_dir in sorted(p for p in fw_root.iterdir() if p.is_dir()) if fw_root.is_dir() else []:
        board = board_dir.name
        fw_cmd = after_onnx(_cmd(run_dir, "export", "--target", "firmware", "--board", board))
        fwm = read_artifact(board_dir / "manifest.json")
        if fwm is not None:
            out[f"firmware/{board}"] = judge(f"firmware/{board}/", _get(fwm, "onnx", "sha256"), int8,
                                             INT8_ONNX, int8_ok, fw_cmd)
        run_cmd = after_onnx(_cmd(run_dir, "run", "--board", board))
        rj = read_artifact(board_dir / "run.json")
        if rj is not None:
            out[f"firmware/{board}/run.json"] = judge(f"firmware/{board}/run.json", rj.get("onnx_sha256"), int8,
                                                      INT8_ONNX, int8_ok, run_cmd)
    return out


def as_json(statuses: dict[str, Status]) -> dict:
    return {k: asdict(v) for k, v in statuses.items()}
