"""The platform's fixed words and sizes: model kinds, roles, statuses, name lengths.

Plain constants with no imports, so that the command line can offer them as choices without
loading the database layer. The schema (:mod:`review.core.models`) builds its check
constraints and column sizes from them.
"""

# Names (models, studies, prompt sets, prompt ids, categories, accounts): VARCHAR columns.
NAME_LENGTH = 200
THROTTLE_KEY_LENGTH = 300

MODEL_KINDS = ("base", "finetune", "adapter", "endpoint")
ROLES = ("reviewer", "analyst", "admin")
# Human raters log in and vote; llm raters are model judges whose verdicts never count in a
# human figure.
RATER_KINDS = ("human", "llm")
# The order a judge saw a pair in: the item's first answer as A (``ab``) or as B (``ba``).
JUDGE_ORDERS = ("ab", "ba")
# Gold answers are stated against the comparison's own generations, never left/right.
GOLD_LABELS = ("a", "b", "tie", "both_bad")
ASSIGNMENT_STATUSES = ("leased", "done", "skipped", "expired")
STUDY_STATUSES = ("active", "paused", "closed")

# Reviewers per item of a new study unless it says otherwise.
DEFAULT_OVERLAP = 3
