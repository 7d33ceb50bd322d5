/* le_opt.h: what the optimized kernels (kernels/opt) add to le_common.h: the requantization with
 * the Cortex-M4F/M7 rounding instruction where the core has one. Every opt kernel that
 * requantizes includes this instead of le_requant.h. */
#ifndef LE_OPT_H
#define LE_OPT_H

#include "le_common.h"

/* ARMv7E-M with a single-precision FPU (Cortex-M4F, M7): round the float product with VCVTR
 * (round to nearest even in the default FPSCR mode, as the portable magic-number trick also
 * assumes), then QADD the zero point and SSAT to 8 bits: 7 instructions instead of about 14.
 * docs/int8-arithmetic.md, section 3a. */
#if !LENET5_REQUANT_INT && defined(__GNUC__) && defined(__ARM_FP) && (__ARM_FP & 4) && \
    defined(__ARM_FEATURE_DSP) && defined(__thumb2__) && !defined(LE_REQUANT_PORTABLE)
#define LE_REQUANT_VCVTR 1
#endif

#include "le_requant.h"

#endif /* LE_OPT_H */
