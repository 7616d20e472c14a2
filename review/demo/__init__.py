"""The embedded default (``review demo``): the demo model and a ready-to-review campaign."""
