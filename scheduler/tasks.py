"""django-q2 task functions: thin shells that take primary keys, load, and call one service."""

from __future__ import annotations


def run_matching(run_id: int) -> str:
    from scheduler.services.matching import execute_matching_run

    run = execute_matching_run(run_id=run_id)
    return run.status
