"""Matching reasons said again in the reader's language, from the engine's structured details."""

from __future__ import annotations

import pytest
from django.utils import translation

from scheduler.geo import distance_km
from scheduler.reason_text import Names, detail_text, pair_refusal, progress_text, reason_texts
from tests.matching.helpers import details, document, need, provider, reasons, solve

NEAR_AARHUS = need()["location"]
KM_TO_55_9 = distance_km(NEAR_AARHUS["lat"], NEAR_AARHUS["lon"], 55.0, 9.0)
KM_TO_ITALY = distance_km(46.0, 10.2, 56.1572, 10.2107)  # the helpers' provider sits in Aarhus

NAMES = Names(
    providers={"P1": "Supervisor Mette K.", "P2": "Terapeut Jens", "P4": "Psykolog Anna"},
    needs={"N2": "supervision til Demo-barn A."},
    services={"supervision": "supervision", "substance_treatment": "misbrugsbehandling"},
    competences={"self_harm": "selvskade", "trauma": "traumer"},
)


def engine_details(doc, nid="N1"):
    result = solve(doc)
    return reasons(result, nid), details(result, nid)


# One engine run per kind of reason, so the test follows what explain.py really writes.
SCENARIOS = {
    "no_providers": (document([], [need()]), "Der er ingen leverandører med i denne matchkørsel."),
    "no_provider_offers": (
        document([provider()], [need(service="substance_treatment")]),
        "Ingen leverandør tilbyder misbrugsbehandling.",
    ),
    "rule_competences": (
        document([provider()], [need(required_competences=["trauma", "self_harm"])]),
        "Krav 2 (kompetencer): 1 leverandør mangler en krævet kompetence: selvskade (1).",
    ),
    "rule_language": (document([provider()], [need(language="ar")]), "Krav 3 (sprog): 1 leverandør taler ikke arabisk."),
    "rule_excluded": (
        document([provider("P4")], [need(excluded_providers=["P4"])]),
        "Krav 4 (fravalgt): 1 leverandør er fravalgt til dette behov: Psykolog Anna.",
    ),
    "rule_reach": (
        document([provider("P2", location={"lat": 55.0, "lon": 9.0}, offers_remote=True)], [need()]),
        f"Krav 5 (afstand): 1 leverandør har for langt at køre (nærmest er Terapeut Jens med {KM_TO_55_9} km, kører højst "
        "40 km). 1 af dem tilbyder online-sessioner, men behovet kan ikke dækkes online.",
    ),
    "rule_time": (
        document([provider(availability=[{"day": "mon", "from": "08:00", "to": "16:00"}])], [need()]),
        "Krav 6 (tidspunkt): 1 leverandør har ikke et ledigt tidsrum, der overlapper familiens med mindst "
        "120 minutter.",
    ),
    "candidates_full": (
        document([provider(max_cases=1)], [need("N1", priority=2), need("N2", priority=5)]),
        "1 kandidat var fuldt optaget: Supervisor Mette K. (har nået sit maksimum på 1 sag: supervision til "
        "Demo-barn A.).",
    ),
    "candidates_apart": (
        document([provider()], [need("N1", priority=2, separate_from=["N2"]), need("N2", priority=4)]),
        "1 kandidat er udelukket, fordi den allerede har et behov, der ikke må have samme leverandør som dette: "
        "Supervisor Mette K. varetager allerede supervision til Demo-barn A.",
    ),
    "candidates_too_small": (
        document([provider(capacity_minutes_per_week=20)], [need()]),
        "1 kandidat har ikke kapacitet nok til dette behov: Supervisor Mette K. (20 min./uge i alt, behovet "
        "kræver 30).",
    ),
    "candidates_too_far": (
        document([provider(max_travel_km=5000)], [need(location={"lat": 46.0, "lon": 10.2}, priority=1)]),
        f"1 kandidat ligger for langt væk til, at det kan betale sig: Supervisor Mette K. ({KM_TO_ITALY} km transport "
        "vejer tungere end prioritet 1).",
    ),
    "hard_rules_summary": (
        document([provider("P1", max_cases=0), provider("P2", languages=["en"])], [need()]),
        "De ufravigelige krav udelukkede 1 af 2 leverandører: krav 3 (sprog): 1.",
    ),
}


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_every_kind_of_reason_reads_as_danish_with_names(code):
    doc, expected = SCENARIOS[code]
    english, found = engine_details(doc)
    assert code in [d["code"] for d in found]
    with translation.override("da"):
        texts = reason_texts(reasons=english, details=found, names=NAMES)
    assert expected in texts
    assert not any(t in english for t in texts)  # nothing fell back to the engine's English


