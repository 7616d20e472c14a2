"""Fixtures shared by the report and export tests."""

from __future__ import annotations

import pytest

from review.core.db import session_scope
from tests.reports.simulate import demo_run


@pytest.fixture
def demo(engine, request):
    """The three-checkpoint run of tests/reports/simulate.py, committed, with ``DEMO_ITEMS``
    items per study as the test module sets it (40 when it does not); returns the engine."""
    with session_scope(engine, write=True) as session:
        demo_run(session, n_items=getattr(request.module, "DEMO_ITEMS", 40))
    return engine
