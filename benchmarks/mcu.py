"""Cost of LeNet-5 on the emulated Cortex-M boards -> BENCHMARKS.md section "mcu" and
<run>/firmware/<board>/manifest.json ("measured" block).

    python benchmarks/mcu.py --run runs/lenet5 [--test-dir DIR] [--images 1000] [--profile-images 3]

Per board: bit-exact check of --images official test images against ONNX Runtime (QEMU), executed
instructions per layer (our QEMU TCG plugin, -icount shift=0: exact and repeatable), instructions
per MAC, a Cortex-M4 cycle estimate from the TRM's timing rules (lenet_edge/device/profile.py),
flash/RAM from arm-none-eabi-size and the linker map, and the painted stack peak.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _report import update_section  # noqa: E402

from lenet_edge import fsutil  # noqa: E402
from lenet_edge.check.evaluate import test_set_for_run  # noqa: E402
from lenet_edge.device.boards import NAMES as BOARD_NAMES, board_spec  # noqa: E402
from lenet_edge.device.measure import measure_on_board  # noqa: E402


def agreement(measured: int, estimate, why: str) -> dict:
    return {"measured": measured, "compiler_estimate": estimate,
            "agrees": estimate is not None and measured == estimate, "note": why}


def measure(run_dir: Path, board: str, x, n_profile: int, write: bool = True) -> dict:
    m = measure_on_board(run_dir, board, x, n_profile)  # the same sequence as `lenet-edge run --profile`
    build, cmp, manifest, prof, project = m.build, m.agreement, m.manifest, m.profile, m.project
    layers = manifest.get("layers", [])
    macs = {layer["node"]: layer.get("macs", 0) for layer in layers}
    for row in prof.layers:
        row["macs"] = macs.get(row["name"], 0)
        row["instructions_per_mac"] = round(row["instructions"] / row["macs"], 2) if row["macs"] else None
    path = "int_requant" if board_spec(board).cpu == "cortex-m3" else "float_requant"
    weights = build.objects.get("lenet5_weights.o", {})
    model_obj = build.objects.get("lenet5.o", {})
    measured = {
        "command": f"python benchmarks/mcu.py --run {run_dir} --images {len(x)} --profile-images {n_profile}",
        "bit_exact": {"images": cmp["images"], "identical": cmp["identical"], "mismatches": cmp["mismatches"]},
        "instructions_per_inference": prof.total_instructions[0],
        "instructions_range": [min(prof.total_instructions), max(prof.total_instructions)],
        "cortex_m4_cycles_estimate": prof.total_cycles_estimate,
        # the estimate's free choices: refill P = 1..3 moves each taken branch by 1 from P = 2;
        # LDR [PC] "might add a cycle"
        "cortex_m4_cycles_spread": {
            **prof.spread,
            "low": prof.total_cycles_estimate - prof.spread.get("taken_branches", 0),
            "high": prof.total_cycles_estimate + prof.spread.get("taken_branches", 0)
            + prof.spread.get("literal_loads", 0)},
        "layers": prof.layers,
        "flash_weights_bytes": agreement(
            weights.get("rodata", 0), manifest.get("flash_bytes", {}).get(path),
            f"rodata of lenet5_weights.o (linker map) vs the compiler's const-array count for the {path} "
            "path; differs by alignment padding, by arrays of the other requant path that the compiler "
            "counts but --gc-sections keeps or drops, and by the selftest vectors if they live there"),
        "arena_bytes": agreement(
            model_obj.get("bss", 0), manifest.get("ram_bytes", {}).get("arena"),
            "bss of lenet5.o (the static arena) vs the compiler's arena plan"),
        "stack_peak_bytes": {
            **agreement(prof.stack_peak, manifest.get("ram_bytes", {}).get("stack_estimate"), ""),
            "agrees": prof.stack_peak <= (manifest.get("ram_bytes", {}).get("stack_estimate") or 0),
            "note": "painted high-water mark since reset (crt0, main, lenet5_selftest and lenet5_predict "
                    "frames); the compiler's figure is a budget (depth x per-frame allowance), so it "
                    "agrees when the measured peak stays within it"},
        "flash_used_bytes": build.flash, "ram_static_bytes": build.ram_static,
        "sections": build.sections,
    }
    manifest["measured"] = measured
    if write:
        fsutil.write_json(project / "manifest.json", manifest)
    return {"board": board, **measured}


def markdown(results: list[dict], cmd: str, source: str) -> str:
    lines = ["## Cortex-M (QEMU)", "", f"Command: `{cmd}`", f"Test images: {source}", "",
             "| board | bit-exact vs ORT | instructions / inference | Cortex-M4 cycles (est.) | flash used | "
             "static RAM | stack peak |", "|---|---|---|---|---|---|---|"]
    for r in results:
        be = r["bit_exact"]
        lines.append(f"| {r['board']} | {be['identical']}/{be['images']} | {r['instructions_per_inference']:,} | "
                     f"{r['cortex_m4_cycles_estimate']:,} | {r['flash_used_bytes']:,} B | {r['ram_static_bytes']:,} B | "
                     f"{r['stack_peak_bytes']['measured']} B |")
    lines += ["", "Generated-code manifest (`<run>/c/manifest.json`, computed at generation time) vs measured "
              "(`<run>/firmware/<board>/manifest.json` → `measured`):", "",
              "| board | figure | manifest | measured | agrees | why / how compared |", "|---|---|---|---|---|---|"]
    for r in results:
        for key, label in (("flash_weights_bytes", "model constants (flash)"), ("arena_bytes", "arena (RAM)"),
                           ("stack_peak_bytes", "stack")):
            a = r[key]
            lines.append(f"| {r['board']} | {label} | {a['compiler_estimate']} B | {a['measured']} B | "
                         f"{'yes' if a['agrees'] else 'no'} | {a['note'].split(';')[0]} |")
    for r in results:
        lines += ["", f"### {r['board']}: per layer (first image; min-max over the profiled images)", "",
                  "| layer | instructions | MACs | instr/MAC | cycles (est.) | load / store / mul / branch / fp |",
                  "|---|---|---|---|---|---|"]
        for row in r["layers"]:
            c = row["classes"]
            mix = " / ".join(str(c.get(k, 0) + (c.get("multi", 0) if k == "load" else 0)) for k in ("load", "store", "mul"))
            mix += f" / {c.get('branch', 0) + c.get('branch_cond', 0)} / {c.get('fp', 0) + c.get('fp_mem', 0) + c.get('fp_div', 0)}"
            rng = (f"{row['instructions']:,}" if row["instructions_min"] == row["instructions_max"]
                   else f"{row['instructions']:,} ({row['instructions_min']:,}-{row['instructions_max']:,})")
            lines.append(f"| {row['name']} | {rng} | {row['macs']:,} | {row['instructions_per_mac'] or ''} | "
                         f"{row['cycles_estimate']:,} | {mix} |")
    lines += ["", "Instructions are exact (QEMU plugin `firmware/tools/insncount.c`, `-icount shift=0`); "
              "cycles are an estimate from the Cortex-M4 TRM's timing rules applied to what ran (pipelined "
              "loads, LDRD 3, taken branches 1 + P from the plugin's fall-through counts; "
              "`lenet_edge/device/profile.py`, `docs/firmware.md`), not a measurement. On the Cortex-M3 "
              "board the same Cortex-M4 rules are applied to its integer-only requant code."]
    lines += ["", "What the estimate's two free choices weigh (first image): the refill P of a taken branch is "
              "1..3 cycles (the estimate takes 2), and a literal-pool load `LDR [PC]` \"might add a cycle\" (the "
              "estimate adds none).", "",
              "| board | cycles (est.) | taken branches | LDR [PC] | range (P = 1, no LDR [PC] cycle .. P = 3, "
              "every LDR [PC] + 1) |", "|---|---|---|---|---|"]
    for r in results:
        sp = r["cortex_m4_cycles_spread"]
        lines.append(f"| {r['board']} | {r['cortex_m4_cycles_estimate']:,} | {sp['taken_branches']:,} | "
                     f"{sp['literal_loads']:,} | {sp['low']:,} .. {sp['high']:,} |")
    return "\n".join(lines)


def compare(run_dir: Path, board: str, x, n_profile: int) -> dict:
    """The reference kernel set against the optimized one on one board: both regenerate <run>/c
    (export --target c --kernels ref|opt), build, check bit-exactness and profile."""
    from lenet_edge.compiler import export_c_cmd

    out = {}
    for kernels in ("ref", "opt"):
        export_c_cmd(run_dir / "lenet5_int8.onnx", run_dir / "c", kernels=kernels)
        out[kernels] = measure(run_dir, board, x, n_profile, write=False)
    ref, opt = out["ref"], out["opt"]
    return {"board": board, "ref": ref, "opt": opt,
            "speedup": round(ref["instructions_per_inference"] / opt["instructions_per_inference"], 2),
            "flash_diff_bytes": opt["flash_used_bytes"] - ref["flash_used_bytes"],
            "ram_diff_bytes": opt["ram_static_bytes"] - ref["ram_static_bytes"],
            "stack_diff_bytes": opt["stack_peak_bytes"]["measured"] - ref["stack_peak_bytes"]["measured"]}


def print_compare(c: dict) -> None:
    for k in ("ref", "opt"):
        r = c[k]
        print(f"{c['board']} {k}: {r['bit_exact']['identical']}/{r['bit_exact']['images']} bit-exact, "
              f"{r['instructions_per_inference']:,} instructions, ~{r['cortex_m4_cycles_estimate']:,} cycles, "
              f"flash {r['flash_used_bytes']:,} B, static RAM {r['ram_static_bytes']:,} B, "
              f"stack peak {r['stack_peak_bytes']['measured']} B")
    print(f"{c['board']} opt vs ref: speed-up x{c['speedup']}, flash {c['flash_diff_bytes']:+,} B, "
          f"static RAM {c['ram_diff_bytes']:+,} B, stack {c['stack_diff_bytes']:+,} B")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, default=Path("runs/lenet5"))
    ap.add_argument("--test-dir", type=Path, default=None)
    ap.add_argument("--boards", nargs="+", default=list(BOARD_NAMES))
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--profile-images", type=int, default=3)
    ap.add_argument("--no-write", action="store_true",
                    help="print the results only: leave BENCHMARKS.md and the run's manifest unchanged")
    ap.add_argument("--compare", action="store_true",
                    help="reference vs optimized kernel set per board (speed-up, flash and RAM difference); "
                         "prints only, and leaves <run>/c generated with the opt set")
    args = ap.parse_args()
    if args.profile_images < 1:
        ap.error("--profile-images must be at least 1 (the per-layer table needs a profile)")
    data = test_set_for_run(args.run, args.test_dir)
    x = data.images[:args.images]
    if args.compare:
        cmps = [compare(args.run, board, x, args.profile_images) for board in args.boards]
        for c in cmps:
            print_compare(c)
        sys.exit(1 if any(c[k]["bit_exact"]["mismatches"] for c in cmps for k in ("ref", "opt")) else 0)
    results = []
    for board in args.boards:
        r = measure(args.run, board, x, args.profile_images, write=not args.no_write)
        print(f"{board}: {r['bit_exact']['identical']}/{r['bit_exact']['images']} bit-exact, "
              f"{r['instructions_per_inference']:,} instructions/inference, "
              f"~{r['cortex_m4_cycles_estimate']:,} cycles ({r['cortex_m4_cycles_spread']['low']:,} .. "
              f"{r['cortex_m4_cycles_spread']['high']:,}), flash {r['flash_used_bytes']:,} B")
        results.append(r)
    cmd = " ".join(["python benchmarks/mcu.py", *sys.argv[1:]])
    if args.no_write:
        for r in results:
            print(f"{r['board']}: per layer (instructions, MACs, instr/MAC, Cortex-M4 cycles est.); "
                  f"flash {r['flash_used_bytes']:,} B, static RAM {r['ram_static_bytes']:,} B, "
                  f"stack peak {r['stack_peak_bytes']['measured']} B")
            for row in r["layers"]:
                print(f"  {row['name']:>12} {row['instructions']:>10,} {row['macs']:>9,} "
                      f"{str(row['instructions_per_mac']):>5} {row['cycles_estimate']:>10,}")
    else:
        update_section("mcu", markdown(results, cmd, data.source))
    if any(r["bit_exact"]["mismatches"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
