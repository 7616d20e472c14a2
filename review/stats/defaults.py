"""Defaults of the statistics that callers outside :mod:`review.stats` offer too (the command
line's options, the API's and the dashboard's parameters, the report).

Plain constants with no imports, so that the command line reads them without loading a
numerical library.
"""

# Bootstrap rounds of every interval unless a caller asks for another number.
DEFAULT_BOOTSTRAP = 1000
