/* MPS2 AN386 (Cortex-M4F) vector table and reset. CMSDK-M4 has 32 external interrupts. */
#define LE_IRQS 32
#include "le_vectors.h"
