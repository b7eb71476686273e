"""Synthetic demo data: two municipalities of obviously fictional families, children and providers.

`seed(today=...)` builds the whole demo in one transaction; `manage.py seed_demo` is its shell.
Everything personal is invented and looks it: households are "Familien Testrup (fiktiv)", children
are "Demo-barn Luna" or initials marked "(demo)", nobody has a CPR number (cpr_hash stays empty),
phone numbers are left blank, and every e-mail address is under plejenet-demo.example.org
(example.org is reserved for examples, RFC 2606). Only the municipality codes, postcodes and town
coordinates are real, so that maps and matching distances look like Østjylland.

What marks the demo, so that it can be found and removed without touching real rows:
municipalities with the codes below *and* a name starting "Demo-"; users with the demo usernames
*and* an e-mail in the demo domain; providers with an e-mail in the demo domain.

Seeding is idempotent by refusing, not by topping up: when the demo municipalities exist, nothing
is written. A demo someone has clicked around in is better reset than patched, and topping up
would make the data depend on what happened in between. `reset=True` deletes the demo first.

Rule-bearing writes go through support.services (support needs, separations, placement endings),
so the demo obeys the same rules as real data; plain rows are bulk-created after the models' own
clean(). Everything is drawn from random.Random(2026) and dated relative to `today`, so one day's
run always gives the same data and the data always looks current.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.db.models import ProtectedError

from scheduler.geo import distance_km
from support import audit, demo_wellbeing, services
from support.errors import Conflict, DomainError
from support.models import (
    AuditEntry,
    BreakdownReason,
    Child,
    Competence,
    ContactPerson,
    FosterType,
    Household,
    HouseholdKind,
    Membership,
    Municipality,
    NeedOrigin,
    NeedStatus,
    Placement,
    PlacementStatus,
    Provider,
    ProviderAbsence,
    ProviderKind,
    Recipient,
    Service,
    SupportNeed,
    Team,
    WeeklyAvailability,
)
from support.roles import Role

SEED = 2026
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
EMAIL_DOMAIN = "plejenet-demo.example.org"
MUNICIPALITY_PREFIX = "Demo-"
CASEWORKERS_GROUP = "Caseworkers"
# The kommunal plejefamilie was abolished on 1 July 2019; legacy placements start before this.
KOMMUNAL_ABOLISHED = dt.date(2019, 7, 1)

# Caseworkers may use the admin only where it is scoped to their municipalities (ScopedAdmin with
# a for_user queryset). ContactPerson, WeeklyAvailability, ProviderAbsence, Membership and
# AuditEntry have no for_user yet, so their admin pages would show every municipality's rows:
# they stay out of this list until they are scoped. Reference tables and municipalities: view only.
CASEWORKER_PERMISSIONS = {
    "team": ("view", "add", "change"),
    "household": ("view", "add", "change"),
    "provider": ("view", "add", "change"),
    "child": ("view", "add", "change"),
    "placement": ("view", "add", "change"),
    "supportneed": ("view", "add", "change"),
    "municipality": ("view",),
    "service": ("view",),
    "competence": ("view",),
}


# --- The cast and the places -------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str
    sees: str
    first_name: str
    last_name: str


# Passwords pass the project's validators (length 10, not common, not like the username): demo
# only, printed on purpose, and deleted with --reset.
LOGINS = (
    DemoLogin(Role.CONSULTANT, "konsulent", "demo-konsulent-aarhus",
              "Demo-Aarhus: all households, children, placements, needs; scoped admin", "Karen", "Demodal"),
    DemoLogin(Role.CONSULTANT, "konsulent2", "demo-konsulent-skanderborg",
              "Demo-Skanderborg only (nothing from Demo-Aarhus); scoped admin", "Kasper", "Modelholm"),
    DemoLogin(Role.TEAM_LEAD, "teamleder", "demo-teamleder-2026",
              "Demo-Aarhus as lead of Familieplejen Nord; scoped admin", "Tove", "Skitselund"),
    DemoLogin(Role.FOSTER_PARENT, "plejeforaelder", "demo-plejefamilie-2026",
              "Own foster household, its two placed siblings, their support and supervisor",
              "Anne", "Testrup"),
    DemoLogin(Role.BIRTH_PARENT, "biologiskforaelder", "demo-mor-og-far-2026",
              "Own household and the home guidance it receives (not the children's records)",
              "Bodil", "Prøvesen"),
    DemoLogin(Role.PROVIDER, "leverandoer", "demo-supervisor-2026",
              "Own provider profile and the households of needs assigned to it (both municipalities)",
              "Kirsten", "Eksempelsen"),
    DemoLogin(Role.ADMINISTRATOR, "admin", "demo-administrator-2026",
              "Everything in every municipality (superuser)", "Adam", "Attrapby"),
)
USERNAMES = tuple(login.username for login in LOGINS)


def demo_totp_key(username: str) -> str:
    """The demo staff's TOTP key (hex, 20 bytes): derived from the username, so it is public. Demo only."""
    return hashlib.sha1(f"plejenet-demo-totp:{username}".encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Town:
    postcode: str
    city: str
    lat: float
    lon: float


@dataclass(frozen=True)
class MunicipalitySpec:
    code: str
    name: str
    teams: tuple[str, ...]
    towns: tuple[Town, ...]
    foster: int  # current foster households; one kommunal_legacy household comes on top
    birth: int
    respite: int
    cases: tuple[tuple[str, int], ...]  # (placement history of one child, how many children)


# Each child's placements in order; only the last may still be active.
HISTORIES = {
    "active": ("active",),
    "institution": ("institution",),
    "breakdown_then_active": ("broke_down", "active"),
    "breakdown_then_institution": ("broke_down", "institution"),
    "breakdown_home": ("broke_down",),
    "ended_home": ("ended",),
    "legacy_then_active": ("legacy", "active"),
    "legacy_home": ("legacy",),
}

MUNICIPALITIES = (
    MunicipalitySpec(
        "751", "Demo-Aarhus", ("Familieplejen Nord", "Familieplejen Syd", "Netværksplejen"),
        (
            Town("8000", "Aarhus C", 56.1567, 10.2108), Town("8200", "Aarhus N", 56.1830, 10.1900),
            Town("8210", "Aarhus V", 56.1640, 10.1630), Town("8220", "Brabrand", 56.1530, 10.1050),
            Town("8240", "Risskov", 56.1930, 10.2350), Town("8250", "Egå", 56.2130, 10.2700),
            Town("8260", "Viby J", 56.1270, 10.1600), Town("8270", "Højbjerg", 56.1090, 10.2020),
            Town("8310", "Tranbjerg J", 56.0920, 10.1330), Town("8320", "Mårslet", 56.0690, 10.1620),
            Town("8330", "Beder", 56.0600, 10.2110), Town("8340", "Malling", 56.0360, 10.1960),
            Town("8355", "Solbjerg", 56.0420, 10.0870), Town("8381", "Tilst", 56.1880, 10.1110),
            Town("8471", "Sabro", 56.2130, 10.0350), Town("8520", "Lystrup", 56.2370, 10.2370),
            Town("8541", "Skødstrup", 56.2610, 10.3050),
        ),
        foster=25, birth=9, respite=5,
        cases=(("active", 26), ("institution", 1), ("breakdown_then_active", 3), ("breakdown_then_institution", 1),
               ("ended_home", 3), ("legacy_then_active", 1), ("legacy_home", 1)),
    ),
    MunicipalitySpec(
        "746", "Demo-Skanderborg", ("Familieplejen Vest", "Familieplejen Øst"),
        (
            Town("8660", "Skanderborg", 56.0340, 9.9290), Town("8660", "Stilling", 56.0630, 9.9920),
            Town("8680", "Ry", 56.0880, 9.7640), Town("8362", "Hørning", 56.0870, 10.0370),
            Town("8464", "Galten", 56.1560, 9.9090), Town("8464", "Skovby", 56.1560, 9.9490),
            Town("8670", "Låsby", 56.1500, 9.8170),
        ),
        foster=17, birth=7, respite=3,
        cases=(("active", 15), ("institution", 1), ("breakdown_then_active", 2), ("breakdown_home", 1),
               ("ended_home", 2), ("legacy_then_active", 1)),
    ),
)

# Invented surnames ("Test" + "rup"): nobody should mistake a demo family for a real one.
_SURNAME_STEMS = ("Test", "Prøve", "Demo", "Fiktiv", "Model", "Attrap", "Skitse", "Pilot", "Udkast",
                  "Skabelon", "Mønster", "Forsøg", "Kladde", "Øvelse", "Påfund", "Opdigt", "Eksempel")
_SURNAME_ENDINGS = ("rup", "sen", "gaard", "lund", "bjerg", "holm", "by", "strup", "høj", "dal")
_STREETS = ("Eksempelvej", "Prøvestien", "Demogade", "Testrupvej", "Fiktivvænget", "Modelvej",
            "Attrapallé", "Skitsestræde", "Påfundsvej", "Kladdevænget")
_FIRST_NAMES = {  # (women, men) by household language
    "da": (("Anne", "Mette", "Louise", "Camilla", "Hanne", "Sanne", "Pia"),
           ("Jens", "Lars", "Mikkel", "Søren", "Thomas", "Anders")),
    "ar": (("Layla", "Amira"), ("Omar", "Karim")),
    "so": (("Hodan", "Amina"), ("Abdi", "Mohamed")),
    "tr": (("Elif", "Ayse"), ("Mehmet", "Emre")),
    "uk": (("Olena", "Iryna"), ("Taras", "Andriy")),
    "pl": (("Agnieszka", "Magda"), ("Piotr", "Tomasz")),
    "en": (("Emma", "Sarah"), ("James", "Daniel")),
}
_CHILD_NAMES = ("Luna", "Noah", "Ella", "Oscar", "Ida", "Malthe", "Freja", "Alfred", "Alma", "Karl", "Agnes",
                "Emil", "Clara", "Valdemar", "Sofie", "Aksel", "Liva", "Otto", "Nora", "Storm", "Asta",
                "Bertram", "Lea", "Anton", "Mille", "Elias", "Vigga", "August", "Olivia", "Felix")
_INSTITUTIONS = ("Demo-opholdsstedet Solsikken (fiktivt)", "Demo-døgninstitutionen Lærkereden (fiktiv)")

# Weekly windows as (days, from, to) in local wall-clock minutes.
_WEEK = {
    "day": (("mon tue wed thu fri", 510, 960),),
    "day_evening": (("mon tue wed thu fri", 540, 900), ("tue wed", 960, 1260)),
    "evening": (("mon tue wed thu", 900, 1260), ("sat", 540, 780)),
    "afternoon": (("mon tue wed thu fri", 720, 1080),),
    "long": (("mon tue wed thu fri", 480, 1200),),
    # Respite stays run over whole weekends; the spec lets "no availability" mean that time
    # never rules a pair out, which is the honest description until the scheduler places them.
    "none": (),
    "foster_evenings": (("mon tue wed thu", 960, 1260),),
    "foster_late_weekend": (("tue wed thu", 1020, 1260), ("sat", 540, 780)),
    "foster_home_parent": (("mon tue wed thu fri", 540, 900), ("wed", 1020, 1200)),
    "birth_daytime": (("mon tue wed thu fri", 600, 900),),
    "birth_mixed": (("tue thu", 540, 780), ("mon wed", 960, 1140)),
}


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    kind: str
    services: tuple[str, ...]
    competences: tuple[str, ...]
    languages: tuple[str, ...]
    base: str  # a town name from MUNICIPALITIES
    max_travel_km: int
    offers_remote: bool
    capacity: int  # minutes per week
    max_cases: int
    serves: tuple[str, ...]  # municipality codes
    week: str


_P, _O, _BOTH, _AAR, _SKB = ProviderKind.PERSON, ProviderKind.ORGANISATION, ("751", "746"), ("751",), ("746",)
# The first is the "leverandoer" login. Respite families are added from the respite households.
PROVIDERS = (
    ProviderSpec("Demo-supervisor Kirsten Eksempelsen (fiktiv)", _P, ("supervision",), ("attachment", "trauma"), ("da",), "Aarhus C", 40, True, 900, 10, _BOTH, "evening"),
    ProviderSpec("Demo-supervisor Henrik Testlund (fiktiv)", _P, ("supervision",), ("adhd", "autism"), ("da", "en"), "Viby J", 35, False, 720, 8, _AAR, "day_evening"),
    ProviderSpec("Supervisionshuset Demo ApS (fiktivt)", _O, ("supervision", "family_therapy"), ("attachment", "trauma", "violence", "sexual_abuse"), ("da", "en"), "Aarhus N", 50, True, 2400, 25, _BOTH, "long"),
    ProviderSpec("Demo-supervisor Mette Skabelund (fiktiv)", _P, ("supervision", "psychologist"), ("trauma", "self_harm"), ("da",), "Skanderborg", 40, True, 600, 6, _BOTH, "day_evening"),
    ProviderSpec("Demo-supervisor Ole Kladdesen (fiktiv)", _P, ("supervision",), ("attachment",), ("da",), "Ry", 30, False, 480, 6, _SKB, "evening"),
    ProviderSpec("Demo-supervisor Sara Mønsterby (fiktiv)", _P, ("supervision",), ("autism", "adhd", "school_refusal"), ("da", "en"), "Risskov", 30, True, 600, 8, _AAR, "evening"),
    ProviderSpec("Demo-hjemmevejleder Amal Opdigtsen (fiktiv)", _P, ("home_guidance",), ("attachment", "violence"), ("da", "ar", "en"), "Brabrand", 20, False, 900, 6, _AAR, "day"),
    ProviderSpec("Demo-hjemmevejleder Hodan Pilotsen (fiktiv)", _P, ("home_guidance",), ("attachment",), ("da", "so"), "Aarhus V", 20, False, 720, 5, _AAR, "day"),
    ProviderSpec("Demo-hjemmevejleder Jonas Forsøgsgaard (fiktiv)", _P, ("home_guidance",), ("adhd", "school_refusal"), ("da",), "Hørning", 30, False, 900, 6, _BOTH, "day_evening"),
    ProviderSpec("Demo-hjemmevejleder Olena Udkastrup (fiktiv)", _P, ("home_guidance", "family_therapy"), ("trauma",), ("uk", "da", "en"), "Viby J", 25, False, 600, 5, _AAR, "day"),
    ProviderSpec("Familieindsats Demo Syd (fiktiv)", _O, ("home_guidance", "family_therapy"), ("violence", "attachment", "substance_abuse"), ("da", "tr", "pl"), "Skanderborg", 35, False, 2400, 18, _BOTH, "long"),
    ProviderSpec("Demo-hjemmevejleder Lise Attrapsen (fiktiv)", _P, ("home_guidance",), ("autism",), ("da",), "Galten", 25, False, 600, 5, _SKB, "day"),
    ProviderSpec("Demo-familiebehandler Emre Skitsesen (fiktiv)", _P, ("family_therapy",), ("violence", "attachment"), ("da", "tr"), "Aarhus C", 30, True, 900, 8, _AAR, "day_evening"),
    ProviderSpec("Demo-familiebehandler Agnieszka Modelby (fiktiv)", _P, ("family_therapy",), ("trauma", "substance_abuse"), ("da", "pl", "en"), "Tranbjerg J", 30, True, 720, 6, _BOTH, "day_evening"),
    ProviderSpec("Familiehuset Demo (fiktivt)", _O, ("family_therapy", "home_guidance"), ("attachment", "school_refusal", "violence"), ("da", "en", "ar"), "Aarhus N", 25, False, 3000, 20, _AAR, "long"),
    ProviderSpec("Demo-Misbrugscenter Østjylland (fiktivt)", _O, ("substance_treatment",), ("substance_abuse", "violence"), ("da", "en", "ar", "pl"), "Aarhus C", 40, True, 3000, 25, _BOTH, "long"),
    ProviderSpec("Demo-rusmiddelrådgiver Tom Påfundsen (fiktiv)", _P, ("substance_treatment",), ("substance_abuse",), ("da",), "Skanderborg", 30, False, 600, 6, _SKB, "day"),
    ProviderSpec("Demo-rusbehandler Fadumo Øvelund (fiktiv)", _P, ("substance_treatment", "family_therapy"), ("substance_abuse", "trauma"), ("da", "so", "en"), "Aarhus V", 25, True, 720, 6, _AAR, "day_evening"),
    ProviderSpec("Demo-psykolog Ida Simulsen (fiktiv)", _P, ("psychologist",), ("trauma", "attachment", "sexual_abuse"), ("da", "en"), "Aarhus C", 30, True, 900, 12, _BOTH, "afternoon"),
    ProviderSpec("Demo-psykolog Peter Tænktsen (fiktiv)", _P, ("psychologist",), ("adhd", "autism", "school_refusal"), ("da",), "Højbjerg", 25, False, 720, 10, _AAR, "afternoon"),
    ProviderSpec("Demo-psykolog Yusuf Demodal (fiktiv)", _P, ("psychologist",), ("trauma", "self_harm"), ("da", "ar", "tr"), "Skanderborg", 40, True, 600, 8, _BOTH, "afternoon"),
    ProviderSpec("Børnepsykologerne Demo (fiktivt)", _O, ("psychologist", "supervision"), ("eating_disorder", "self_harm", "trauma", "autism"), ("da", "en", "uk"), "Aarhus C", 50, True, 2400, 20, _BOTH, "long"),
)
# (index into PROVIDERS, days from today to start, length in days, reason)
_ABSENCES = ((1, 10, 14, ProviderAbsence.Reason.VACATION), (12, -3, 7, ProviderAbsence.Reason.ILLNESS),
             (18, 30, 2, ProviderAbsence.Reason.COURSE), (4, 45, 21, ProviderAbsence.Reason.VACATION))


# --- Entry points --------------------------------------------------------------------------------


@dataclass
class SeedResult:
    created: bool
    today: dt.date
    counts: dict[str, int]
    deleted: dict[str, int] = field(default_factory=dict)
    logins: tuple[DemoLogin, ...] = LOGINS


def copenhagen_today() -> dt.date:
    return dt.datetime.now(COPENHAGEN).date()


def seed(*, today: dt.date | None = None, reset: bool = False) -> SeedResult:
    """Create the demo (or, with reset, delete and recreate it); do nothing if it is already there."""
    today = today or copenhagen_today()
    with transaction.atomic():
        deleted = delete_demo() if reset else {}
        if demo_municipalities().exists():
            return SeedResult(created=False, today=today, counts=demo_counts(), deleted=deleted)
        _refuse_clashes()
        _build(random.Random(SEED), today)
        demo_wellbeing.add_activity(today=today)  # sessions, a meeting, signals, goals, scores, milestones
    return SeedResult(created=True, today=today, counts=demo_counts(), deleted=deleted)


def demo_municipalities():
    return Municipality.objects.filter(
        code__in=[spec.code for spec in MUNICIPALITIES], name__startswith=MUNICIPALITY_PREFIX
    )


def demo_users():
    return get_user_model().objects.filter(username__in=USERNAMES, email__endswith="@" + EMAIL_DOMAIN)


def demo_providers():
    return Provider.objects.filter(email__endswith="@" + EMAIL_DOMAIN)


def demo_counts() -> dict[str, int]:
    munis = demo_municipalities()
    households = Counter(Household.objects.filter(municipality__in=munis).values_list("kind", flat=True))
    placements = Counter(Placement.objects.filter(municipality__in=munis).values_list("status", flat=True))
    needs = Counter(SupportNeed.objects.filter(municipality__in=munis).values_list("status", flat=True))
    return {
        "municipalities": munis.count(),
        "teams": Team.objects.filter(municipality__in=munis).count(),
        "foster households": households[HouseholdKind.FOSTER],
        "birth households": households[HouseholdKind.BIRTH],
        "respite households": households[HouseholdKind.RESPITE],
        "children": Child.objects.filter(municipality__in=munis).count(),
        "active placements": placements[PlacementStatus.ACTIVE],
        "ended placements": placements[PlacementStatus.ENDED],
        "broken-down placements": placements[PlacementStatus.BROKE_DOWN],
        "providers": demo_providers().count(),
        "open needs": needs[NeedStatus.OPEN],
        "assigned needs": needs[NeedStatus.ASSIGNED],
        "ended needs": needs[NeedStatus.ENDED],
        "logins": demo_users().count(),
        **demo_wellbeing.activity_counts(munis),
    }


def delete_demo() -> dict[str, int]:
    """Delete everything the demo created, children before parents; real rows stay.

    The demo's own audit entries go too: they record fictional events, and left behind they would
    point at rows that no longer exist. The reset itself is audited. The "Caseworkers" group stays:
    real staff may have been put in it.
    """
    munis = list(demo_municipalities())
    deleted: Counter[str] = Counter()
    steps = [
        AuditEntry.objects.filter(municipality__in=munis),
        *demo_wellbeing.activity_rows(munis),
        SupportNeed.objects.filter(municipality__in=munis),
        Placement.objects.filter(municipality__in=munis),
        Child.objects.filter(municipality__in=munis),
        demo_providers(),
        Household.objects.filter(municipality__in=munis),
        Membership.objects.filter(municipality__in=munis),
        Team.objects.filter(municipality__in=munis),
        Municipality.objects.filter(pk__in=[m.pk for m in munis]),
        demo_users(),
    ]
    try:
        for queryset in steps:
            deleted.update(queryset.delete()[1])
    except ProtectedError as exc:
        raise Conflict(
            f"Cannot remove the demo: real data still refers to it ({len(exc.protected_objects)} rows, e.g. "
            f"{next(iter(exc.protected_objects))!r}). Remove those references first."
        ) from exc
    if munis:
        audit.record(actor=None, action="demo.reset", object_type="demo", object_id="seed_demo",
                     details={label: n for label, n in deleted.items() if n})
    return {label: n for label, n in sorted(deleted.items()) if n}


def _refuse_clashes() -> None:
    """Never take over real rows that happen to use a demo code or username."""
    taken = Municipality.objects.filter(code__in=[s.code for s in MUNICIPALITIES]).exclude(
        name__startswith=MUNICIPALITY_PREFIX
    )
    if taken.exists():
        raise Conflict(
            f"Municipality {', '.join(str(m) for m in taken)} exists and is not demo data; "
            "the demo needs its code."
        )
    users = get_user_model().objects.filter(username__in=USERNAMES).exclude(pk__in=demo_users())
    if users.exists():
        names = ", ".join(u.username for u in users)
        raise Conflict(f"User(s) {names} exist and are not demo users; the demo will not change them.")


# --- Building -------------------------------------------------------------------------------------


@dataclass
class _Home:
    household: Household
    surname: str
    windows: tuple[tuple[str, int, int], ...]


@dataclass
class _Stay:
    placement: Placement
    history: str  # a step of HISTORIES
    ends_on: dt.date | None


@dataclass
class _Case:
    child: Child
    histories: tuple[str, ...]
    births: list[_Home]
    stays: list[_Stay] = field(default_factory=list)


@dataclass
class _ProviderInfo:
    provider: Provider
    spec: ProviderSpec
    windows: tuple[tuple[str, int, int], ...]
    load: float = 0.0
    cases: int = 0


@dataclass
class _NeedInfo:
    need: SupportNeed
    code: str  # municipality code
    home: _Home
    competences: frozenset[str]
    active: bool


@dataclass
class _Municipal:
    spec: MunicipalitySpec
    municipality: Municipality
    teams: list[Team]
    fosters: list[_Home] = field(default_factory=list)
    legacy: _Home | None = None
    births: list[_Home] = field(default_factory=list)
    respites: list[_Home] = field(default_factory=list)
    cases: list[_Case] = field(default_factory=list)


def _build(rng: random.Random, today: dt.date) -> None:
    services_by_code = {s.code: s for s in Service.objects.all()}
    competences_by_code = {c.code: c for c in Competence.objects.all()}
    missing = {s for spec in PROVIDERS for s in spec.services} - set(services_by_code)
    if missing:
        raise DomainError(f"Reference data missing ({', '.join(sorted(missing))}): run manage.py migrate.")

    munis = []
    for spec in MUNICIPALITIES:
        municipality = Municipality.objects.create(code=spec.code, name=spec.name)
        teams = Team.objects.bulk_create([Team(municipality=municipality, name=name) for name in spec.teams])
        munis.append(_Municipal(spec=spec, municipality=municipality, teams=teams))
    users = _create_users()

    surnames = [stem + ending for stem in _SURNAME_STEMS for ending in _SURNAME_ENDINGS]
    rng.shuffle(surnames)
    # The foster-parent and birth-parent logins' families: the first municipality's first foster
    # household, and its first birth household (after its foster households and the legacy one).
    surnames.remove("Testrup")
    surnames.remove("Prøvesen")
    surnames.insert(0, "Testrup")
    surnames.insert(MUNICIPALITIES[0].foster + 1, "Prøvesen")
    for m in munis:
        _create_households(rng, m, surnames)
    homes = [home for m in munis for home in (*m.fosters, m.legacy, *m.births, *m.respites)]
    _save_homes(rng, homes)

    providers = _create_providers(rng, munis, services_by_code, competences_by_code, today)
    for m in munis:
        _create_cases(rng, m, today, consultant=users["konsulent" if m is munis[0] else "konsulent2"])
    _create_memberships(munis, users, providers[0].provider)

    for m in munis:
        consultant = users["konsulent" if m is munis[0] else "konsulent2"]
        needs = _create_needs(rng, m, today, consultant)
        _assign_some(rng, needs, providers, consultant, login_provider=providers[0])
        _end_histories(rng, m, consultant)


def _create_users() -> dict:
    User = get_user_model()
    users = {}
    for login in LOGINS:
        user = User(
            username=login.username, email=f"{login.username}@{EMAIL_DOMAIN}",
            first_name=login.first_name, last_name=f"{login.last_name} (demo)",
            is_staff=login.role in (Role.CONSULTANT, Role.TEAM_LEAD, Role.ADMINISTRATOR),
            is_superuser=login.role == Role.ADMINISTRATOR,
        )
        validate_password(login.password, user)
        # Most of the run time: seven hashes with the project's real hasher. The passwords are
        # printed anyway, but a weaker hasher here would be a pattern someone copies.
        user.set_password(login.password)
        user.save()
        users[login.username] = user

    # Staff must sign in with a TOTP code (security.twofactor). Demo staff get a confirmed device
    # with a key derived from the username: public, demo only, and printed by `manage.py demo_totp`.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for login in LOGINS:
        if users[login.username].is_staff:
            TOTPDevice.objects.create(
                user=users[login.username], name="Demo authenticator", key=demo_totp_key(login.username),
                confirmed=True,
            )

    group, _ = Group.objects.get_or_create(name=CASEWORKERS_GROUP)
    codenames = [f"{verb}_{model}" for model, verbs in CASEWORKER_PERMISSIONS.items() for verb in verbs]
    permissions = Permission.objects.filter(content_type__app_label="support", codename__in=codenames)
    group.permissions.add(*permissions)
    for login in LOGINS:
        if login.role in (Role.CONSULTANT, Role.TEAM_LEAD):
            users[login.username].groups.add(group)
    return users


def _create_households(rng: random.Random, m: _Municipal, surnames: list[str]) -> None:
    spec = m.spec
    types = (
        [FosterType.NETVAERK] * round(spec.foster * 0.15)
        + [FosterType.SPECIALISERET] * round(spec.foster * 0.1)
        + [FosterType.FORSTAERKET] * round(spec.foster * 0.25)
    )
    types += [FosterType.ALMEN] * (spec.foster - len(types))
    rng.shuffle(types)
    types.remove(FosterType.ALMEN)
    types.insert(0, FosterType.ALMEN)  # the first household takes the login's two siblings
    places = {
        FosterType.ALMEN: (1, 2, 2, 3), FosterType.FORSTAERKET: (1, 2), FosterType.SPECIALISERET: (1, 1, 2),
        FosterType.NETVAERK: (1,),  # a netværksplejefamilie is approved for one particular child
    }
    for i, foster_type in enumerate(types):
        approved = 3 if i == 0 else rng.choice(places[foster_type])
        m.fosters.append(_home(rng, m, surnames.pop(0), HouseholdKind.FOSTER, foster_type, approved))
    # Kommunale plejefamilier stopped being a type in 2019: this one only holds ended placements
    # from before then, and has no current approval.
    m.legacy = _home(rng, m, surnames.pop(0), HouseholdKind.FOSTER, FosterType.KOMMUNAL_LEGACY, 0)
    m.legacy.household.name = m.legacy.household.name.replace("(fiktiv)", "(fiktiv, historisk)")
    for _ in range(spec.birth):
        m.births.append(_home(rng, m, surnames.pop(0), HouseholdKind.BIRTH, "", 0))
    for _ in range(spec.respite):
        foster_type = rng.choice((FosterType.ALMEN, FosterType.ALMEN, FosterType.FORSTAERKET))
        approved = rng.choice((1, 2))
        m.respites.append(_home(rng, m, surnames.pop(0), HouseholdKind.RESPITE, foster_type, approved))


def _home(rng: random.Random, m: _Municipal, surname: str, kind: str, foster_type: str, places: int) -> _Home:
    town = rng.choice(m.spec.towns)
    if kind == HouseholdKind.BIRTH:
        languages = rng.choices(
            (["da"], ["ar", "da"], ["so", "da"], ["tr", "da"], ["uk", "en"], ["pl", "da"], ["ar"]),
            weights=(12, 2, 1, 1, 1, 1, 1),
        )[0]
        week = rng.choice(("birth_daytime", "birth_mixed"))
    else:
        network = foster_type == FosterType.NETVAERK  # family of the child, so sometimes not Danish-speaking
        languages = rng.choices((["da"], ["da", "en"], ["tr", "da"]), weights=(16, 2, 1 if network else 0))[0]
        week = "none" if kind == HouseholdKind.RESPITE else rng.choice(
            ("foster_home_parent",) if foster_type in ("forstaerket", "specialiseret") and rng.random() < 0.6
            else ("foster_evenings", "foster_late_weekend")
        )
    label = {"foster": "Familien", "birth": "Familien", "respite": "Aflastningsfamilien"}[kind]
    household = Household(
        municipality=m.municipality, kind=kind, name=f"{label} {surname} (fiktiv)", foster_type=foster_type,
        approved_places=places, street=f"{rng.choice(_STREETS)} {rng.randint(1, 120)}",
        postcode=town.postcode, city=town.city, latitude=round(town.lat + rng.uniform(-0.012, 0.012), 5),
        longitude=round(town.lon + rng.uniform(-0.02, 0.02), 5), languages=languages,
    )
    household.clean()
    return _Home(household=household, surname=surname, windows=_windows(week))


def _windows(week: str) -> tuple[tuple[str, int, int], ...]:
    return tuple((day, start, end) for days, start, end in _WEEK[week] for day in days.split())


def _save_homes(rng: random.Random, homes: list[_Home]) -> None:
    contacts: list[ContactPerson] = []
    for home in homes:
        household = home.household
        relations = _relations(rng, household)
        women, men = _FIRST_NAMES[household.languages[0]]
        for n, relation in enumerate(relations):
            first = rng.choice(men if relation in ("plejefar", "far", "morfar", "aflastningsfar") else women)
            local = f"{_ascii(first)}.{_ascii(home.surname)}.{household.municipality.code}-{len(contacts)}"
            email = f"{local}@{EMAIL_DOMAIN}"
            contacts.append(ContactPerson(household=household, name=f"{first} {home.surname} (fiktiv)",
                                          relation=relation, email=email))
            if n == 0:
                household.email = email
    Household.objects.bulk_create([home.household for home in homes])
    ContactPerson.objects.bulk_create(contacts)
    WeeklyAvailability.objects.bulk_create(
        WeeklyAvailability(household=home.household, day=day, start_minute=start, end_minute=end)
        for home in homes for day, start, end in home.windows
    )


def _relations(rng: random.Random, household: Household) -> tuple[str, ...]:
    if household.kind == HouseholdKind.BIRTH:
        return rng.choices((("mor", "far"), ("mor",), ("far",)), weights=(5, 4, 1))[0]
    if household.kind == HouseholdKind.RESPITE:
        return ("aflastningsmor", "aflastningsfar")
    if household.foster_type == FosterType.NETVAERK:
        return rng.choice((("mormor", "morfar"), ("moster",)))
    couples = (("plejemor", "plejefar"), ("plejemor", "plejemor"), ("plejemor",))
    return rng.choices(couples, weights=(7, 1, 2))[0]


def _ascii(text: str) -> str:
    """'Søren Mønsterby (fiktiv)' -> 'soeren-moensterby-fiktiv', for e-mail addresses."""
    table = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa"})
    words = "".join(ch if ch.isascii() and ch.isalnum() else " " for ch in text.translate(table).lower())
    return "-".join(words.split())


def _create_providers(
    rng: random.Random, munis: list[_Municipal], services_by_code: dict[str, Service],
    competences_by_code: dict[str, Competence], today: dt.date,
) -> list[_ProviderInfo]:
    towns = {town.city: town for m in munis for town in m.spec.towns}
    by_code = {m.spec.code: m.municipality for m in munis}
    infos = []
    for spec in PROVIDERS:
        town = towns[spec.base]
        provider = Provider(
            kind=spec.kind, name=spec.name, email=f"{_ascii(spec.name)}@{EMAIL_DOMAIN}",
            languages=list(spec.languages), latitude=round(town.lat + rng.uniform(-0.01, 0.01), 5),
            longitude=round(town.lon + rng.uniform(-0.015, 0.015), 5), max_travel_km=spec.max_travel_km,
            offers_remote=spec.offers_remote, capacity_minutes_per_week=spec.capacity,
            max_cases=spec.max_cases,
        )
        infos.append(_ProviderInfo(provider=provider, spec=spec, windows=_windows(spec.week)))
    for m in munis:  # respite families: providers whose "location" is their own household
        for home in m.respites:
            household = home.household
            spec = ProviderSpec(
                household.name, _P, ("respite",), rng.choice(((), ("adhd",), ("attachment",), ("autism",))),
                tuple(household.languages), household.city, 30, False, 1440 * household.approved_places,
                2 * household.approved_places, _BOTH if home is m.respites[0] else (m.spec.code,), "none",
            )
            provider = Provider(
                name=spec.name, email=household.email, languages=list(spec.languages),
                latitude=household.latitude, longitude=household.longitude, max_travel_km=spec.max_travel_km,
                offers_remote=False, capacity_minutes_per_week=spec.capacity, max_cases=spec.max_cases,
                household=household,
            )
            infos.append(_ProviderInfo(provider=provider, spec=spec, windows=()))
    Provider.objects.bulk_create([info.provider for info in infos])

    offers, knows = Provider.services.through, Provider.competences.through
    serves = Provider.municipalities.through
    offers.objects.bulk_create(
        offers(provider=i.provider, service=services_by_code[code]) for i in infos for code in i.spec.services
    )
    knows.objects.bulk_create(
        knows(provider=i.provider, competence=competences_by_code[code])
        for i in infos for code in i.spec.competences
    )
    serves.objects.bulk_create(
        serves(provider=i.provider, municipality=by_code[code]) for i in infos for code in i.spec.serves
    )
    WeeklyAvailability.objects.bulk_create(
        WeeklyAvailability(provider=i.provider, day=day, start_minute=start, end_minute=end)
        for i in infos for day, start, end in i.windows
    )
    absences = []
    for index, offset, days, reason in _ABSENCES:
        start = dt.datetime.combine(today + dt.timedelta(days=offset), dt.time(0, 0), tzinfo=COPENHAGEN)
        end = dt.datetime.combine(today + dt.timedelta(days=offset + days), dt.time(0, 0), tzinfo=COPENHAGEN)
        absences.append(
            ProviderAbsence(provider=infos[index].provider, starts_at=start, ends_at=end, reason=reason)
        )
    ProviderAbsence.objects.bulk_create(absences)
    return infos


# --- Children and placements ----------------------------------------------------------------------------


def _create_cases(rng: random.Random, m: _Municipal, today: dt.date, consultant) -> None:
    kinds = [kind for kind, n in m.spec.cases for _ in range(n)]
    kinds.remove("active")
    kinds.remove("active")
    rng.shuffle(kinds)
    kinds[:0] = ["active", "active"]  # two siblings from the first birth household, in the first foster home
    births = m.births
    # Ages: the siblings are about 7 and 11; three children turn 16 within weeks and three are 17;
    # the rest without a history cover every age from 0 to 17.
    plain = [i for i, kind in enumerate(kinds) if kind in ("active", "institution") and i > 1]
    specials = dict.fromkeys(rng.sample(plain, 6), "turning_16")
    specials.update(dict.fromkeys(list(specials)[3:], "17"))
    plain = [i for i in plain if i not in specials]
    years = [j * 18 // len(plain) for j in range(len(plain))]
    rng.shuffle(years)
    ages: dict[int, float] = {0: 6.5, 1: 10.5, **dict(zip(plain, years, strict=True))}
    names = list(_CHILD_NAMES)
    rng.shuffle(names)

    children = []
    for i, kind in enumerate(kinds):
        if i < 2:
            case_births = [births[0]]
        elif i - 1 < len(births):
            case_births = [births[i - 1]]  # every birth household has at least one child
        else:
            roll = rng.random()
            case_births = [] if roll < 0.1 else rng.sample(births, 2) if roll < 0.2 else [rng.choice(births)]
        name = names[i % len(names)]
        surname = case_births[0].surname if case_births else rng.choice(m.fosters).surname
        display = f"Demo-barn {name}" if rng.random() < 0.6 else f"{name[0]}.{surname[0]}. (demo)"
        birth_date = _birth_date(rng, today, kind, ages.get(i), specials.get(i, ""))
        child = Child(municipality=m.municipality, display_name=display, birth_date=birth_date)
        children.append(child)
        m.cases.append(_Case(child=child, histories=HISTORIES[kind], births=case_births))
    Child.objects.bulk_create(children)

    free = _foster_slots(rng, m)
    placements = []
    for case in m.cases:
        for history, (starts_on, ends_on) in zip(case.histories, _dates(rng, today, case), strict=True):
            placement = Placement(
                municipality=m.municipality, child=case.child, consultant=consultant, starts_on=starts_on
            )
            if history == "active":
                placement.foster_household = m.fosters[0].household if case in m.cases[:2] else free.pop()
                placement.planned_end_on = _planned_end(rng, today, case.child, starts_on)
            elif history == "institution":
                placement.institution_name = rng.choice(_INSTITUTIONS)
            elif history == "legacy":
                placement.foster_household = m.legacy.household
            else:  # an earlier placement with a family other than the child's current one
                placement.foster_household = rng.choice(
                    [h.household for h in m.fosters[1:] if h.household.foster_type != FosterType.NETVAERK]
                )
            placement.clean()
            case.stays.append(_Stay(placement=placement, history=history, ends_on=ends_on))
            placements.append(placement)
    Placement.objects.bulk_create(placements)
    Placement.birth_households.through.objects.bulk_create(
        Placement.birth_households.through(placement=stay.placement, household=home.household)
        for case in m.cases for stay in case.stays for home in case.births
    )


def _birth_date(rng: random.Random, today: dt.date, kind: str, years: float | None, special: str) -> dt.date:
    """A birth date giving the age `years` (+ under a year), or one of the special cases."""
    if special == "turning_16":  # within weeks: preparation for adulthood starts at 16
        return today + dt.timedelta(days=rng.randint(14, 75)) - relativedelta(years=16)
    if special == "17":  # the decision on support after 18 is due 6 months before the birthday
        return today + dt.timedelta(days=rng.randint(30, 330)) - relativedelta(years=18)
    if kind.startswith("legacy"):  # placed before July 2019, and (for some decades yet) still under 18
        latest = dt.date(2018, 12, 1)
        earliest = min(today - relativedelta(years=17) + dt.timedelta(days=30), latest - dt.timedelta(days=365))
        return earliest + dt.timedelta(days=rng.randint(0, min(4 * 365, (latest - earliest).days)))
    if years is None:  # a child with earlier placements behind it
        years = rng.uniform(4.0, 16.5)
    return today - dt.timedelta(days=round((years + rng.uniform(0.05, 0.95)) * 365.25))


def _foster_slots(rng: random.Random, m: _Municipal) -> list[Household]:
    """Free places for active placements, netværk families first (each is approved for one child)."""
    netvaerk = [h.household for h in m.fosters[1:] if h.household.foster_type == FosterType.NETVAERK]
    others = [h.household for h in m.fosters[1:] if h.household.foster_type != FosterType.NETVAERK
              for _ in range(h.household.approved_places)]
    rng.shuffle(others)
    return others + netvaerk  # popped from the end


def _dates(rng: random.Random, today: dt.date, case: _Case) -> list[tuple[dt.date, dt.date | None]]:
    """Start and end of each placement in the child's history (end None while active)."""
    birth = case.child.birth_date

    def days(n: int) -> dt.timedelta:
        return dt.timedelta(days=n)

    def between(low: dt.date, high: dt.date) -> dt.date:
        return low + days(rng.randint(0, max(0, (high - low).days)))

    first, *rest = case.histories
    if first in ("active", "institution"):
        earliest = birth + days(14)
        if rng.random() < 0.25 or (today - earliest).days < 150:  # new placements: the intensive first year
            start = max(earliest, today - days(rng.randint(7, 120)))
        else:
            start = between(max(earliest, today - relativedelta(years=12)), today - days(121))
        return [(start, None)]
    if first == "legacy":
        start = between(max(birth + days(60), dt.date(2015, 1, 1)), KOMMUNAL_ABOLISHED - days(1))
        end = between(max(start + days(180), KOMMUNAL_ABOLISHED), min(dt.date(2022, 6, 30), today - days(60)))
    elif first == "ended":
        start = between(max(birth + days(30), today - relativedelta(years=8)), today - days(400))
        end = between(start + days(180), today - days(14))
    else:  # broke_down
        start = between(max(birth + days(60), today - relativedelta(years=6)), today - days(200))
        end = between(start + days(45), min(start + days(900), today - days(30)))
    if not rest:
        return [(start, end)]
    return [(start, end), (min(end + days(rng.randint(0, 10)), today - days(7)), None)]


def _planned_end(rng: random.Random, today: dt.date, child: Child, starts_on: dt.date) -> dt.date | None:
    roll = rng.random()
    if roll < 0.5:
        return child.birth_date + relativedelta(years=18)  # long-term placement to adulthood
    if roll < 0.65:
        end = starts_on + dt.timedelta(days=rng.randint(365, 730))
        return end if end > today else None
    return None


def _create_memberships(munis: list[_Municipal], users: dict, login_provider: Provider) -> None:
    aarhus, skanderborg = munis
    login_foster, login_birth = aarhus.fosters[0].household, aarhus.births[0].household
    memberships = [
        Membership(user=users["konsulent"], role=Role.CONSULTANT, municipality=aarhus.municipality,
                   team=aarhus.teams[0]),
        Membership(user=users["konsulent2"], role=Role.CONSULTANT, municipality=skanderborg.municipality,
                   team=skanderborg.teams[0]),
        Membership(user=users["teamleder"], role=Role.TEAM_LEAD, municipality=aarhus.municipality,
                   team=aarhus.teams[0]),
        Membership(user=users["plejeforaelder"], role=Role.FOSTER_PARENT, household=login_foster,
                   municipality=aarhus.municipality),
        Membership(user=users["biologiskforaelder"], role=Role.BIRTH_PARENT, household=login_birth,
                   municipality=aarhus.municipality),
        Membership(user=users["leverandoer"], role=Role.PROVIDER, provider=login_provider),
        Membership(user=users["admin"], role=Role.ADMINISTRATOR),
    ]
    for membership in memberships:
        membership.clean()
    Membership.objects.bulk_create(memberships)
    # The parents' logins are the first contact person of their household.
    for username, household in (("plejeforaelder", login_foster), ("biologiskforaelder", login_birth)):
        user = users[username]
        contact = household.contacts.order_by("pk").first()
        contact.user = user
        contact.name = f"{user.first_name} {user.last_name.removesuffix(' (demo)')} (fiktiv)"
        contact.save(update_fields=["user", "name"])


# --- Support needs, assignments and endings ----------------------------------------------------------------


_REASONS = {
    "supervision": "Løbende supervision af plejefamilien (demo)",
    "respite": "Støtteophold, så plejefamilien kan holde fri (demo)",
    "psychologist": "Psykologforløb for barnet (demo)",
    "home_guidance": "Hjemmevejledning om samvær og hverdagens struktur (demo)",
    "family_therapy": "Familiebehandling, så samarbejdet om anbringelsen bliver bedre (demo)",
    "substance_treatment": "Misbrugsbehandling for forælderen (demo)",
}


@dataclass(frozen=True)
class _NeedPlan:
    recipient: str
    service: str
    minutes: int
    per_week: float
    priority: int
    starts_on: dt.date
    birth: _Home | None = None  # the receiving birth household, for birth-household needs
    required: tuple[str, ...] = ()
    preferred: tuple[str, ...] = ()
    remote_ok: bool = False


def _create_needs(rng: random.Random, m: _Municipal, today: dt.date, by) -> list[_NeedInfo]:
    homes = {id(h.household): h for h in (*m.fosters, *m.births)}
    login_stay = m.cases[0].stays[0]
    supervised: set[int] = set()
    created: list[_NeedInfo] = []
    for case in m.cases:
        for stay in case.stays:
            placement = stay.placement
            if stay.history == "legacy":
                continue  # from before the system: no support recorded
            if stay.history in ("ended", "broke_down"):
                # The support it had; ending the placement later ends this too (services._close_placement).
                start = placement.starts_on + dt.timedelta(days=14)
                plans = [_NeedPlan("foster_household", "supervision", 120, 0.25, 3, start)]
            else:
                plans = _need_plans(rng, today, case, placement, supervised, guide_birth=stay is login_stay)
            infos = []
            for plan in plans:
                home = plan.birth or homes[id(placement.foster_household)]
                # A § 32 decision states its expected duration; supervision is an ongoing duty.
                months = None if plan.service == "supervision" else rng.choice((6, 12))
                need = services.create_support_need(
                    placement=placement, recipient=plan.recipient, service=plan.service,
                    recipient_household=plan.birth.household if plan.birth else None,
                    minutes_per_session=plan.minutes, sessions_per_week=plan.per_week,
                    required_competences=plan.required, preferred_competences=plan.preferred,
                    language="da" if plan.recipient == Recipient.CHILD else home.household.languages[0],
                    remote_ok=plan.remote_ok, priority=plan.priority, reason=_REASONS[plan.service],
                    starts_on=plan.starts_on,
                    ends_on=plan.starts_on + relativedelta(months=months) if months else None,
                    origin=NeedOrigin.ALERT if plan.priority == 5 else NeedOrigin.CONSULTANT, by=by,
                )
                infos.append(_NeedInfo(need=need, code=m.spec.code, home=home,
                                       competences=frozenset(plan.required), active=stay.ends_on is None))
            # The foster family's supervisor or therapist should not also work with the birth parents.
            foster_side = [i for i in infos if i.need.recipient == Recipient.FOSTER_HOUSEHOLD]
            birth_side = [i for i in infos if i.need.recipient == Recipient.BIRTH_HOUSEHOLD]
            if foster_side and birth_side and (stay is login_stay or rng.random() < 0.7):
                services.separate_needs(need=foster_side[0].need, other=birth_side[0].need, by=by)
            created.extend(infos)
    return created


def _need_plans(
    rng: random.Random, today: dt.date, case: _Case, placement: Placement, supervised: set[int], *,
    guide_birth: bool,
) -> list[_NeedPlan]:
    """What an active placement needs, drawn with rough real-world frequencies."""
    plans = []
    household = placement.foster_household
    age = case.child.age_on(today)
    first_year = (today - placement.starts_on).days < 365  # new placements get intensive support

    def priority(base: int) -> int:
        return max(1, min(5, base + first_year + rng.choice((-1, 0, 0, 1))))

    def starts() -> dt.date:
        return max(placement.starts_on, today + dt.timedelta(days=rng.randint(-14, 21)))

    if household is not None:
        demanding = household.foster_type in (FosterType.FORSTAERKET, FosterType.SPECIALISERET)
        # Supervision is a right and a duty for almene, forstærkede and specialiserede families, not
        # netværk; one need per family, however many children it has.
        if household.foster_type != FosterType.NETVAERK and household.pk not in supervised:
            supervised.add(household.pk)
            trauma = household.foster_type == FosterType.SPECIALISERET and rng.random() < 0.5
            preferred = tuple(rng.sample(("attachment", "trauma", "adhd", "autism"), rng.randint(0, 2)))
            plans.append(_NeedPlan(
                "foster_household", "supervision", rng.choice((90, 120)), 0.5 if demanding else 0.25,
                priority(2 + demanding), starts(), required=("trauma",) if trauma else (),
                preferred=preferred, remote_ok=rng.random() < 0.35,
            ))
        if rng.random() < (0.5 if demanding else 0.08):
            preferred = (rng.choice(("adhd", "autism", "attachment")),)
            plans.append(_NeedPlan("foster_household", "respite", 2880, rng.choice((0.25, 0.5)), priority(3),
                                   starts(), preferred=preferred))
        if rng.random() < (0.3 if age >= 10 or first_year else 0.15):
            topics = ["trauma", "sexual_abuse"] + (["attachment"] if age < 6 else [])
            topics += ["self_harm", "eating_disorder"] if age >= 12 else []
            required = (rng.choice(topics),) if rng.random() < 0.6 else ()
            plans.append(_NeedPlan(
                "child", "psychologist", 60, rng.choice((0.5, 1)),
                priority(4 if "self_harm" in required else 3), starts(), required=required,
                remote_ok=age >= 10 and rng.random() < 0.3,
            ))
    if case.births:
        birth = case.births[0] if guide_birth else rng.choice(case.births)
        if guide_birth or rng.random() < 0.35:
            required = ("violence",) if rng.random() < 0.2 else ()
            plans.append(_NeedPlan(
                "birth_household", "home_guidance", rng.choice((120, 180)), rng.choice((1, 2)), priority(3),
                starts(), birth=birth, required=required, preferred=("attachment",),
            ))
        if rng.random() < 0.15:
            preferred = (rng.choice(("violence", "attachment", "trauma")),)
            plans.append(_NeedPlan(
                "birth_household", "family_therapy", 90, rng.choice((0.5, 1)), priority(2), starts(),
                birth=birth, preferred=preferred, remote_ok=rng.random() < 0.3,
            ))
        if rng.random() < 0.12:
            plans.append(_NeedPlan(
                "birth_household", "substance_treatment", rng.choice((60, 90)), 1, priority(3), starts(),
                birth=birth, required=("substance_abuse",), remote_ok=rng.random() < 0.1,
            ))
    return plans


def _assign_some(
    rng: random.Random, needs: list[_NeedInfo], providers: list[_ProviderInfo], by, *,
    login_provider: _ProviderInfo,
) -> None:
    """Give a few long-running needs the provider they already have (continuity in the matching)."""
    login_need = needs[0] if needs and needs[0].need.service.code == "supervision" else None
    chosen = [
        n for n in needs
        if n is not login_need and n.active and n.need.service.code in ("supervision", "psychologist")
        and (n.need.starts_on - n.need.placement.starts_on).days > 365 and rng.random() < 0.35
    ][:5]
    if login_need is not None and login_need.home.household is login_need.need.placement.foster_household:
        chosen.insert(0, login_need)
    for_login = 0
    for info in chosen:
        feasible = [p for p in providers if _can_serve(p, info)]
        if not feasible:
            continue
        # The provider login gets two needs in each municipality, so its scoped views show both.
        if login_provider in feasible and for_login < 2:
            provider, for_login = login_provider, for_login + 1
        else:
            provider = min(feasible, key=lambda p: (_distance(p, info), p.spec.name))
        need = info.need
        provider.load += need.minutes_per_session * float(need.sessions_per_week)
        provider.cases += 1
        need.current_provider = provider.provider
        need.status = NeedStatus.ASSIGNED
        need.save(update_fields=["current_provider", "status", "updated_at"])
        audit.record(actor=by, action="support_need.assign", obj=need,
                     details={"provider": provider.provider.pk, "source": "seed_demo"})


def _can_serve(p: _ProviderInfo, info: _NeedInfo) -> bool:
    """The matching spec's hard rules, plus the provider serving the municipality."""
    need, spec = info.need, p.spec
    minutes = need.minutes_per_session
    return (
        need.service.code in spec.services
        and info.competences <= set(spec.competences)
        and need.language in spec.languages
        and info.code in spec.serves
        and ((need.remote_ok and spec.offers_remote) or _distance(p, info) <= spec.max_travel_km)
        and p.load + minutes * float(need.sessions_per_week) <= spec.capacity
        and p.cases < spec.max_cases
        and (not p.windows or not info.home.windows or any(
            day == other_day and min(end, other_end) - max(start, other_start) >= minutes
            for day, start, end in p.windows for other_day, other_start, other_end in info.home.windows
        ))
    )


def _distance(p: _ProviderInfo, info: _NeedInfo) -> int:
    home = info.home.household
    return distance_km(p.provider.latitude, p.provider.longitude, home.latitude, home.longitude)


def _end_histories(rng: random.Random, m: _Municipal, by) -> None:
    """Close earlier placements through the services, so endings obey the same rules as real ones."""
    for case in m.cases:
        for stay in case.stays:
            if stay.ends_on is None:
                continue
            if stay.history == "broke_down":
                services.record_breakdown(placement=stay.placement, on=stay.ends_on, by=by,
                                          reason=rng.choice(BreakdownReason.values),
                                          note="Sammenbrud i et fiktivt forløb (demo)")
            else:
                legacy = stay.history == "legacy"
                note = "Afsluttet før 2019 (historisk, demo)" if legacy else "Hjemgivet som planlagt (demo)"
                services.end_placement(placement=stay.placement, on=stay.ends_on, by=by, note=note)
