/* insncount: a QEMU TCG plugin that counts executed guest instructions between marker addresses.
 *
 * Built with the host compiler as a shared object (lenet_edge/device/profile.py does it):
 *   gcc -shared -fPIC -O2 -o libinsncount.so insncount.c
 * Loaded with:
 *   qemu-system-arm ... -icount shift=0 -plugin ./libinsncount.so,out=FILE,lo=0x..,hi=0x..,
 *       event=0xADDR:SIZE[,event=...]
 * Every executed instruction in [lo, hi) is counted per address; instructions inside an event
 * function [ADDR, ADDR+SIZE) are not counted (the marker's own cost is not the model's). When the
 * first instruction of event function k runs, the plugin writes the interval that just ended:
 *   E <seq> <k> <instructions in the interval>
 *   A <address> <count> <sequential>   (one line per address executed in the interval)
 * <sequential> is how many of those executions came straight from the instruction just before it
 * in memory (fall-through, no branch taken in between). The cycle model of profile.py needs it: a
 * conditional branch's not-taken count is its successor's sequential count, and a load pipelines
 * only with the load that really ran just before it.
 * Counting starts at the first event. Exact and repeatable: TCG executes guest instructions one
 * by one under -icount, and the count does not depend on host timing.
 *
 * Debian's QEMU ships no plugin header, so the few declarations used are written out below; they
 * follow QEMU 7.2's include/qemu/qemu-plugin.h (plugin API version 1). */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU 7.2 plugin API (subset) ---- */
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;   /* only passed through */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);
#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

/* ---- state (one vCPU: Cortex-M machines are single-core) ---- */
#define MAX_EVENTS 8
static uint64_t lo, hi;                 /* counted address range, halfword slots */
static uint64_t *counts;                /* [(hi - lo) / 2] executions per address this interval */
static uint64_t *sequential;            /* [(hi - lo) / 2] of those, entered by fall-through */
static uint8_t *halfwords;              /* [(hi - lo) / 2] instruction length in halfwords (1 or 2) */
static uint64_t next_slot = UINT64_MAX; /* slot right after the last counted instruction */
static uint64_t interval_total, seq;
static bool started;
static struct { uint64_t addr, size; } events[MAX_EVENTS];
static int n_events;
static FILE *out;

static int event_at(uint64_t addr, bool *inside) {
    *inside = false;
    for (int k = 0; k < n_events; k++) {
        if (addr >= events[k].addr && addr < events[k].addr + events[k].size) {
            *inside = true;
            if (addr == events[k].addr) return k;
        }
    }
    return -1;
}

static void on_insn(unsigned int vcpu, void *udata) {
    (void)vcpu;
    if (!started) return;
    uintptr_t slot = (uintptr_t)udata;
    counts[slot]++;
    if (slot == next_slot) sequential[slot]++;
    next_slot = slot + halfwords[slot];
    interval_total++;
}

static void on_event(unsigned int vcpu, void *udata) {
    (void)vcpu;
    if (started) {
        fprintf(out, "E %" PRIu64 " %d %" PRIu64 "\n", seq, (int)(uintptr_t)udata, interval_total);
        for (uint64_t i = 0; i < (hi - lo) / 2; i++)
            if (counts[i])
                fprintf(out, "A 0x%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", lo + 2 * i, counts[i], sequential[i]);
        memset(counts, 0, sizeof(uint64_t) * ((hi - lo) / 2));
        memset(sequential, 0, sizeof(uint64_t) * ((hi - lo) / 2));
    } else {
        fprintf(out, "E %" PRIu64 " %d 0\n", seq, (int)(uintptr_t)udata);
    }
    seq++;
    interval_total = 0;
    next_slot = UINT64_MAX;   /* the marker call is a taken branch: its return is not a fall-through */
    started = true;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    for (size_t i = 0; i < qemu_plugin_tb_n_insns(tb); i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t addr = qemu_plugin_insn_vaddr(insn);
        bool inside;
        int k = event_at(addr, &inside);
        if (k >= 0)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_event, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)k);
        if (!inside && addr >= lo && addr < hi) {
            halfwords[(addr - lo) / 2] = (uint8_t)(qemu_plugin_insn_size(insn) / 2);
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_insn, QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)((addr - lo) / 2));
        }
    }
}

static void on_qemu_exit(qemu_plugin_id_t id, void *udata) {
    (void)id; (void)udata;
    if (out) {
        fprintf(out, "X %" PRIu64 "\n", seq);
        fclose(out);
        out = NULL;
    }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        char *v = strchr(argv[i], '=');
        if (!v) continue;
        *v++ = '\0';
        if (!strcmp(argv[i], "out")) path = v;
        else if (!strcmp(argv[i], "lo")) lo = strtoull(v, NULL, 0) & ~1ull;
        else if (!strcmp(argv[i], "hi")) hi = strtoull(v, NULL, 0);
        else if (!strcmp(argv[i], "event") && n_events < MAX_EVENTS) {
            char *colon;
            events[n_events].addr = strtoull(v, &colon, 0) & ~1ull;  /* drop the Thumb bit */
            events[n_events].size = *colon == ':' ? strtoull(colon + 1, NULL, 0) : 2;
            n_events++;
        }
    }
    if (!path || hi <= lo || n_events == 0) {
        qemu_plugin_outs("insncount: need out=FILE, lo=ADDR, hi=ADDR and at least one event=ADDR:SIZE\n");
        return -1;
    }
    counts = calloc((hi - lo) / 2 + 1, sizeof(uint64_t));
    sequential = calloc((hi - lo) / 2 + 1, sizeof(uint64_t));
    halfwords = calloc((hi - lo) / 2 + 1, 1);
    out = fopen(path, "w");
    if (!counts || !sequential || !halfwords || !out) {
        qemu_plugin_outs("insncount: cannot allocate counters or open the output file\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_qemu_exit, NULL);
    return 0;
}
