"""Small judgment frames built by hand, for tests whose expected values are worked out in
comments."""

from __future__ import annotations

import pandas as pd
import pytest


def judgment_frame(rows: list[tuple], **columns) -> pd.DataFrame:
    """Judgments from ``(item, rater, model_left, model_right, choice)`` tuples; extra columns
    (one value or one per row) come as keyword arguments."""
    frame = pd.DataFrame(rows, columns=["item", "rater", "model_left", "model_right", "choice"])
    for name, value in columns.items():
        frame[name] = value
    return frame


@pytest.fixture
def make_judgments():
    return judgment_frame
