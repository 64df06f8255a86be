"""The one exception the package raises for anything the library refuses."""


class LoupeError(Exception):
    """A failure reported by the C library (or a bad argument caught before
    the call): str(error) is the library's one-line message, naming the file,
    field or offset at fault; `status` is the library's name for the kind of
    failure ("format error", "invalid argument", ...)."""

    def __init__(self, message, status="invalid argument"):
        super().__init__(message)
        self.status = status
