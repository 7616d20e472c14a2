"""Errors that are the user's to fix: the CLI prints them as one line and exits 1, the web
app shows the message (and answers an API client with a 4xx status)."""


class ReviewError(Exception):
    """A user-facing error with a message that says what is wrong and, where useful, what to do."""


class NotFound(ReviewError):
    """Something that does not exist *for this account* (an assignment, a study).

    Another reviewer's assignment gets the same answer as an unknown id, so that ids
    cannot be probed.
    """


class PermissionDenied(ReviewError):
    """The account may not do this (not logged in, inactive, wrong role, not on the study)."""
