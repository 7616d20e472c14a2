"""The foundation every other layer stands on: settings, database engines and sessions, the
schema and its migrations, the typed ORM models, errors, name lookups and file helpers.

Nothing here knows about HTTP, models' weights or statistics.
"""
