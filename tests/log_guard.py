"""No personal data in logs: a pytest plugin that reads every log line the test session writes.

For the whole session a handler with the production formatter and filters (copied from the
configured "console" handler: JSON, request ids, redaction) sits on the root logger and on every
logger that does not propagate to it (django-q's), and the access log is switched on
(`plejenet.access` is quiet in tests otherwise). Each line it formats is searched for

* children's and families' names: the demo's name lists (support/demo.py) and every child name,
  household name and user's full name saved during the session (the test fixtures and seed_demo);
* CPR-like numbers (DDMMYY-SSSS or DDMMYYSSSS with a plausible day and month);
* feed tokens (every `calendars.access.new_token()` issued) and API tokens (every `Token` saved).

Any match fails the run at the end, with the test that logged it and the line. A test that logs
such a value on purpose takes its findings back with `log_guard.take_findings(since=...)`
(tests/security/test_no_personal_data_in_logs.py does, to prove the detector catches each kind).

Under pytest-xdist (`make test`) each worker process reads its own lines and hands its findings
to the controller, which reports them and fails the run.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

import pytest

CPR_LIKE = re.compile(r"(?<!\w)(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])\d{2}-?\d{4}(?!\w)")
# Names saved at run time count from this length and with a letter: fuzzed names like "0" or "00"
# would otherwise match ids and times.
MIN_RUNTIME_NAME = 4


def demo_names() -> set[str]:
    """Every first name, child name and surname the demo data can give a person."""
    from support import demo

    names = set(demo._CHILD_NAMES)
    for women, men in demo._FIRST_NAMES.values():
        names |= set(women) | set(men)
    names |= {stem + ending for stem in demo._SURNAME_STEMS for ending in demo._SURNAME_ENDINGS}
    return names


@dataclass
class Finding:
    test: str
    kind: str
    value: str
    line: str

    def __str__(self) -> str:
        line = self.line if len(self.line) <= 400 else self.line[:400] + "..."
        return f"{self.test}: {self.kind} {self.value!r} in: {line}"


class LogGuard(logging.Handler):
    """A logging handler that formats like production and records lines holding personal data."""

    def __init__(self):
        super().__init__()
        self.names: set[str] = set()
        self.secrets: set[str] = set()
        self.static_names: set[str] = set()  # the demo's names: looked for in every test
        self.findings: list[Finding] = []
        self.lines_read = 0
        self.current_test = "(session start)"
        self._terms_lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    # --- what to look for ---------------------------------------------------------------------------

    def add_name(self, name: str, *, runtime: bool = True) -> None:
        name = (name or "").strip()
        if runtime and (len(name) < MIN_RUNTIME_NAME or not any(c.isalpha() for c in name)):
            return
        if name and name not in self.names:
            with self._terms_lock:
                self.names.add(name)
                if not runtime:
                    self.static_names.add(name)
                self._pattern = None

    def forget_runtime_values(self) -> None:
        """Start a test with the demo's names only: each test's database starts empty, so the values
        saved by earlier tests cannot reach its logs, and one ever-growing alternation (thousands of
        tokens by the end of a run) made every log line slower to search than the last."""
        with self._terms_lock:
            if self.names != self.static_names or self.secrets:
                self.names = set(self.static_names)
                self.secrets = set()
                self._pattern = None

    def add_secret(self, secret: str) -> None:
        if secret and secret not in self.secrets:
            with self._terms_lock:
                self.secrets.add(secret)
                self._pattern = None

    def _terms(self) -> re.Pattern[str]:
        """Names as whole words; tokens anywhere (glued to other characters they are still leaked)."""
        with self._terms_lock:
            if self._pattern is None:
                names = "|".join(map(re.escape, sorted(self.names, key=len, reverse=True))) or "(?!)"
                secrets = "|".join(map(re.escape, sorted(self.secrets, key=len, reverse=True))) or "(?!)"
                self._pattern = re.compile(f"(?P<secret>{secrets})|(?<!\\w)(?P<name>{names})(?!\\w)")
            return self._pattern

    def scan(self, line: str) -> list[tuple[str, str]]:
        """(kind, value) for each piece of personal data or secret in `line`."""
        found = [("CPR-like number", m.group(0)) for m in CPR_LIKE.finditer(line)]
        for match in self._terms().finditer(line):
            found.append(("token", match["secret"]) if match["secret"] else ("name", match["name"]))
        return found

    # --- logging.Handler ----------------------------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a record that cannot be formatted is logging's problem, not a leak
            return
        self.lines_read += 1
        for kind, value in self.scan(line):
            self.findings.append(Finding(self.current_test, kind, value, line))

    # --- for tests that leak on purpose -----------------------------------------------------------------

    def mark(self) -> int:
        return len(self.findings)

    def take_findings(self, *, since: int) -> list[Finding]:
        taken = self.findings[since:]
        del self.findings[since:]
        return taken


_guard: LogGuard | None = None


def guard() -> LogGuard:
    assert _guard is not None, "tests.log_guard is not installed (tests/conftest.py loads it)"
    return _guard


def _attach(handler: LogGuard) -> None:
    """On the root logger and on every logger that does not pass its records up to it."""
    root = logging.getLogger()
    if handler not in root.handlers:
        root.addHandler(handler)
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and not logger.propagate and handler not in logger.handlers:
            logger.addHandler(handler)


def _detach(handler: LogGuard) -> None:
    for logger in [logging.getLogger(), *logging.root.manager.loggerDict.values()]:
        if isinstance(logger, logging.Logger) and handler in logger.handlers:
            logger.removeHandler(handler)


def _collect_saved_values(handler: LogGuard) -> list:
    """Names and tokens as they are saved, whatever test or command saves them."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_save
    from rest_framework.authtoken.models import Token

    from calendars import access
    from support.models import Child, Household

    def on_child(instance, **kwargs):
        handler.add_name(instance.display_name)

    def on_household(instance, **kwargs):
        handler.add_name(instance.name)

    def on_user(instance, **kwargs):
        handler.add_name(instance.get_full_name())

    def on_token(instance, **kwargs):
        handler.add_secret(instance.key)

    receivers = [(on_child, Child), (on_household, Household), (on_user, get_user_model()), (on_token, Token)]
    for receiver, sender in receivers:
        post_save.connect(receiver, sender=sender, weak=False, dispatch_uid=f"log_guard_{receiver.__name__}")

    original_new_token = access.new_token

    def new_token() -> str:
        token = original_new_token()
        handler.add_secret(token)
        return token

    access.new_token = new_token

    def undo():
        for receiver, sender in receivers:
            post_save.disconnect(receiver, sender=sender, dispatch_uid=f"log_guard_{receiver.__name__}")
        access.new_token = original_new_token

    return [undo]


