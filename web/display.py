"""Turning domain values into words and numbers for the pages, in the active language."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.translation import get_language, gettext_lazy

from scheduler.reason_text import progress_text


def local_name(obj) -> str:
    """A reference row's name (Service, Competence) in the active language."""
    if (get_language() or "da").startswith("en"):
        return obj.name_en or obj.name_da
    return obj.name_da or obj.name_en


def plain_number(value: Decimal | float | int) -> str:
    """0.500 -> '0,5' in Danish, '0.5' in English; whole numbers without decimals."""
    if isinstance(value, Decimal):
        value = value.normalize()
        value = Decimal(f"{value:f}")
    return number_format(value, use_l10n=True)


def progress_message(message: str) -> str:
    """The service writes progress in English for the log; these are the words people see."""
    return progress_text(message)


# The objective's terms as scheduler/matching/explain.score_terms writes them (they add up to the
# score, travel as a negative number): what each one means to a consultant.
_TERM_LABELS = {
    "priority": gettext_lazy("Priority"),
    "continuity": gettext_lazy("Continuity (keeps the current provider)"),
    "preferred": gettext_lazy("Preferred competences"),
    "travel": gettext_lazy("Travel"),
}
_TERM_ORDER = list(_TERM_LABELS)


@dataclass(frozen=True)
class Term:
    key: str
    label: str
    points: int


def score_terms(terms: dict) -> list[Term]:
    """The score's terms in the spec's order; a term the engine adds later shows under its own name."""
    numeric = {k: int(v) for k, v in terms.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    keys = sorted(numeric, key=lambda k: (_TERM_ORDER.index(k) if k in _TERM_ORDER else len(_TERM_ORDER), k))
    return [Term(k, str(_TERM_LABELS.get(k, k.replace("_", " ").capitalize())), numeric[k]) for k in keys]
