"""Build and run the generated C on the host.

`build` compiles a folder of generated sources plus the static host driver
(codegen_templates/host/driver.c) with strict flags into an executable; `run_images` streams raw
images through it in one process and returns scores and labels (optionally each traced layer's
int8 codes, see driver.c for the trace file layout).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from lenet_edge import proc
from lenet_edge.compiler.emit import OUTPUT_FILES
from lenet_edge.errors import LenetEdgeError

# Time limits (lenet_edge.proc scales them by LENET_EDGE_TIMEOUT_SCALE). Measured on a loaded
# 2-core machine: ~2 s per source at -O2 with sanitizers, ~0.1 ms per image in the driver (under
# ASan/UBSan ~1 ms); the limits leave a 20x margin or more.
COMPILE_BASE_TIMEOUT_S = 30.0
COMPILE_PER_SOURCE_TIMEOUT_S = 30.0
RUN_BASE_TIMEOUT_S = 30.0
RUN_PER_IMAGE_TIMEOUT_S = 0.02

STRICT_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-ffp-contract=off"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]

SOURCES = tuple(f for f in OUTPUT_FILES if f.endswith(".c"))  # headers are found through -I


def driver_source() -> Path:
    from lenet_edge.compiler.emit import template_dir

    return template_dir() / "host" / "driver.c"


def find_compiler(preferred: str | None = None) -> str:
    names = [preferred] if preferred else [os.environ.get("CC") or "", "cc", "gcc", "clang"]
    for name in filter(None, names):
        path = shutil.which(name)
        if path:
            return path
    raise LenetEdgeError(f"no C compiler found (tried {', '.join(filter(None, names))}; install gcc or clang)")


def compile_c(sources: list[Path], output: Path, flags: list[str] = (), compiler: str | None = None,
              link: bool = True) -> Path:
    """Compile (and link) `sources` into `output` with STRICT_FLAGS + flags; first error line on failure."""
    cc = find_compiler(compiler)
    output = Path(output).resolve()  # the compiler runs in output's folder: no relative paths
    cmd = [cc, *STRICT_FLAGS, *flags, *(str(Path(s).resolve()) for s in sources)]
    cmd += ["-o", str(output)] if link else ["-c"]
    limit = COMPILE_BASE_TIMEOUT_S + COMPILE_PER_SOURCE_TIMEOUT_S * len(sources)
    done = proc.run(cmd, limit, name=f"{Path(cc).name} (building {output.name})", capture_output=True,
                    text=True, cwd=output.parent)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if "error" in ln] or done.stderr.splitlines() or ["?"]
        raise LenetEdgeError(f"C build failed ({Path(cc).name}): {lines[0].strip()}")
    return output


def build(c_dir: Path, flags: list[str] = (), compiler: str | None = None, *, work_dir: Path) -> Path:
    """Generated sources in `c_dir` + the host driver -> an executable in `work_dir` (the caller owns
    that folder and its clean-up, e.g. a TemporaryDirectory)."""
    c_dir = Path(c_dir).resolve()
    missing = [s for s in OUTPUT_FILES if not (c_dir / s).is_file()]
    if missing:
        raise LenetEdgeError(f"{c_dir}: missing generated file {missing[0]} (run `lenet-edge export --target c`)")
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    sources = [c_dir / s for s in SOURCES] + [driver_source()]
    return compile_c(sources, work / "lenet5_driver", [*flags, f"-I{c_dir}"], compiler)


def run_timeout(n_images: int) -> float:
    """The host driver's time limit for `n_images` images."""
    return RUN_BASE_TIMEOUT_S + RUN_PER_IMAGE_TIMEOUT_S * n_images


def run_images(exe: Path, images: np.ndarray, trace: bool = False, env: dict | None = None,
               timeout: float | None = None) -> dict[str, np.ndarray]:
    """uint8 images [N,28,28] -> {'scores': int32 [N,10], 'label': int64 [N]} (+ 'trace': {tensor: [N, n]}
    when `trace` and the executable was built with -DLENET5_TRACE). The time limit defaults to
    run_timeout(N)."""
    x = np.ascontiguousarray(images, dtype=np.uint8).reshape(-1, 784)
    with tempfile.TemporaryDirectory(prefix="lenet5-run-") as tmp:
        cmd = [str(exe)]
        trace_path = Path(tmp) / "trace.bin"
        if trace:
            cmd += ["--trace", str(trace_path)]
        limit = run_timeout(len(x)) if timeout is None else timeout
        done = proc.run(cmd, limit, name=f"host driver {exe} ({len(x)} images)", input=x.tobytes(),
                        capture_output=True, env={**os.environ, **(env or {})})
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            raise LenetEdgeError(f"{exe}: exited with status {done.returncode}: {err[0] if err else ''}")
        out = np.frombuffer(done.stdout[:len(done.stdout) // 4 * 4], dtype=np.int32)
        if len(done.stdout) % 4 or out.size % 11 != 0 or out.size // 11 != len(x):
            raise LenetEdgeError(f"{exe}: wrote {len(done.stdout)} bytes for {len(x)} images")
        out = out.reshape(len(x), -1)
        result = {"scores": out[:, :-1].copy(), "label": out[:, -1].astype(np.int64)}
        if trace:
            result["trace"] = read_trace(trace_path, len(x))
    return result


def read_trace(path: Path, n_images: int) -> dict[str, np.ndarray]:
    """Parse a driver trace file -> {ONNX tensor name: int8 [n_images, codes]}."""
    data = Path(path).read_bytes()
    if data[:4] != b"LE5T":
        raise LenetEdgeError(f"{path}: not a lenet5 trace file")
    pos = 4
    (n_layers,) = np.frombuffer(data, np.uint32, 1, pos)
    pos += 4
    names, sizes = [], []
    for _ in range(int(n_layers)):
        size, length = np.frombuffer(data, np.uint32, 2, pos)
        pos += 8
        names.append(data[pos:pos + int(length)].decode())
        sizes.append(int(size))
        pos += int(length)
    per_image = sum(8 + s for s in sizes if s)
    body = np.frombuffer(data, np.uint8, offset=pos)
    if body.size != per_image * n_images:
        raise LenetEdgeError(f"{path}: {body.size} trace bytes, expected {per_image * n_images}")
    body = body.reshape(n_images, per_image)
    out, col = {}, 0
    for layer, (name, size) in enumerate(zip(names, sizes)):
        if not size:
            continue
        head = body[0, col:col + 8].copy().view(np.uint32)
        if int(head[0]) != layer or int(head[1]) != size:
            raise LenetEdgeError(f"{path}: trace record out of order at layer {layer} ({name})")
        out[name] = body[:, col + 8:col + 8 + size].view(np.int8).copy()
        col += 8 + size
    return out
