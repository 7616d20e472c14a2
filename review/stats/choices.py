"""The four answers a reviewer can give about two answers shown side by side.

``left`` and ``right`` name the side that was better, ``tie`` says they are as good, and
``both_bad`` that neither is acceptable. Everything else (the database's check constraint,
vote validation, the statistics' outcome coding) reads them from here.
"""

CHOICES = ("left", "right", "tie", "both_bad")
