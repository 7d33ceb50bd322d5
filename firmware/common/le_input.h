/* Where the test images come from: semihosting file reads (input_semihost.c) or a batch compiled
 * into flash (input_batch.c + images.S). Chosen per board by INPUT in board.mk. Each image is 784
 * raw MNIST bytes, row-major 28x28, 0 = background, 255 = ink. */
#ifndef LE_INPUT_H
#define LE_INPUT_H

#include <stdint.h>

#define LE_IMAGE_BYTES 784

int le_input_open(void);                               /* number of images, or -1 if unavailable */
int le_input_read(uint32_t index, uint8_t image[LE_IMAGE_BYTES]);  /* 0 ok, -1 on error */

#endif
