"""The instance generator: seeded, valid, and shaped as promised."""

from __future__ import annotations

from scheduler.matching.generator import COMPETENCES, generate
from scheduler.matching.instance import parse_instance


def test_same_seed_same_document_and_different_seed_different_document():
    assert generate(50, 15, "tight", seed=4) == generate(50, 15, "tight", seed=4)
    assert generate(50, 15, "tight", seed=4) != generate(50, 15, "tight", seed=5)


def test_generated_documents_are_valid_and_use_the_known_vocabularies():
    for shape in ("loose", "tight"):
        inst = parse_instance(generate(300, 90, shape, seed=1))
        assert len(inst.needs) == 300 and len(inst.providers) == 90
        for n in inst.needs:
            assert n.required_competences <= set(COMPETENCES)
            assert 54.5 < n.location.lat < 57.8 and 8.0 < n.location.lon < 15.2  # Denmark
        assert inst.separations, "placements should keep some needs apart"
        assert any(n.current_provider for n in inst.needs)
        assert {n.language for n in inst.needs} > {"da"}


def test_tight_asks_for_more_minutes_than_there_are_and_loose_for_fewer():
    for shape, more_demand in (("tight", True), ("loose", False)):
        inst = parse_instance(generate(400, 120, shape, seed=1))
        demand = sum(n.load for n in inst.needs)
        supply = sum(p.capacity for p in inst.providers)
        assert (demand > supply) is more_demand
