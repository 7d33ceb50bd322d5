# Netduino Plus 2: STM32F405RG (Cortex-M4F, 1 MiB flash, 128 KiB SRAM + 64 KiB CCM). QEMU machine
# netduinoplus2. Console on USART1 (PA9 TX / PA10 RX, 115200 8N1): QEMU connects USART1 to its
# first serial port. Images compiled into flash (INPUT=batch); semihosting only with -DLE_QEMU_EXIT.
# Other STM32F405/407 boards: set the crystal, e.g. make DEFS=-DLE_HSE_HZ=8000000 (STM32F4DISCOVERY).
BOARD        := netduinoplus2
CPU          := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
BOARD_DEFS   :=
INPUT        ?= batch
QEMU_MACHINE := netduinoplus2
