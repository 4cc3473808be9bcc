"""Errors a user can fix. The CLI prints them as one line, without a traceback."""


class UserError(Exception):
    """Bad input or settings: the message names the file, the line and the problem."""
