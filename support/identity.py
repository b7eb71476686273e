"""CPR numbers are never stored: only a keyed hash, so a record can be found but not read back."""

from __future__ import annotations

import hashlib
import hmac
import re

from django.conf import settings

from support.errors import DomainError

_CPR = re.compile(r"^(\d{2})(\d{2})(\d{2})-?(\d{4})$")


def normalise_cpr(cpr: str) -> str:
    match = _CPR.match(cpr.strip())
    if not match:
        raise DomainError("A CPR number has the form DDMMYY-SSSS.", code="invalid_cpr", fields={"cpr": ["invalid"]})
    day, month = int(match.group(1)), int(match.group(2))
    if not (1 <= day <= 31 and 1 <= month <= 12):
        raise DomainError("A CPR number starts with a valid date.", code="invalid_cpr", fields={"cpr": ["invalid"]})
    return "".join(match.groups())


def hash_cpr(cpr: str) -> str:
    key = settings.CPR_HASH_KEY.encode()
    return hmac.new(key, normalise_cpr(cpr).encode(), hashlib.sha256).hexdigest()
