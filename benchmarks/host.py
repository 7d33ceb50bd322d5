"""Host cost of the generated C against ONNX Runtime, written to BENCHMARKS.md (section "host").

    .venv/bin/python benchmarks/host.py [--run runs/lenet5] [--test-dir DIR]

Measures, for <run>/lenet5_int8.onnx and the C generated from it (<run>/c, made if missing):
  * C latency per image: the generated C built with the host compiler at -O2 (the verify flags),
    lenet5_predict timed in-process (clock_gettime) over N images x R passes after a warm-up pass;
    best of 3 runs.
  * ORT latency per image: the pinned reference session, batch 1, one thread, every call timed
    with perf_counter_ns after warm-up; mean and median.
  * x86 instructions per inference: callgrind's total instruction count (Ir) of the driver on K and
    2K images, (Ir(2K) - Ir(K)) / K, so start-up and file reading cancel.
Trains and exports nothing: a run without lenet5_int8.onnx is a one-line error.
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from _report import update_section  # noqa: E402

from lenet_edge.check import ort, verify  # noqa: E402
from lenet_edge.check.evaluate import test_set_for_run  # noqa: E402
from lenet_edge.compiler import ensure_c  # noqa: E402
from lenet_edge.errors import LenetEdgeError  # noqa: E402

DRIVER = Path(__file__).resolve().parent / "host_timing.c"
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-ffp-contract=off"]
C_IMAGES, C_REPEATS = 1000, 20      # 20,000 timed calls per run
ORT_IMAGES = 2000                   # timed single-image ORT calls
CALLGRIND_K = 50                    # callgrind runs on K and 2K images


def host_compiler() -> str:
    for name in ("cc", "gcc", "clang"):
        if shutil.which(name):
            return name
    raise LenetEdgeError("no host C compiler found (cc, gcc or clang): apt-get install gcc")


def compiler_version(cc: str) -> str:
    out = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0].strip() if out else cc


def build_timing_driver(c_dir: Path, out: Path, cc: str) -> Path:
    sources = [DRIVER, c_dir / "lenet5.c", c_dir / "lenet5_weights.c"]
    cmd = [cc, *CFLAGS, "-I", str(c_dir), *map(str, sources), "-o", str(out), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["(no output)"])[0]
        raise LenetEdgeError(f"{c_dir}: host build of the timing driver failed: {first}")
    return out


def time_c(exe: Path, images_file: Path, n: int, repeats: int) -> float:
    """Best of 3 runs of mean ns per lenet5_predict call."""
    best = float("inf")
    for _ in range(3):
        out = subprocess.run([str(exe), str(images_file), str(n), str(repeats), "1"],
                             capture_output=True, text=True, check=True).stdout
        best = min(best, float(out.split()[1]))
    return best


def time_ort(model: Path, images: np.ndarray) -> tuple[float, float]:
    """(mean, median) ns of one batch-1 run of the pinned session, over all `images`."""
    sess = ort.reference_session(model)
    feed = sess.get_inputs()[0].name
    x = np.ascontiguousarray(images, dtype=np.uint8).reshape(-1, 1, 1, 28, 28)
    for img in x[:200]:  # warm-up
        sess.run(None, {feed: img})
    times = []
    for img in x:
        t0 = time.perf_counter_ns()
        sess.run(None, {feed: img})
        times.append(time.perf_counter_ns() - t0)
    return statistics.fmean(times), statistics.median(times)


def callgrind_instructions(exe: Path, images_file: Path, k: int, work: Path) -> int:
    """Instructions of one lenet5_predict call: (Ir on 2K images - Ir on K images) / K."""
    if not shutil.which("valgrind"):
        raise LenetEdgeError("valgrind not found: apt-get install --no-install-recommends valgrind")
    totals = []
    for n in (k, 2 * k):
        out_file = work / f"callgrind.{n}.out"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", str(exe),
                        str(images_file), str(n), "1", "0"], capture_output=True, text=True, check=True)
        m = re.search(r"^(?:summary|totals):\s*(\d+)", out_file.read_text(), re.M)
        if not m:
            raise LenetEdgeError(f"{out_file}: no instruction total in the callgrind output")
        totals.append(int(m.group(1)))
    return round((totals[1] - totals[0]) / k)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=Path("runs/lenet5"))
    ap.add_argument("--test-dir", type=Path, default=None)
    ap.add_argument("--no-write", action="store_true", help="print the section, leave BENCHMARKS.md alone")
    args = ap.parse_args(argv)
    try:
        model = args.run / verify.MODEL_FILE
        if not model.is_file():
            raise LenetEdgeError(f"{model}: no such model file (run `lenet-edge train` and "
                                 f"`lenet-edge export --target onnx --run {args.run}` first)")
        c_dir = args.run / "c"
        ensure_c(model, c_dir)
        test = test_set_for_run(args.run, args.test_dir)
        images = np.ascontiguousarray(test.images, dtype=np.uint8)
        cc = host_compiler()
        with tempfile.TemporaryDirectory(prefix="lenet-edge-bench-") as tmp:
            work = Path(tmp)
            images_file = work / "images.bin"
            images_file.write_bytes(images[:max(C_IMAGES, 2 * CALLGRIND_K)].tobytes())
            exe = build_timing_driver(c_dir, work / "host_timing", cc)
            c_ns = time_c(exe, images_file, min(C_IMAGES, len(images)), C_REPEATS)
            ort_mean, ort_median = time_ort(model, images[:ORT_IMAGES])
            insns = callgrind_instructions(exe, images_file, CALLGRIND_K, work)
    except LenetEdgeError as e:
        print(f"host.py: error: {e}", file=sys.stderr)
        return 1
    import onnxruntime

    cpu = verify.cpu_info()
    cmd = "python benchmarks/host.py" + (f" --run {args.run}" if args.run != Path("runs/lenet5") else "")
    md = "\n".join([
        "## Host: generated C vs ONNX Runtime (one image)",
        "",
        f"Command: `{cmd}` — model `{args.run.name}/{verify.MODEL_FILE}` "
        f"(sha256 {verify.sha256_file(model)[:12]}...), {test.source.split('(')[0].strip()}.",
        f"CPU: {cpu['model']} ({', '.join(cpu['flags'])}); C: {compiler_version(cc)} `{' '.join(CFLAGS)}`; "
        f"ONNX Runtime {onnxruntime.__version__} (pinned session, batch 1, 1 thread).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| C `lenet5_predict`, mean per image (best of 3 × {min(C_IMAGES, len(images))} images × {C_REPEATS}) "
        f"| {c_ns / 1000:.1f} µs |",
        f"| ORT `session.run`, batch 1, mean / median over {min(ORT_IMAGES, len(images))} images "
        f"| {ort_mean / 1000:.1f} / {ort_median / 1000:.1f} µs |",
        f"| C time / ORT time (C mean / ORT median) | {c_ns / ort_median:.2f} |",
        f"| x86 instructions per inference (callgrind, (Ir(2K) − Ir(K)) / K, K = {CALLGRIND_K}) | {insns:,} |",
        "",
        "Latencies are wall-clock on a shared machine (the ORT mean is pulled up by scheduling outliers; "
        "the median is the robust figure); ORT's time includes the Python call and its per-run overhead. "
        "The instruction count is exact and repeatable.",
    ])
    print(md)
    if not args.no_write:
        update_section("host", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
