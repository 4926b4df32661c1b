"""The project's error class: bad input or a missing file, with a message that says what to do.

Standard library only, so the device side can raise it too.
"""

__all__ = ["SklkwsError"]


class SklkwsError(ValueError):
    """A user-facing error: the message names the problem and what to do.

    A subclass of ``ValueError`` (what bad input raises throughout the project);
    ``sklkws`` on the command line prints it as one line instead of a traceback.
    """
