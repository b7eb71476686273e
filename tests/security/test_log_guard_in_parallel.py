"""The log guard fails a parallel run too: `make test` runs the suite in pytest-xdist workers.

A worker's findings reach the controller (tests/log_guard.py), which must fail the run and name
the line; a run without findings passes. Real pytest runs in subprocesses, one per mode.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LEAKING = '''
import logging


def test_a_line_with_a_cpr_like_number():
    logging.getLogger("plejenet.demo").warning("sagsnummer 010203-1234")


def test_a_clean_line():
    logging.getLogger("plejenet.demo").warning("nothing personal here")
'''


def run_pytest(tmp_path: Path, source: str, workers: str) -> subprocess.CompletedProcess:
    test_file = tmp_path / "test_leaky.py"
    test_file.write_text(source, encoding="utf-8")
    command = [
        sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
        "-p", "tests.log_guard", "-p", "no:cacheprovider", "-n", workers, str(test_file),
    ]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)  # noqa: S603


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_leaked_line_fails_the_run_and_is_named(tmp_path, workers):
    result = run_pytest(tmp_path, LEAKING, workers)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
    assert "personal data or secrets in logs" in result.stdout
    assert "test_a_line_with_a_cpr_like_number: CPR-like number '010203-1234'" in result.stdout


def test_a_clean_parallel_run_passes(tmp_path):
    result = run_pytest(tmp_path, LEAKING.split("def test_a_line_with")[0] + "def test_a_clean_line():\n    pass\n", "2")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "no names, CPR-like numbers or tokens in them" in result.stdout
