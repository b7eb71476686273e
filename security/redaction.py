"""Secrets never reach a log line: formatters that cut tokens, keys and passwords from the output.

The JSON formatter (config.observability) writes the message, the exception and extra fields;
these subclasses run the finished line through `redact`, so whatever path a secret took into a
log record (an exception message, a URL, a third-party library's debug line) it leaves as
"<redacted>". The patterns are specific on purpose: request IDs (32 hex) and CPR hashes (64 hex)
stay readable for tracing.
"""

from __future__ import annotations

import logging
import re

from config.observability import JsonFormatter

REDACTED = "<redacted>"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # "Authorization: Token abc", "Bearer abc"
    (re.compile(r"\b(Token|Bearer|Basic)(\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1\2{REDACTED}"),
    # key=value and "key": "value" where the key names a secret (query strings, reprs, JSON)
    (
        re.compile(
            r"""(?i)(\b[\w-]*(?:token|secret|passw(?:or)?d|api[_-]?key|otp|fernet|caldav_pass)[\w-]*\b\\?["']?\s*[=:]\s*\\?["']?)"""
            r"""[^\s"'&,;\\}]{4,}"""
        ),
        rf"\1{REDACTED}",
    ),
    # DRF API tokens: exactly 40 hex characters
    (re.compile(r"(?<![0-9a-fA-F])[0-9a-f]{40}(?![0-9a-fA-F])"), REDACTED),
    # Fernet tokens (secrets encrypted at rest, if one is ever printed)
    (re.compile(r"gAAAAA[A-Za-z0-9_=-]{20,}"), REDACTED),
    # Calendar feed URLs: /cal/<token>, /feed(s)/<token>
    (re.compile(r"(/(?:cal|feeds?)/)[^/\s?#\"']+"), rf"\1{REDACTED}"),
    # Credentials in URLs: scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), rf"\1{REDACTED}@"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingJsonFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
