"""Small display helpers: numbers, progress words and score terms in the active language."""

from __future__ import annotations

from decimal import Decimal

from django.utils import translation

from web.display import plain_number, progress_message, score_terms


def test_sessions_per_week_are_plain_local_numbers():
    with translation.override("da"):
        assert plain_number(Decimal("0.500")) == "0,5"
        assert plain_number(Decimal("2.000")) == "2"
        assert plain_number(Decimal("10.000")) == "10"
    with translation.override("en"):
        assert plain_number(Decimal("0.250")) == "0.25"


def test_progress_messages_from_the_service_are_translated():
    with translation.override("da"):
        assert progress_message("Queued") == "Venter på at blive startet"
        assert progress_message("Solving 12 needs × 3 providers") == (
            "Finder det bedste match for 12 behov blandt 3 leverandører"
        )
        assert progress_message("Something new") == "Something new"  # unknown words pass through


def test_score_terms_keep_the_spec_order_and_skip_non_numbers():
    terms = {"travel": -7, "note": "x", "priority": 3000, "continuity": 200, "preferred": 20, "bonus": 5}
    with translation.override("en"):
        shown = score_terms(terms)
    assert [t.key for t in shown] == ["priority", "continuity", "preferred", "travel", "bonus"]
    assert [t.points for t in shown] == [3000, 200, 20, -7, 5]
    assert shown[3].label == "Travel" and shown[4].label == "Bonus"
