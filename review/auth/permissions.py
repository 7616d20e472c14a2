"""Who may do what: each role's allowed actions, checked on every request.

The one place that maps roles to actions. The web app asks "may this account do
``view_results``?" and never compares role names itself; the menus it hides are a
convenience, this check is the rule.

=================  ==========================================================  ==============
action             what it covers                                              roles
=================  ==========================================================  ==============
``review``         lease items, vote, skip, change a vote (on own studies)     all roles
``view_results``   progress of every study, results, reports, exports          analyst, admin
``administer``     accounts, putting reviewers on studies, study settings      admin
=================  ==========================================================  ==============

Example::

    reviewer = require_account(session=session, name=request.username, action="view_results")
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from review.core.errors import PermissionDenied
from review.core.models import ROLES, Reviewer

ACTIONS = ("review", "view_results", "administer")
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "reviewer": frozenset({"review"}),
    "analyst": frozenset({"review", "view_results"}),
    "admin": frozenset({"review", "view_results", "administer"}),
}
assert set(ROLE_ACTIONS) == set(ROLES)


def may(role: str, action: str) -> bool:
    """True when accounts of ``role`` may do ``action``.

    Example:
        >>> may("analyst", "view_results"), may("reviewer", "view_results")
        (True, False)
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return action in ROLE_ACTIONS.get(role, frozenset())


def roles_allowed(action: str) -> tuple[str, ...]:
    """The roles that may do ``action``, in the order of :data:`review.core.models.ROLES`."""
    return tuple(role for role in ROLES if may(role, action))


@lru_cache(maxsize=None)
def _account_statement():  # noqa: ANN202 - Select, built once: it runs on every request
    return select(Reviewer).where(Reviewer.name == bindparam("name"))


def require_account(*, session: Session, name: str | None, action: str = "review") -> Reviewer:
    """The active account called ``name`` if its role may do ``action``.

    Raises :class:`~review.core.errors.PermissionDenied` otherwise (also for ``None``: not
    logged in). Called on every request, so deactivating an account or changing its role
    takes effect at once.
    """
    if not name:
        raise PermissionDenied("please log in")
    reviewer = session.scalar(_account_statement(), {"name": name})
    if reviewer is None or not reviewer.active:
        raise PermissionDenied("this account is not active")
    if not may(reviewer.role, action):
        raise PermissionDenied(f"this needs one of the roles: {', '.join(roles_allowed(action))}")
    return reviewer
