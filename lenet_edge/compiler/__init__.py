"""ONNX -> C. Imports onnx, numpy and jinja2; never torch or onnxruntime."""
