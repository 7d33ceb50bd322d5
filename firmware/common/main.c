/* lenet-edge firmware main: self-test, then classify every input image and print one parseable
 * line per image, the stack high-water mark, and a final sentinel printed only after all of it ran.
 *
 *   LENET5 BOOT board=<name>
 *   SELFTEST <rc>                       rc of lenet5_selftest(): 0 pass, 1+i first failing golden
 *   R <index> <label> <s0> ... <s9>     one per image; scores as returned by lenet5_predict
 *   STACK <bytes> of <reserved>         stack high-water mark (painting)
 *   LENET5 DONE <n> selftest=<rc>       sentinel; exit code 0 iff selftest passed and input ok
 *
 * -DLENET5_PROFILE: defines the marker lenet5_profile_mark() the generated code calls and the
 * window markers le_profile_begin/le_profile_end that the QEMU instruction-count plugin keys on.
 * -DLE_FAULT_TEST=1 (undefined instruction), =2 (read from unmapped memory; BusFault where the
 * machine reports bus errors: not QEMU's lm3s6965evb) or =3 (integer divide by zero, trapped by
 * CCR.DIV_0_TRP): deliberately fault after boot, to test the fault handler. */
#include <stdint.h>

#include "le_board.h"
#include "le_input.h"
#include "le_print.h"
#include "le_stack.h"
#include "lenet5.h"

#define LE_EXIT_SELFTEST 1
#define LE_EXIT_INPUT 2

void le_fault_enable(void);

#ifdef LENET5_PROFILE
/* Empty, never inlined: the plugin counts instructions between executions of these addresses. */
__attribute__((noinline)) void lenet5_profile_mark(int layer) { (void)layer; __asm__ volatile(""); }
__attribute__((noinline)) void le_profile_begin(void) { __asm__ volatile(""); }
__attribute__((noinline)) void le_profile_end(void) { __asm__ volatile(""); }
#else
static inline void le_profile_begin(void) {}
static inline void le_profile_end(void) {}
#endif

static void deliberate_fault(void) {
#if defined(LE_FAULT_TEST) && LE_FAULT_TEST == 1
    __asm__ volatile("udf #0");
#elif defined(LE_FAULT_TEST) && LE_FAULT_TEST == 2
    (void)*(volatile uint32_t *)0xDEAD0000u;  /* unmapped on every supported board */
#elif defined(LE_FAULT_TEST) && LE_FAULT_TEST == 3
    volatile int zero = 0, one = 1;   /* both volatile, so GCC must emit SDIV */
    volatile int quotient = one / zero;
    (void)quotient;
#endif
}

static void print_result(uint32_t index, int label, const int32_t scores[10]) {
    le_line_begin();
    le_line_str("R ");
    le_line_i32((int32_t)index);
    le_line_str(" ");
    le_line_i32(label);
    for (int k = 0; k < 10; k++) {
        le_line_str(" ");
        le_line_i32(scores[k]);
    }
    le_line_end();
}

int main(void) {
    static uint8_t image[LE_IMAGE_BYTES];  /* static: keeps the measured stack to the model's own */
    int32_t scores[10];

    le_fault_enable();
    le_line_begin();
    le_line_str("LENET5 BOOT board=");
    le_line_str(le_board_name);
    le_line_end();
    deliberate_fault();

    int selftest = lenet5_selftest();
    le_line_begin();
    le_line_str("SELFTEST ");
    le_line_i32(selftest);
    le_line_end();

    int n = le_input_open();
    if (n < 0) {
        le_puts("ERROR cannot open the images input");
        return LE_EXIT_INPUT;
    }
    for (int i = 0; i < n; i++) {
        if (le_input_read((uint32_t)i, image) != 0) {
            le_puts("ERROR short read from the images input");
            return LE_EXIT_INPUT;
        }
        le_profile_begin();
        int label = lenet5_predict(image, scores);
        le_profile_end();
        print_result((uint32_t)i, label, scores);
    }

    le_line_begin();
    le_line_str("STACK ");
    le_line_i32((int32_t)le_stack_peak());
    le_line_str(" of ");
    le_line_i32((int32_t)le_stack_size());
    le_line_end();

    le_line_begin();
    le_line_str("LENET5 DONE ");
    le_line_i32(n);
    le_line_str(" selftest=");
    le_line_i32(selftest);
    le_line_end();
    return selftest == 0 ? 0 : LE_EXIT_SELFTEST;
}
