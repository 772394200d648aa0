"""The error family: one line a person can act on, and the exit code it maps to.

Errors are raised where the fact is known and turned into a message and an exit
code once, at the task boundary (``release.core.console.fail``). No traceback reaches
a user unless ``--debug`` (``RELEASE_DEBUG=1``) asks for it.
"""

from __future__ import annotations


class ReleaseError(Exception):
    """Something about the repository, configuration or the world refused: exit 1."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}: {self.hint}"
        return self.message


class UsageError(ReleaseError):
    """The command line is wrong (a malformed tag or version, a bad flag value): exit 2."""

    exit_code = 2


class ConfigError(ReleaseError):
    """``[tool.release]`` is invalid; the message starts with the offending key path."""


class PreflightError(ReleaseError):
    """One or more pre-flight checks refused; every problem is listed at once."""

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} pre-flight checks failed: " + "; ".join(self.problems)
        super().__init__(message)


class StepError(ReleaseError):
    """A step failed after it started; the message says what was done and how to finish."""
