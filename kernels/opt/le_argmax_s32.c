/* le_argmax_s32: index of the largest of s[0..n), the first on ties. */
#include "le_common.h"

static int le_argmax_s32(const int32_t *s, int n)
{
    int best = 0;
    int i;
    for (i = 1; i < n; ++i) {
        if (s[i] > s[best]) {
            best = i;
        }
    }
    return best;
}
