"""Settings and helpers shared by the hardening tests (hostile input, backups, faults).

Hypothesis runs a fixed, modest number of examples per test, derandomized so that CI sees
the same examples on every run; its example database is off so nothing is written to disk.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, settings

# Each example shares the test's database, so the tests use fresh names per example.
HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def assert_one_error_line(code: int, out: str, err: str, *fragments: str) -> None:
    """The CLI's contract for a user error: exit 1, nothing on stdout, one line on stderr."""
    assert code == 1, (code, out, err)
    assert out == "", out
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path
