# TI Stellaris LM3S6965 evaluation board (Cortex-M3, no FPU: the generated code takes its
# integer-only requant path). 256 KiB flash, 64 KiB SRAM. QEMU machine lm3s6965evb. Console on
# UART0 (PA0 RX / PA1 TX, 115200 8N1; the EK-LM3S6965's USB virtual COM port). Images compiled into
# flash (INPUT=batch; about 200 per build); semihosting only with -DLE_QEMU_EXIT.
BOARD        := lm3s6965evb
CPU          := -mcpu=cortex-m3 -mthumb -mfloat-abi=soft
BOARD_DEFS   :=
INPUT        ?= batch
QEMU_MACHINE := lm3s6965evb