def test_english_pages_get_english_sentences_with_names_instead_of_ids():
    english, found = engine_details(SCENARIOS["candidates_full"][0])
    with translation.override("en"):
        (text,) = reason_texts(reasons=english, details=found, names=NAMES)
    assert english == ["1 candidate was full: P1 (max_cases 1 reached: N2)"]
    assert text == (
        "1 candidate was full: Supervisor Mette K. (the maximum of 1 case is reached: supervision til Demo-barn A.)."
    )


def test_full_by_minutes_and_unused_room_read_in_danish():
    needs = [need(f"N{i}", priority=p) for i, p in ((1, 1), (2, 5), (3, 4))]
    english, found = engine_details(document([provider(capacity_minutes_per_week=70.5)], needs))
    with translation.override("da"):
        (text,) = reason_texts(reasons=english, details=found, names=NAMES)
    assert text.startswith("1 kandidat var fuldt optaget: Supervisor Mette K. (tiden bruges til supervision til")
    assert "10,5 af 70,5 min./uge tilbage, behovet kræver 30)" in text
    room = {"code": "candidates_unused_room", "params": {"count": 1, "providers": ["P1"], "providers_more": 0}}
    with translation.override("da"):
        assert detail_text(room, NAMES) == (
            "1 kandidat havde stadig plads (Supervisor Mette K.), men tidsgrænsen stoppede søgningen, "
            "før pladsen blev brugt."
        )


def test_long_lists_say_how_many_more_in_the_readers_language():
    english, found = engine_details(
        document([provider(f"P{i}") for i in range(1, 11)], [need(excluded_providers=[f"P{i}" for i in range(1, 11)])])
    )
    with translation.override("da"):
        line = next(t for t in reason_texts(reasons=english, details=found, names=NAMES) if t.startswith("Krav 4"))
    assert line.endswith("P7, P8 og 2 til.") and "Supervisor Mette K., Terapeut Jens" in line


def test_unknown_keys_show_as_they_are_and_unknown_codes_fall_back_to_the_english_line():
    details_ = [
        {"code": "no_provider_offers", "params": {"service": "dog_walking"}},
        {"code": "from_a_newer_engine", "params": {}},
    ]
    with translation.override("da"):
        texts = reason_texts(reasons=["no provider offers dog_walking", "something new"], details=details_, names=Names())
    assert texts == ["Ingen leverandør tilbyder dog_walking.", "something new"]


def test_rows_without_details_show_the_engine_reasons():
    assert reason_texts(reasons=["old reason"], details=[], names=NAMES) == ["old reason"]


def test_skipped_need_without_coordinates_is_translated():
    with translation.override("da"):
        (text,) = reason_texts(reasons=["x"], details=[{"code": "no_coordinates", "params": {}}], names=NAMES)
    assert text == "Den modtagende families adresse mangler koordinater, så afstanden kan ikke beregnes."


def test_override_refusal_names_the_provider_and_every_broken_rule():
    problems = [
        {"code": "pair_competences", "params": {"competences": ["self_harm", "trauma"]}},
        {"code": "pair_reach", "params": {"km": 52, "range_km": 40}},
        {"code": "pair_capacity", "params": {"free": 20, "load": 30}},
    ]
    with translation.override("da"):
        text = pair_refusal(provider_name="Terapeut Jens", problems=problems, names=NAMES)
    assert text == (
        "Terapeut Jens kan ikke tage dette behov: mangler de krævede kompetencer selvskade, traumer; ligger 52 km "
        "væk, længere end de 40 km, leverandøren kører, og online er ikke muligt; har ikke kapacitet nok tilbage "
        "(20 min./uge ledigt, behovet kræver 30 min./uge)."
    )
    with translation.override("en"):
        assert pair_refusal(
            provider_name="Terapeut Jens", problems=[{"code": "pair_max_cases", "params": {}}], names=NAMES, still=True
        ) == "Terapeut Jens can no longer take this need: has reached its maximum number of cases."


@pytest.mark.parametrize(
    ("message", "danish"),
    [
        ("Done", "Færdig"),
        ("Solving 12 needs × 3 providers", "Finder det bedste match for 12 behov blandt 3 leverandører"),
        ("Something new", "Something new"),
    ],
)
def test_progress_messages_read_in_danish(message, danish):
    with translation.override("da"):
        assert progress_text(message) == danish
