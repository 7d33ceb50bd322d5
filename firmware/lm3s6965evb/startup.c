/* LM3S6965 (Cortex-M3, no FPU) vector table and reset. The LM3S6965 has 48 interrupt vectors. */
#define LE_IRQS 48
#include "le_vectors.h"
