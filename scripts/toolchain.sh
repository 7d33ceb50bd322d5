#!/usr/bin/env bash
# Make sure the system toolchain is present: Arm cross compiler + newlib, QEMU, clang, valgrind,
# OpenOCD, make, CMake (the test that builds the generated CMakeLists.txt)
# and chromium (headless, for the report page test).
# As root it installs the missing pieces with apt-get; otherwise it prints the command to run.
# Under CI=true a toolchain that is still missing fails the run (exit 1), never a silent skip.
set -u
PKGS="gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm clang valgrind openocd make cmake chromium"
missing() {
    command -v arm-none-eabi-gcc >/dev/null || return 0
    command -v qemu-system-arm >/dev/null || return 0
    command -v clang >/dev/null || return 0
    command -v valgrind >/dev/null || return 0
    command -v openocd >/dev/null || return 0
    command -v make >/dev/null || return 0
    command -v cmake >/dev/null || return 0
    command -v chromium >/dev/null || return 0
    # newlib: the cross compiler must find its C library headers.
    echo '#include <string.h>' | arm-none-eabi-gcc -x c -c -o /dev/null - 2>/dev/null || return 0
    return 1
}
if ! missing; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "toolchain: installing $PKGS"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $PKGS >/dev/null || true
fi
if missing; then
    echo "toolchain: missing; run: sudo apt-get install --no-install-recommends $PKGS" >&2
    if [ "${CI:-}" = "true" ]; then exit 1; fi
fi
exit 0
