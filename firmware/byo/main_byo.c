/* lenet-edge firmware main for a model compiled by `lenet-edge compile`: run the model on every
 * input compiled into flash (byo_inputs.h, generated) and print each output, bit for bit, as hex.
 *
 *   BYO BOOT board=<name>
 *   Y <index> <rc> <hex of each output element>   float32 as its bit pattern, codes as unsigned bytes
 *   BYO DONE <n>
 */
#include <stdint.h>
#include <string.h>

#include "le_board.h"
#include "le_print.h"
#include "byo_inputs.h"

void le_fault_enable(void);

__attribute__((noinline)) void le_profile_begin(void) { __asm__ volatile(""); }
__attribute__((noinline)) void le_profile_end(void) { __asm__ volatile(""); }

static uint32_t bits_of(const le_out_t *v)
{
    uint32_t u = 0;
    if (sizeof(le_out_t) == 4) {
        memcpy(&u, v, 4);
    } else {
        u = *(const uint8_t *)v;
    }
    return u;
}

int main(void)
{
    static le_out_t out[LE_BYO_OUTPUT_SIZE];
    const uint32_t count = LE_BYO_COUNT;   /* a variable: with no inputs (0u), i < 0u draws -Wtype-limits */
    uint32_t i;

    le_fault_enable();
    le_line_begin();
    le_line_str("BYO BOOT board=");
    le_line_str(le_board_name);
    le_line_end();
    for (i = 0; i < count; ++i) {
        int rc, k;
        le_profile_begin();
        rc = LE_BYO_RUN(le_byo_inputs[i], out);
        le_profile_end();
        le_line_begin();
        le_line_str("Y ");
        le_line_i32((int32_t)i);
        le_line_str(" ");
        le_line_i32(rc);
        for (k = 0; k < LE_BYO_OUTPUT_SIZE; ++k) {
            le_line_str(" ");
            le_line_hex(bits_of(&out[k]));
        }
        le_line_end();
    }
    le_line_begin();
    le_line_str("BYO DONE ");
    le_line_i32((int32_t)LE_BYO_COUNT);
    le_line_end();
    le_exit(0);
}
