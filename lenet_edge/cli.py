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
from lenet_edge.device.boards import DEFAULT as DEFAULT_BOARD, NAMES as BOARDS
from lenet_edge.errors import LenetEdgeError

DEFAULT_RUN = Path("runs/lenet5")

run_option = click.option(
    "--run", "run_dir", type=click.Path(path_type=Path), default=DEFAULT_RUN, show_default=True,
    help="Run folder holding checkpoint.pt, metrics.json and the exported artifacts.")
test_dir_option = click.option(
    "--test-dir", type=click.Path(path_type=Path), envvar="LENET_EDGE_TEST_DIR", default=None,
    help="Folder with the official t10k-images/labels IDX files (env LENET_EDGE_TEST_DIR). "
         "Without it: the cached official MNIST download if present, else the held-out split.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON report.")


def _fail(message: str, code: int) -> None:
    click.echo(f"lenet-edge: error: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


class _Group(click.Group):
    """Every failure is one line on stderr and a non-zero exit: LenetEdgeError (exit 1), an OSError
    that escaped the artifact writers (exit 1, naming the file), a usage error such as `--epochs abc`
    (exit 2, with the command's --help hint on the same line), Ctrl-C (exit 130)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except getattr(click.exceptions, "NoArgsIsHelpError", ()) as e:  # bare `lenet-edge`: the help
            click.echo(e.ctx.get_help())
            sys.exit(0)
        except click.UsageError as e:
            where = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
            _fail(f"{e.format_message()}{where}", e.exit_code)
        except click.ClickException as e:
            _fail(e.format_message(), e.exit_code)
        except click.Abort:
            click.echo("lenet-edge: interrupted", err=True)
            sys.exit(130)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LenetEdgeError as e:
            _fail(str(e), 1)
        except OSError as e:
            _fail(f"{e.filename or 'I/O'}: {e.strerror or e}", 1)
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
@click.option("--board", type=click.Choice(BOARDS), default=DEFAULT_BOARD, show_default=True,
              help="Board for --target firmware.")
@click.option("--calib-images", type=int, default=1000, show_default=True,
              help="Training images used for static int8 calibration (--target onnx).")
@click.option("--qat", is_flag=True, help="Fine-tune with fake quantization before export (--target onnx).")
@click.option("--kernels", type=click.Choice(["ref", "opt"]), default="opt", show_default=True,
              help="C kernel set for --target c: ref (plain loops) or opt (DSP paths where the core has them).")
@click.option("--selftest", type=click.IntRange(min=1), default=None,
              help="Golden images lenet5_selftest checks (--target c) [default: 2].")
@test_dir_option
@click.option("--c", "c_dir", type=click.Path(path_type=Path), default=None,
              help="--target firmware for a model compiled by `lenet-edge compile` (this folder) "
                   "[project in --out, default <c>/firmware/<board>].")
@click.option("--inputs", type=click.Path(path_type=Path), default=None,
              help="With --c: inputs .npy [N, ...] compiled into flash, run at boot.")
def export(target, run_dir, out, board, calib_images, qat, kernels, selftest, test_dir, c_dir, inputs):
    """Export the trained model: ONNX (float + int8), C source, or a firmware project."""
    if c_dir is not None:
        if target != "firmware":
            raise LenetEdgeError("export: --c goes with --target firmware")
        from lenet_edge.device.byo_run import export_firmware_cmd as byo_firmware

        byo_firmware(c_dir, board, out, inputs, echo=click.echo)
        return
    if target == "onnx":
        export_onnx_cmd(run_dir, calib_images=calib_images, qat=qat, test_dir=test_dir)
    elif target == "c":
        from lenet_edge.compiler import export_c_cmd

        out = out or run_dir / "c"
        export_c_cmd(run_dir / "lenet5_int8.onnx", out, kernels=kernels, selftest=selftest)
        _echo_c_summary(out)
    else:
        from lenet_edge.device.firmware import export_firmware_cmd

        export_firmware_cmd(run_dir, board)


def export_onnx_cmd(run_dir: Path, calib_images: int = 1000, qat: bool = False,
                    test_dir: Path | None = None, echo=click.echo) -> dict:
    """`export --target onnx`: the model package writes both graphs (its quantization tables computed
    by the pinned ONNX Runtime session, passed in here), then the check package records both
    accuracies (ORT; official test set when available, else $LENET_EDGE_TEST_DIR or the held-out
    split) in the "export" block of <run>/metrics.json. Returns that block. The two packages never
    import each other; this function joins them."""
    from lenet_edge.check import ort
    from lenet_edge.check.evaluate import record_export
    from lenet_edge.model.export import export_onnx_files

    done = export_onnx_files(Path(run_dir), calib_images, qat, ort.run_in_memory, echo=echo)
    if test_dir is None and os.environ.get("LENET_EDGE_TEST_DIR"):
        test_dir = Path(os.environ["LENET_EDGE_TEST_DIR"])
    block = record_export(Path(run_dir), done.calibration, test_dir=test_dir, dataset=done.dataset,
                          data_dir=done.data_dir, val=done.val)
    echo(f"accuracy on {block['test']['source']} ({block['test']['images']} images): "
         f"float {100 * block['float']['accuracy']:.2f}%, int8 {100 * block['int8']['accuracy']:.2f}% "
         f"(agreement {100 * block['label_agreement']:.2f}%)")
    return block


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
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--calib", type=click.Path(path_type=Path), required=True,
              help="float .npy array [N, ...]: N calibration inputs, as the model takes them.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The int8 ONNX file to write.")
@click.option("--format", "fmt", type=click.Choice(["qdq", "qoperator"]), default="qdq", show_default=True,
              help="QDQ (float ops between QuantizeLinear/DequantizeLinear) or QOperator (QLinear* ops).")
@click.option("--per-channel", is_flag=True, help="One weight scale per output channel (default: per tensor).")
@click.option("--activations", type=click.Choice(["s8", "u8"]), default="s8", show_default=True,
              help="int8 or uint8 activations (weights are always int8).")
def quantize(model, calib, out, fmt, per_channel, activations):
    """Quantize a float ONNX model to int8 with onnxruntime's quantize_static."""
    from lenet_edge.check.quantize import quantize_cmd

    quantize_cmd(model, calib, out, fmt, activations, per_channel, echo=click.echo)


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
@click.option("--onnx", "onnx_path", type=click.Path(path_type=Path), default=None,
              help="A model compiled with `lenet-edge compile` (use with --c).")
@click.option("--c", "c_dir", type=click.Path(path_type=Path), default=None,
              help="The folder `lenet-edge compile` wrote (use with --onnx).")
@click.option("--inputs", type=click.Path(path_type=Path), default=None, help="Inputs .npy [N, ...] (with --onnx).")
@click.option("--random", "random_count", type=int, default=None,
              help="Verify on N random inputs, incl. values far outside the calibration range (with --onnx).")
def verify(run_dir, test_dir, as_json, onnx_path, c_dir, inputs, random_count):
    """Build the generated C on the host and compare it bit for bit with ONNX Runtime."""
    if onnx_path is not None or c_dir is not None:
        if onnx_path is None or c_dir is None:
            raise LenetEdgeError("verify: --onnx and --c go together")
        if inputs is not None and random_count is not None:
            raise LenetEdgeError("verify: give --inputs or --random, not both")
        from lenet_edge.check.byo import verify_cmd as byo_verify

        byo_verify(onnx_path, c_dir, inputs, random_count, echo=click.echo)
        return
    from lenet_edge.check.verify import verify_cmd

    verify_cmd(run_dir, test_dir, as_json)


@main.command("compile")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--name", default=None, help="C name prefix (default: the file's stem as a C identifier).")
@click.option("--kernels", type=click.Choice(["ref", "opt"]), default="opt", show_default=True)
@click.option("--cut-at", default=None, help="Compile the graph up to this node (its output becomes the output).")
def compile_(model, out, name, kernels, cut_at):
    """Compile an int8 ONNX model (QDQ or QOperator, e.g. from `lenet-edge quantize`) to C."""
    from lenet_edge.check.byo import compile_cmd

    compile_cmd(model, out, name, kernels, cut_at, echo=click.echo)


@main.command()
@click.option("--board", type=click.Choice(BOARDS), default=DEFAULT_BOARD, show_default=True)
@click.option("--images", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Test images to classify on the device.")
@click.option("--profile", "profile_images", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also count executed instructions per inference on this many images (QEMU plugin).")
@run_option
@test_dir_option
@json_option
@click.option("--c", "c_dir", type=click.Path(path_type=Path), default=None,
              help="Run a model compiled by `lenet-edge compile` (with --onnx) instead of LeNet-5.")
@click.option("--onnx", "onnx_path", type=click.Path(path_type=Path), default=None,
              help="The model the --c folder was compiled from (the reference).")
@click.option("--inputs", type=click.Path(path_type=Path), default=None, help="Inputs .npy [N, ...] (with --c).")
@click.option("--random", "random_count", type=int, default=None, help="N random inputs (with --c; default 100).")
def run(board, images, profile_images, run_dir, test_dir, as_json, c_dir, onnx_path, inputs, random_count):
    """Boot the firmware in QEMU, classify test images, compare every score with ONNX Runtime."""
    if c_dir is not None or onnx_path is not None:
        if c_dir is None or onnx_path is None:
            raise LenetEdgeError("run: --c and --onnx go together")
        from lenet_edge.device.byo_run import run_cmd as byo_run

        byo_run(onnx_path, c_dir, inputs, random_count, board, profile_images > 0, echo=click.echo)
        return
    from lenet_edge.device.measure import run_cmd

    run_cmd(board, images, run_dir, test_dir, as_json, profile_images=profile_images)


@main.command()
@run_option
@click.option("--open", "open_page", is_flag=True, help="Open the written index.html in the web browser.")
@json_option
@test_dir_option
@click.option("--board", type=click.Choice(BOARDS), default=None, hidden=True,
              help="Ignored: every board that was run is reported.")
def report(run_dir, open_page, as_json, test_dir, board):
    """Write <run>/report/index.html (self-contained) and report.json, and print a summary.

    \b
    Accuracy at every stage (torch, float ONNX, int8 ONNX, host C, each board in QEMU) with the
    agreement with ONNX Runtime; a per-layer table (shape, parameters, MACs, scale, flash, RAM,
    instructions, saturation); plots; provenance. Anything made from another model than the
    current checkpoint is marked stale, with the command that refreshes it.
    """
    from lenet_edge.report import report_cmd

    report_cmd(run_dir, test_dir, open_page=open_page, as_json=as_json)


@main.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--backend", type=click.Choice(["torch", "onnx", "int8", "c"]), default="int8", show_default=True,
              help="torch: checkpoint.pt; onnx: the float ONNX; int8: the int8 ONNX (ONNX Runtime); "
                   "c: the generated C built on the host (built once, cached in <run>/.predict-cache).")
@run_option
@json_option
def predict(images, backend, run_dir, as_json):
    """Classify PNG, JPEG, PGM files or .npy arrays with the run's model.

    \b
    Images are preprocessed the way MNIST was made (docs/predict.md): grayscale, inverted if the
    background is light, cropped to the ink, fitted into 20x20 keeping the aspect ratio, centred
    by centre of mass in 28x28. .npy arrays (28x28 or Nx28x28 uint8) are taken as they are.
    """
    from lenet_edge.predict import predict_cmd

    predict_cmd(list(images), backend, run_dir, as_json)


@main.command()
@click.option("--board", type=click.Choice(BOARDS), default=DEFAULT_BOARD, show_default=True)
@click.option("--probe", type=click.Choice(["openocd", "pyocd"]), default="openocd", show_default=True)
@click.option("--dry-run", is_flag=True, help="Print the flashing command instead of running it.")
@run_option
def flash(board, probe, dry_run, run_dir):
    """Flash firmware.elf to a real board through OpenOCD or pyOCD."""
    from lenet_edge.device.flash import flash_cmd

    flash_cmd(board, probe, dry_run, run_dir)


if __name__ == "__main__":
    main()
