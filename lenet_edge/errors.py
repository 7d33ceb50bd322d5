"""The one exception type the CLI turns into a one-line error and a non-zero exit."""


class LenetEdgeError(Exception):
    """A user-facing failure. The message names the file or node and the problem, in one line."""
