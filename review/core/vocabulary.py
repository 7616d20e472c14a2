"""The platform's fixed words and sizes: model kinds, roles, statuses, name lengths.

Plain constants (and the two small functions that read a judge's order) with no imports, so
that the command line can offer them as choices without loading the database layer. The
schema (:mod:`review.core.models`) builds its check constraints and column sizes from them.
"""

# Names (models, studies, prompt sets, prompt ids, categories, accounts): VARCHAR columns.
NAME_LENGTH = 200
THROTTLE_KEY_LENGTH = 300

# ``external``: answers generated elsewhere and imported (``review answers import``), no weights.
MODEL_KINDS = ("base", "finetune", "adapter", "endpoint", "external")
ROLES = ("reviewer", "analyst", "admin")
# Human raters log in and vote; llm raters are model judges whose verdicts never count in a
# human figure.
RATER_KINDS = ("human", "llm")
# The order a judge saw a pair in: the item's first answer as A (``ab``) or as B (``ba``).
# Assistant A is the answer shown first, on the left.
JUDGE_ORDERS = ("ab", "ba")
# Gold answers are stated against the comparison's own generations, never left/right.
GOLD_LABELS = ("a", "b", "tie", "both_bad")
ASSIGNMENT_STATUSES = ("leased", "done", "skipped", "expired")
STUDY_STATUSES = ("active", "paused", "closed")


def judge_left_right(order, first, second):  # noqa: ANN001, ANN201 - any pair of values
    """``(left, right)``: the item's first and second answer, or whatever stands for each (its
    generation, its model, the letters ``"a"`` and ``"b"``), as a judge saw them in ``order``;
    the left one was Assistant A.

    Example:
        >>> judge_left_right("ab", "first", "second"), judge_left_right("ba", "first", "second")
        (('first', 'second'), ('second', 'first'))
    """
    return (first, second) if order == JUDGE_ORDERS[0] else (second, first)


def judge_order(*, first_on_left: bool) -> str:
    """The order a judge saw an item in, from whether the item's first answer was on the left
    (Assistant A): the inverse of :func:`judge_left_right`.

    Example:
        >>> judge_order(first_on_left=True), judge_order(first_on_left=False)
        ('ab', 'ba')
    """
    return JUDGE_ORDERS[0] if first_on_left else JUDGE_ORDERS[1]


# Reviewers per item of a new study unless it says otherwise.
DEFAULT_OVERLAP = 3
