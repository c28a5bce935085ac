"""The one error type for bad input: its message names the file, the place and the reason."""


class DataError(ValueError):
    """Input data or settings the pipeline cannot use as they are."""
