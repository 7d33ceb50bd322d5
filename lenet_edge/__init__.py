"""lenet-edge: LeNet-5 from training to a bit-exact int8 C build on a Cortex-M."""

__version__ = "0.1.0"
