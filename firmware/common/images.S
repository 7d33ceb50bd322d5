/* The image batch for INPUT=batch boards: raw bytes of LE_IMAGES_FILE (N x 784), kept in flash. */
    .section .rodata.le_images, "a"
    .balign 4
    .global le_images_start
le_images_start:
    .incbin LE_IMAGES_FILE
    .global le_images_end
le_images_end:
