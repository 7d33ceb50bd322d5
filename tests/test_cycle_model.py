"""The Cortex-M4 cycle model of lenet_edge/device/profile.py on hand-written instruction sequences:
each rule of the TRM it applies (pipelined loads, stores, LDRD, address dependencies, branches
taken or not from the plugin's fall-through counts, FPU costs). No QEMU: objdump text in, cycles out."""
from collections import Counter

import pytest

from lenet_edge.device import profile as pf
from lenet_edge.errors import LenetEdgeError


def listing(*lines: str) -> dict:
    """objdump -d lines for consecutive instructions: (halfwords, text) with 2-byte Thumb slots."""
    out, addr = [], 0x100
    for text in lines:
        wide = text.split()[0].endswith(".w") or text.split()[0] in ("ldrd", "strd", "smlad", "sxtb16", "vmov",
                                                                      "vmul.f32", "vmla.f32", "bl")
        raw = "f8d0 1000" if wide else "6801     "
        out.append(f"{addr:8x}:\t{raw} \t{text}")
        addr += 4 if wide else 2
    return pf.parse_objdump("\n".join(out))


def straight(disasm: dict, times: int = 1) -> int:
    """Cycles of running the listing once from top to bottom `times` times (each run entered by a jump)."""
    addrs = sorted(disasm)
    counts = Counter({a: times for a in addrs})
    sequential = Counter({a: times for a in addrs[1:]})
    return pf.estimate_cycles(disasm, counts, sequential)


def test_sizes_come_from_the_raw_bytes():
    d = listing("ldr r0, [r1]", "ldr.w r2, [r3, #4]", "adds r0, #1")
    assert [d[a].next_address - a for a in sorted(d)] == [2, 4, 2]


def test_independent_loads_pipeline_dependent_ones_do_not():
    assert straight(listing("ldr r0, [r1]", "ldr r2, [r3]")) == 3          # TRM: "normally three cycles"
    assert straight(listing("ldr r0, [r1]", "ldr r2, [r3]", "ldr r4, [r5]")) == 4
    assert straight(listing("ldr r0, [r1]", "ldr r2, [r0]")) == 4          # address needs the first result
    assert straight(listing("ldr.w r0, [r1], #4", "ldr r2, [r1]")) == 4    # write-back base: not pipelined


def test_a_load_not_entered_by_fall_through_is_not_pipelined():
    d = listing("ldr r0, [r1]", "ldr r2, [r3]")
    a0, a1 = sorted(d)
    assert pf.estimate_cycles(d, Counter({a0: 1, a1: 1}), Counter()) == 4


def test_stores_ldrd_and_ldm():
    assert straight(listing("str r0, [r1, #4]")) == 1                    # "always one cycle"
    assert straight(listing("str r0, [r1, r2]")) == 2                    # register offset
    assert straight(listing("str r0, [r1]", "ldr r2, [r3]")) == 1 + 3     # nothing pipelines after a store
    assert straight(listing("ldrd r0, r1, [r2]", "ldr r3, [r4]")) == 3 + 2
    assert straight(listing("ldmia r4!, {r0, r1, r2, r3}")) == 5          # 1 + N
    assert straight(listing("pop {r4, r5, pc}")) == 1 + 3 + pf.PIPELINE_REFILL


def test_address_generated_by_the_previous_instruction_stalls():
    assert straight(listing("adds r1, #4", "ldr r0, [r1]")) == 1 + 3
    assert straight(listing("adds r2, #4", "ldr r0, [r1]")) == 1 + 2
    assert straight(listing("cmp r1, #4", "ldr r0, [r1]")) == 1 + 2     # CMP writes no register


def test_conditional_branch_taken_from_fall_through_counts():
    # a loop body of two instructions run 10 times: the BNE is taken 9 times, falls through once
    d = listing("subs r0, #1", "bne.n 100", "adds r1, #1")
    sub, bne, after = sorted(d)
    counts = Counter({sub: 10, bne: 10, after: 1})
    sequential = Counter({sub: 0, bne: 10, after: 1})
    taken, not_taken = 9, 1
    assert pf.estimate_cycles(d, counts, sequential) == 10 + taken * (1 + pf.PIPELINE_REFILL) + not_taken + 1


def test_unconditional_branches_and_fpu():
    assert straight(listing("b.n 100")) == 1 + pf.PIPELINE_REFILL
    assert straight(listing("vmov s0, s1, r0, r1")) == 2
    assert straight(listing("vmov s0, r0")) == 1
    assert straight(listing("vmul.f32 s0, s0, s1")) == 1
    assert straight(listing("vmla.f32 s0, s0, s1")) == 3
    assert straight(listing("smlad r0, r1, r2, r0")) == 1


def test_plugin_output_with_more_fall_throughs_than_runs_is_refused(tmp_path):
    out = tmp_path / "insncount.txt"
    out.write_text("E 0 0 0\nE 1 1 5\nA 0x100 3 4\n")
    with pytest.raises(LenetEdgeError, match=r"insncount.txt: unparsable plugin output at line 3"):
        pf.read_plugin_output(out)


def test_spread_counts_taken_branches_and_literal_loads():
    d = listing("ldr r0, [pc, #8]", "subs r0, #1", "bne.n 100", "b.n 100", "pop {r4, pc}")
    lit, sub, bne, b, pop = sorted(d)
    counts = Counter({lit: 1, sub: 10, bne: 10, b: 2, pop: 1})
    sequential = Counter({sub: 1, bne: 10, b: 2, pop: 0})
    # BNE falls through twice (B ran twice by fall-through): taken 8; B taken 2; POP {pc} 1
    assert pf.estimate_spread(d, counts, sequential) == {"taken_branches": 8 + 2 + 1, "literal_loads": 1}
