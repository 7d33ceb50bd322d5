"""The interface every lenet-edge ONNX model has (docs/onnx-contract.md), as plain data.

Checked where a model is read: lenet_edge/check/ort.py (evaluate, verify, run: the session's input
and output metadata) and lenet_edge/compiler/frontend.py (export --target c: the output names).
`None` in a shape is the batch dimension (any size).
"""
INPUT = "image"
INPUT_TYPE = "uint8"
INPUT_SHAPE = (None, 1, 28, 28)
# output name -> (allowed element types, shape). scores are int32 in the int8 model, float in the float one.
OUTPUTS = {
    "scores": (("int32", "float"), (None, 10)),
    "label": (("int64",), (None,)),
}
SCORES, LABEL = OUTPUTS
