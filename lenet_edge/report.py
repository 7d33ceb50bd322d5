"""`lenet-edge report`: the closing summary of `make demo`, read from the run folder's artifacts.

Sources: metrics.json (train + export accuracies), verify.json (host C vs ORT), c/manifest.json
(flash and RAM computed at generation time), firmware/<board>/run.json (device vs ORT, instructions).
A missing piece is reported as missing, with the command that makes it.
"""
from __future__ import annotations

from pathlib import Path

import click

from lenet_edge import fsutil
from lenet_edge.errors import LenetEdgeError


_reading: list[tuple[Path, str]] = []  # the file being summarised, for the malformed-field error


def _load(path: Path, how: str) -> dict | None:
    if not path.exists():
        click.echo(f"  (no {path.name}: run `{how}`)")
        return None
    _reading.append((path, how))
    return fsutil.read_json(path, hint=f"rerun `{how}`")


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def report_cmd(run_dir: Path, board: str) -> None:
    """A missing key or a wrong-typed value in any artifact is a one-line error naming the file."""
    _reading.clear()
    try:
        _report(run_dir, board)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        path, how = _reading[-1] if _reading else (Path(run_dir), "lenet-edge train")
        raise LenetEdgeError(f"{path}: missing or malformed field ({type(e).__name__}: {e}); rerun `{how}`") from None


def _report(run_dir: Path, board: str) -> None:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise LenetEdgeError(f"{run_dir}: no such run folder")
    click.echo(f"== lenet-edge summary of {run_dir}")
    metrics = _load(run_dir / "metrics.json", "lenet-edge train")
    if metrics:
        cfg, test = metrics["config"], metrics["test"]
        click.echo(f"  model: --arch {cfg['arch']}, {cfg['optimizer']}, {cfg['epochs']} epochs on {metrics['data']['source']}")
        click.echo(f"  torch float accuracy: {_pct(test['accuracy'])} on {test['source']}")
        exp = metrics.get("export")
        if exp:
            click.echo(f"  ONNX Runtime accuracy: float {_pct(exp['float']['accuracy'])}, "
                       f"int8 {_pct(exp['int8']['accuracy'])} ({exp['test']['source']})")
    verify = _load(run_dir / "verify.json", "lenet-edge verify")
    if verify:
        t = verify["test_set"]
        click.echo(f"  host C vs ONNX Runtime: {verify['images'] - verify['mismatching_images']:,}/"
                   f"{verify['images']:,} inputs identical (scores and label); C accuracy "
                   f"{_pct(t['accuracy'])} on {t['source']}")
    manifest = _load(run_dir / "c" / "manifest.json", "lenet-edge export --target c")
    if manifest:
        ram, flash = manifest["ram_bytes"], manifest["flash_bytes"]
        click.echo(f"  generated C (manifest): constants {flash['float_requant']:,} B flash (FPU boards), "
                   f"RAM arena {ram['arena']:,} B + stack budget {ram['stack_estimate']:,} B")
    device = _load(run_dir / "firmware" / board / "run.json", f"lenet-edge run --board {board}")
    if device:
        click.echo(f"  {board} in QEMU: {device['identical']:,}/{device['images']:,} images identical to "
                   f"ONNX Runtime; device accuracy {_pct(device['device_accuracy'])}; stack peak "
                   f"{device['stack_peak_bytes']} B")
        if "instructions_per_inference" in device:
            click.echo(f"  instructions per inference: {device['instructions_per_inference']:,} "
                       f"(~{device['cycles_estimate']:,} Cortex-M4 cycles, estimate)")
    fw_manifest = run_dir / "firmware" / board / "manifest.json"
    if fw_manifest.is_file():
        fwm = _load(fw_manifest, f"lenet-edge export --target firmware --board {board}").get("firmware", {})
        if fwm:
            click.echo(f"  firmware.elf: flash {fwm['flash_used_bytes']:,} B, static RAM {fwm['ram_static_bytes']:,} B "
                       f"(+ {fwm['stack_reserved_bytes']:,} B stack reserved)")
