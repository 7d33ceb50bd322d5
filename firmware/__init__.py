"""Firmware sources shipped with lenet-edge (board folders, shared C, the QEMU plugin).

Found at run time with importlib.resources.files("lenet_edge.firmware"); see
lenet_edge/device/firmware.py for how a board project is assembled from these files.
"""
