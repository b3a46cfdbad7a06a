"""Errors a user can act on.

A ``LoaderError`` carries one line that names the input and says what to do next; the command
line prints it without a traceback and exits non-zero.
"""


class LoaderError(Exception):
    """A failure with a message meant for the person running the command."""


class BadInputError(LoaderError):
    """The input file (or object) cannot be loaded as a whole; nothing was changed."""


class UnreachableError(LoaderError):
    """A database or store could not be reached; nothing was changed."""
