# ARM MPS2 with AN386 (Cortex-M4F). QEMU machine mps2-an386. Console and image input through
# semihosting (QEMU -semihosting-config enable=on; on the real board, a debugger with semihosting).
BOARD        := mps2-an386
CPU          := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
BOARD_DEFS   := -DLE_QEMU_EXIT
INPUT        ?= semihost
QEMU_MACHINE := mps2-an386
