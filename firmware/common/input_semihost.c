/* Images from a host file through semihosting: LE_IMAGES_FILE (default "images.bin", relative to
 * the folder QEMU runs in), N x 784 bytes read in order. */
#include "le_input.h"
#include "le_semihost.h"

#ifndef LE_IMAGES_FILE
#define LE_IMAGES_FILE "images.bin"
#endif

static int fd = -1;

int le_input_open(void) {
    fd = le_sh_open(LE_IMAGES_FILE);
    if (fd < 0) return -1;
    int bytes = le_sh_flen(fd);
    return bytes < 0 ? -1 : bytes / LE_IMAGE_BYTES;
}

int le_input_read(uint32_t index, uint8_t image[LE_IMAGE_BYTES]) {
    (void)index;  /* read sequentially: main asks for 0, 1, 2, ... */
    return le_sh_read(fd, image, LE_IMAGE_BYTES) == LE_IMAGE_BYTES ? 0 : -1;
}
