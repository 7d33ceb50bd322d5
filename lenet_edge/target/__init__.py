"""Cortex-M targets: firmware projects, QEMU runs, flashing."""
