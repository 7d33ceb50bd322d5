/* STM32F405 (Cortex-M4F) vector table and reset. The STM32F405 has 82 external interrupts. */
#define LE_IRQS 82
#include "le_vectors.h"
