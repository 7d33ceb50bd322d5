"""The one exception type the CLI turns into a one-line error and a non-zero exit."""


class LenetEdgeError(Exception):
    """A user-facing failure. The message names the file or node and the problem, in one line."""


def require_onnx(path):
    """`path` as a Path if the exported ONNX file exists, else the one-line error saying how to make it."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise LenetEdgeError(f"{path}: no such model file (run `lenet-edge export --target onnx`)")
    return path
