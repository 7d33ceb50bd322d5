"""The `lenet-edge` command line: parses options and calls one function per command.

Every failure the user can cause ends as one line on stderr (`lenet-edge: error: ...`) and a
non-zero exit; the heavy imports (torch, onnxruntime) happen inside the commands so `--help` is fast.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from lenet_edge import __version__
from lenet_edge.errors import LenetEdgeError

DEFAULT_RUN = Path("runs/lenet5")
BOARDS = ("mps2-an386", "netduinoplus2", "lm3s6965evb")

run_option = click.option(
    "--run", "run_dir", type=click.Path(path_type=Path), default=DEFAULT_RUN, show_default=True,
    help="Run folder holding checkpoint.pt, metrics.json and the exported artifacts.")
test_dir_option = click.option(
    "--test-dir", type=click.Path(path_type=Path), envvar="LENET_EDGE_TEST_DIR", default=None,
    help="Folder with the official t10k-images/labels IDX files (env LENET_EDGE_TEST_DIR). "
         "Without it: the cached official MNIST download if present, else the held-out split.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON report.")


class _Group(click.Group):
    """Turns LenetEdgeError and Ctrl-C into a one-line message and a non-zero exit."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LenetEdgeError as e:
            click.echo(f"lenet-edge: error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("lenet-edge: interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lenet-edge")
def main():
    """LeNet-5 from training to a bit-exact int8 build on a Cortex-M.

    \b
    Pipeline:  train -> export --target onnx -> export --target c -> verify
               -> export --target firmware -> run (QEMU) -> flash (real board)
    """
    # One intra-op thread unless the user says otherwise: LeNet-sized work gains nothing from more,
    # and oversubscribed threads on a busy machine made an epoch 4-15x slower (measured).
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@main.command()
@click.option("--dataset", default="mnist-5k", show_default=True,
              help="mnist-5k (embedded, offline), mnist (downloaded to the user cache) or fashion-mnist.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Folder with the four train/t10k *-ubyte[.gz] IDX files (overrides --dataset).")
@click.option("--arch", default="paper", show_default=True, help="paper (LeCun 1998) or modern.")
@click.option("--epochs", type=int, default=None, help="Passes over the training set [default: 60 adam, 30 sdlm].")
@click.option("--optimizer", default="adam", show_default=True, help="adam or sdlm (the paper's).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--augment/--no-augment", default=True, show_default=True,
              help="Random small affine distortions (shift, scale, squeeze, shear) of the training digits.")
@click.option("--map-j", type=float, default=0.1, show_default=True, help="Constant j of the MAP loss (paper arch).")
@click.option("--resume", is_flag=True, help="Continue from <run>/checkpoint.pt.")
@run_option
@test_dir_option
def train(**kwargs):
    """Train LeNet-5 and write checkpoint, metrics and plots into the run folder."""
    from lenet_edge.model.train import train_cmd

    train_cmd(**kwargs)


@main.command()
@click.option("--arch", default="paper", show_default=True, help="paper or modern.")
@json_option
def summary(arch, as_json):
    """Per-layer table: output shape, trainable parameters, connections and MACs."""
    from lenet_edge.model.summary import summary_cmd

    summary_cmd(arch, as_json)


@main.command()
@click.option("--target", type=click.Choice(["onnx", "c", "firmware"]), required=True)
@run_option
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder for --target c [default: <run>/c].")
@click.option("--board", type=click.Choice(BOARDS), default="mps2-an386", show_default=True,
              help="Board for --target firmware.")
@click.option("--calib-images", type=int, default=1000, show_default=True,
              help="Training images used for static int8 calibration (--target onnx).")
@click.option("--qat", is_flag=True, help="Fine-tune with fake quantization before export (--target onnx).")
@click.option("--kernels", type=click.Choice(["ref", "opt"]), default="opt", show_default=True,
              help="C kernel set for --target c: ref (plain loops) or opt (DSP paths where the core has them).")
@click.option("--selftest", type=click.IntRange(min=1), default=None,
              help="Golden images lenet5_selftest checks (--target c) [default: 2].")
@test_dir_option
def export(target, run_dir, out, board, calib_images, qat, kernels, selftest, test_dir):
    """Export the trained model: ONNX (float + int8), C source, or a firmware project."""
    if target == "onnx":
        from lenet_edge.model.export import export_onnx_cmd

        export_onnx_cmd(run_dir, calib_images=calib_images, qat=qat, test_dir=test_dir)
    elif target == "c":
        from lenet_edge.compiler import export_c_cmd

        out = out or run_dir / "c"
        export_c_cmd(run_dir / "lenet5_int8.onnx", out, kernels=kernels, selftest=selftest)
        _echo_c_summary(out)
    else:
        from lenet_edge.device.firmware import export_firmware_cmd

        export_firmware_cmd(run_dir, board)


def _echo_c_summary(out: Path) -> None:
    """What `export --target c` wrote, with the memory figures from its manifest."""
    import json

    m = json.loads((out / "manifest.json").read_text())
    flash, ram = m["flash_bytes"], m["ram_bytes"]
    click.echo(f"wrote {out}/: {', '.join(sorted(f if isinstance(f, str) else f['name'] for f in m['files']))}")
    click.echo(f"  from {m['onnx']['file']} sha256={m['onnx']['sha256'][:16]}..., opset {m['onnx']['opset']}")
    click.echo(f"  flash (model constants): {flash['float_requant']:,} B with an FPU, {flash['int_requant']:,} B "
               f"integer-only (+{flash['selftest']:,} B self-test vectors)")
    click.echo(f"  RAM: {ram['arena']:,} B static arena + {ram['stack_estimate']:,} B stack budget")


@main.command()
@run_option
@click.option("--model", "which", type=click.Choice(["float", "int8"]), default="int8", show_default=True)
@test_dir_option
@json_option
def evaluate(run_dir, which, test_dir, as_json):
    """Accuracy and confusion matrix of an exported ONNX model under ONNX Runtime."""
    from lenet_edge.check.evaluate import evaluate_cmd

    evaluate_cmd(run_dir, which, test_dir, as_json)


@main.command()
@run_option
@test_dir_option
@json_option
def verify(run_dir, test_dir, as_json):
    """Build the generated C on the host and compare it bit for bit with ONNX Runtime."""
    from lenet_edge.check.verify import verify_cmd

    verify_cmd(run_dir, test_dir, as_json)


@main.command()
@click.option("--board", type=click.Choice(BOARDS), default="mps2-an386", show_default=True)
@click.option("--images", type=int, default=1000, show_default=True, help="Test images to classify on the device.")
@click.option("--profile", "profile_images", type=int, default=0, show_default=True,
              help="Also count executed instructions per inference on this many images (QEMU plugin).")
@run_option
@test_dir_option
@json_option
def run(board, images, profile_images, run_dir, test_dir, as_json):
    """Boot the firmware in QEMU, classify test images, compare every score with ONNX Runtime."""
    from lenet_edge.device.emulator import run_cmd

    run_cmd(board, images, run_dir, test_dir, as_json, profile_images=profile_images)


@main.command()
@run_option
@click.option("--board", type=click.Choice(BOARDS), default="mps2-an386", show_default=True)
def report(run_dir, board):
    """One-screen summary of a run: accuracy, agreement with ONNX Runtime, flash, RAM, instructions."""
    from lenet_edge.report import report_cmd

    report_cmd(run_dir, board)


@main.command()
@click.option("--board", type=click.Choice(BOARDS), default="mps2-an386", show_default=True)
@click.option("--probe", type=click.Choice(["openocd", "pyocd"]), default="openocd", show_default=True)
@click.option("--dry-run", is_flag=True, help="Print the flashing command instead of running it.")
@run_option
def flash(board, probe, dry_run, run_dir):
    """Flash firmware.elf to a real board through OpenOCD or pyOCD."""
    from lenet_edge.device.flash import flash_cmd

    flash_cmd(board, probe, dry_run, run_dir)


if __name__ == "__main__":
    main()
