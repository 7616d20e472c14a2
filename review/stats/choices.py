"""The four answers a reviewer can give about two answers shown side by side.

``left`` and ``right`` name the side that was better, ``tie`` says they are as good, and
``both_bad`` that neither is acceptable. Everything else (the database's check constraint,
vote validation, the statistics' outcome coding) reads them from here.
"""

CHOICES = ("left", "right", "tie", "both_bad")
# How much better the chosen answer is, as reviewers are asked it (the database's check
# constraint, vote validation, imports and the ordinal agreement scale read it from here).
STRENGTHS = {1: "slightly", 2: "clearly", 3: "much better"}
# The choices that take a strength: a vote for one answer.
GRADED_CHOICES = ("left", "right")


def takes_strength(choice: str) -> bool:
    """Whether a vote of ``choice`` may carry a strength.

    Example:
        >>> takes_strength("left"), takes_strength("tie")
        (True, False)
    """
    return choice in GRADED_CHOICES
