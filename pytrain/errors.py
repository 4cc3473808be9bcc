"""Errors a user can fix. Library code raises them (they are `ValueError`s); the command line
prints them as one line, without a traceback, and exits with status 2."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input: the message names the file and line, or the setting, and the problem."""


class ConfigError(UserError):
    """A setting out of range. `field` is the `FitConfig` field; the command line shows it as its flag."""

    def __init__(self, field: str, value, problem: str):
        super().__init__(f"{field} = {value!r}: {problem}")
        self.field, self.value, self.problem = field, value, problem
