"""Errors that are the user's to fix: the CLI prints them as one line and exits 1."""


class ReviewError(Exception):
    """A user-facing error with a message that says what is wrong and, where useful, what to do."""
