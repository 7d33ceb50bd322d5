"""The device side: Cortex-M firmware projects, QEMU runs, instruction profiles, flashing."""
