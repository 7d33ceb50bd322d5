"""Host checks: the ONNX Runtime oracle, host builds of the generated C, comparisons."""
