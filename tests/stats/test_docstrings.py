"""Every example in the docstrings of review.stats runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import review.stats

MODULES = ["review.stats"] + [
    f"review.stats.{info.name}" for info in pkgutil.iter_modules(review.stats.__path__)
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
