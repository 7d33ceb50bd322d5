/* Images compiled into flash by images.S (.incbin of the IMAGES file given to make). */
#include <string.h>

#include "le_input.h"

extern const uint8_t le_images_start[], le_images_end[];

int le_input_open(void) {
    return (int)((le_images_end - le_images_start) / LE_IMAGE_BYTES);
}

int le_input_read(uint32_t index, uint8_t image[LE_IMAGE_BYTES]) {
    memcpy(image, le_images_start + (size_t)index * LE_IMAGE_BYTES, LE_IMAGE_BYTES);
    return 0;
}
