"""Everything that imports torch lives in this package: model, training, quantization, export."""
