"""The converters' error type."""


class MatFileError(ValueError):
    """A MAT-file (or ONNX file) that cannot be read or does not hold what was asked for.

    A ``ValueError``, so callers catching bad input catch it too. The message names the file and,
    where it applies, the variable, layer or property and what was expected.
    """