_undo: list = []
_access_level: int | None = None


def pytest_sessionstart(session):
    global _guard, _access_level
    handler = LogGuard()
    console = next((h for h in logging.getLogger().handlers if getattr(h, "name", "") == "console"), None)
    if console is not None:  # write exactly what production writes
        handler.setFormatter(console.formatter)
        for log_filter in console.filters:
            handler.addFilter(log_filter)
    for name in demo_names():
        handler.add_name(name, runtime=False)
    access = logging.getLogger("plejenet.access")
    _access_level = access.level
    access.setLevel(logging.INFO)
    _attach(handler)
    _undo.extend(_collect_saved_values(handler))
    _guard = handler


def pytest_runtest_logstart(nodeid, location):
    if _guard is not None:
        _guard.current_test = nodeid
        _guard.forget_runtime_values()
        # Loggers created since (django-q's is made on first import) get it too, and so does a
        # logging set up again since (django.setup() runs dictConfig, which drops root handlers).
        _attach(_guard)
        access = logging.getLogger("plejenet.access")
        if access.getEffectiveLevel() > logging.INFO:
            access.setLevel(logging.INFO)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """Under pytest-xdist (`make test`), the controller gathers what each worker's guard found."""
    report = getattr(node, "workeroutput", {}).get("log_guard")
    if _guard is None or report is None:
        return
    _guard.lines_read += report["lines_read"]
    _guard.findings.extend(Finding(*finding) for finding in report["findings"])


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    if _guard is None:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the findings to the controller, which fails the run
        workeroutput["log_guard"] = {
            "lines_read": _guard.lines_read,
            "findings": [(f.test, f.kind, f.value, f.line) for f in _guard.findings],
        }
    _guard.current_test = "(session end)"
    _detach(_guard)
    for undo in _undo:
        undo()
    if _access_level is not None:
        logging.getLogger("plejenet.access").setLevel(_access_level)
    if _guard.findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _guard is None:
        return
    if _guard.findings:
        terminalreporter.section("personal data or secrets in logs", red=True)
        for finding in _guard.findings[:50]:
            terminalreporter.line(str(finding))
        terminalreporter.line(f"{len(_guard.findings)} finding(s) in {_guard.lines_read} log lines: the run fails.")
    else:
        terminalreporter.line(
            f"log guard: {_guard.lines_read} log lines read, no names, CPR-like numbers or tokens in them."
        )


@pytest.fixture
def log_guard() -> LogGuard:
    return guard()
