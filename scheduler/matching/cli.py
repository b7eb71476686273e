"""`solve_matching IN.json [-o OUT.json] [--time-limit S]`: the command, without Django.

The Django management command and `python -m scheduler.matching` both call `main`. Exit
status: 0 when a valid result was written; 2 for anything wrong with the input or the output
file, with one line per problem on stderr and never a traceback.

`--time-limit` bounds the whole command, start-up and file I/O included, so the clock starts
at process start (read from /proc where available; otherwise when this module was imported)
and the search stops early enough to leave time for explanations and writing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import IO, Any

from scheduler.matching.instance import InstanceError, parse_instance

DEFAULT_TIME_LIMIT = 60.0
_IMPORTED_AT = time.monotonic()


def process_started_at() -> float:
    """When this process started, on the time.monotonic() clock (best effort)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            # Field 22 (starttime, clock ticks after boot) follows the parenthesised command
            # name, which may itself contain spaces.
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        age = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
        if 0 <= age < 86400:
            return time.monotonic() - age
    except (OSError, ValueError, IndexError):
        pass
    return _IMPORTED_AT


def build_parser(prog: str = "solve_matching") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Match open support needs to providers (support-matching/1)."
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("instance", help="instance file (support-matching/1 JSON)")
    parser.add_argument("-o", "--output", help="write the result here instead of stdout")
    parser.add_argument(
        "--time-limit",
        type=_positive_float,
        default=DEFAULT_TIME_LIMIT,
        help=f"seconds for the whole command, start-up and I/O included (default {DEFAULT_TIME_LIMIT:g})",
    )
    parser.add_argument("--workers", type=int, default=2, help="CP-SAT search threads (default 2)")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def read_instance_document(path: str) -> tuple[Any, list[str]]:
    """Decode the file; returns (document, problems) with problems as printable lines."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        return None, [f"{path}: cannot read the file: {e.strerror or e}"]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return None, [f"{path}: not UTF-8 text (byte {e.start})"]
    try:
        return json.loads(text, parse_constant=_reject_constant), []
    except json.JSONDecodeError as e:
        return None, [f"{path}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"]
    except ValueError as e:  # NaN / Infinity
        return None, [f"{path}: not valid JSON: {e}"]
    except RecursionError:
        return None, [f"{path}: not valid JSON: nested too deeply"]


def run(
    *,
    instance_path: str,
    output_path: str | None,
    time_limit: float,
    workers: int = 2,
    started_at: float | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """The command's body; returns the exit status."""
    from scheduler.matching.engine import solve_instance  # heavy imports (OR-Tools) only when needed

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    started_at = process_started_at() if started_at is None else started_at
    end = started_at + time_limit

    document, problems = read_instance_document(instance_path)
    if problems:
        _print_lines(stderr, problems)
        return 2
    try:
        instance = parse_instance(document)
    except InstanceError as e:
        _print_lines(stderr, [f"{instance_path}: {p}" for p in e.problems])
        return 2

    result = solve_instance(instance, end=end, workers=max(1, workers))
    text = json.dumps(result, ensure_ascii=False, indent=1) + "\n"
    if output_path is None:
        stdout.write(text)
        stdout.flush()
        return 0
    try:
        _write_atomically(output_path, text)
    except OSError as e:
        _print_lines(stderr, [f"{output_path}: cannot write the result: {e.strerror or e}"])
        return 2
    return 0


def _write_atomically(path: str, text: str) -> None:
    # Write beside the target and rename, so a reader never sees half a result.
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".solve_matching-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _print_lines(stream: IO[str], lines: list[str]) -> None:
    for line in lines:
        stream.write(line + "\n")
    stream.flush()


def main(argv: list[str] | None = None, *, started_at: float | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(
        instance_path=args.instance,
        output_path=args.output,
        time_limit=args.time_limit,
        workers=args.workers,
        started_at=started_at,
    )
