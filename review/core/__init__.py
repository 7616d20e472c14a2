"""The foundation every other layer stands on: settings, database engines and sessions, the
schema and its migrations, the typed ORM models, errors, name lookups, the queries several
layers share (regular items, items with their answers, raters of one kind) and file helpers.

Nothing here knows about HTTP, models' weights or statistics.
"""
