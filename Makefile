# lenet-edge: `make demo` runs the whole pipeline on the embedded data; `make test` runs the suite.
# Both create .venv, install the package and (as root) the system toolchain first.

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
RUN     ?= runs/lenet5

.PHONY: all setup toolchain demo test clean

all: test

# torch is installed on its own first with its exact pin, so pip takes the local CPU wheel
# and never resolves a CUDA build through another requirement.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(STAMP) toolchain

# Installs gcc-arm-none-eabi, newlib, qemu-system-arm, clang and valgrind as root; else prints the
# command. Under CI=true a missing toolchain fails here.
toolchain:
	@bash scripts/toolchain.sh

# The official MNIST test set beside the repo (if present) is used for every reported accuracy.
TEST_DIR ?= $(abspath $(wildcard ../shared/data/mnist))
export LENET_EDGE_TEST_DIR ?= $(TEST_DIR)
LE := $(BIN)/lenet-edge

demo: setup
	$(LE) train --run $(RUN)
	$(LE) summary
	$(LE) export --target onnx --run $(RUN)
	$(LE) export --target c --run $(RUN)
	$(LE) verify --run $(RUN)
	$(LE) export --target firmware --board mps2-an386 --run $(RUN)
	$(LE) run --board mps2-an386 --images 1000 --profile 1 --run $(RUN)
	$(LE) report --run $(RUN)

test: setup
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) build *.egg-info runs
