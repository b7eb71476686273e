"""Benchmark: schedule a year of sessions for 2,000 accepted assignments in one municipality.

    .venv/bin/python bench/bench_scheduling.py            # PostgreSQL on 127.0.0.1, 3 runs
    .venv/bin/python bench/bench_scheduling.py --needs 500 --runs 1 --database-url sqlite:////tmp/b.sqlite3

By default it creates the PostgreSQL database ``plejenet_bench_sched`` (``createdb -h 127.0.0.1 -U
postgres``), migrates it, generates a municipality-sized synthetic data set with bulk inserts
(providers with weekly availability and some summer holidays, foster households around them,
children, placements and accepted assignments of mixed frequency and length, 5 % of them respite
at respite households), then times ``schedule_assignments(confirm=True)``: propose, hold and
activate a series for every assignment, materialised a year ahead. Between runs the session
tables are emptied, so every run does the same work. It writes ``bench/results/scheduling.md``
and drops the database (``--keep-db`` keeps it). The target is under 60 s per run.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "plejenet_bench_sched"
PG = ["-h", "127.0.0.1", "-U", "postgres"]
CPH = ZoneInfo("Europe/Copenhagen")
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=CPH)
TARGET_SECONDS = 60.0
CASES_PER_PROVIDER = 10
RESPITE_SHARE = 0.05
RESPITE_PLACES = 3


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--needs", type=int, default=2000, help="accepted assignments to schedule (default 2000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; the median is reported (default 3)")
    parser.add_argument("--seed", type=int, default=20261102)
    parser.add_argument("--workers", type=int, default=2, help="threads for schedule_assignments (default 2)")
    parser.add_argument("--database-url", help="use this database instead of creating plejenet_bench_sched")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database afterwards")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "scheduling.md"))
    args = parser.parse_args()
    if args.needs < 1 or args.runs < 1:
        parser.error("--needs and --runs must be at least 1")
    return args


def pg(command: str, *args: str) -> None:
    subprocess.run([command, *PG, *args], check=True, capture_output=True, text=True)


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-" + "x" * 30)
    os.environ.setdefault("DEBUG", "0")  # no query log kept in memory
    # DEBUG off makes settings require encryption keys; a throwaway one is enough for a benchmark.
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(os.urandom(32)).decode())
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- Synthetic municipality ----------------------------------------------------------------------------------


def _windows(model, owner_field, owner, spans):
    from support.models import WEEKDAYS

    return [
        model(**{owner_field: owner}, day=WEEKDAYS[day], start_minute=start * 60, end_minute=end * 60)
        for day, start, end in spans
    ]


def generate(needs: int, seed: int):
    """Bulk-insert a municipality with ``needs`` accepted assignments; returns the municipality."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from support.models import (
        Child,
        FosterType,
        Household,
        HouseholdKind,
        Municipality,
        NeedStatus,
        Placement,
        Provider,
        ProviderAbsence,
        Service,
        SupportNeed,
        WeeklyAvailability,
    )

    rng = random.Random(seed)
    services = {s.code: s for s in Service.objects.all()}
    session_services = [services[c] for c in ("supervision", "home_guidance", "family_therapy", "psychologist")]
    n_respite = round(needs * RESPITE_SHARE)
    n_sessions = needs - n_respite

    with transaction.atomic():
        town = Municipality.objects.create(code="900", name="Benchkommune")
        User = get_user_model()
        User.objects.bulk_create([User(username=f"bench-konsulent-{i}") for i in range(20)])
        consultants = list(User.objects.filter(username__startswith="bench-konsulent-"))

        def around(lat, lon, km):
            return lat + rng.uniform(-km, km) / 111.0, lon + rng.uniform(-km, km) / 62.0

        # Providers: session providers with ten cases each, respite families with three places.
        n_session_providers = -(-n_sessions // CASES_PER_PROVIDER)
        n_respite_providers = max(1, -(-n_respite // (RESPITE_PLACES * 2))) if n_respite else 0
        hosts = Household.objects.bulk_create([
            Household(municipality=town, kind=HouseholdKind.RESPITE, foster_type=FosterType.ALMEN,
                      name=f"Aflastning {i}", approved_places=RESPITE_PLACES, latitude=lat, longitude=lon,
                      languages=["da"])
            for i, (lat, lon) in enumerate(around(56.15, 10.2, 30) for _ in range(n_respite_providers))
        ])
        providers = Provider.objects.bulk_create(
            [
                Provider(name=f"Behandler {i}", latitude=lat, longitude=lon, max_travel_km=40,
                         capacity_minutes_per_week=2400, max_cases=CASES_PER_PROVIDER + 2, languages=["da"])
                for i, (lat, lon) in enumerate(around(56.15, 10.2, 30) for _ in range(n_session_providers))
            ]
            + [
                Provider(name=f"Aflastningsfamilie {i}", latitude=h.latitude, longitude=h.longitude, max_travel_km=60,
                         capacity_minutes_per_week=10000, max_cases=RESPITE_PLACES * 3, languages=["da"], household=h)
                for i, h in enumerate(hosts)
            ]
        )
        session_providers, respite_providers = providers[:n_session_providers], providers[n_session_providers:]
        Through = Provider.municipalities.through
        Through.objects.bulk_create([Through(provider=p, municipality=town) for p in providers])
        ServiceThrough = Provider.services.through
        ServiceThrough.objects.bulk_create(
            [ServiceThrough(provider=p, service=rng.choice(session_services)) for p in session_providers]
            + [ServiceThrough(provider=p, service=services["respite"]) for p in respite_providers]
        )
        availability = []
        for p in session_providers:
            spans = [(d, 8, 16) for d in range(5)]
            if rng.random() < 0.2:
                spans += [(1, 16, 19), (3, 16, 19)]
            availability += _windows(WeeklyAvailability, "provider", p, spans)
        # A third of the providers take three weeks' summer holiday.
        absences = [
            ProviderAbsence(provider=p, starts_at=dt.datetime(2027, 7, 5, tzinfo=CPH),
                            ends_at=dt.datetime(2027, 7, 26, tzinfo=CPH), reason="vacation")
            for p in session_providers if rng.random() < 1 / 3
        ]
        ProviderAbsence.objects.bulk_create(absences)

        # One foster household, child and placement per assignment, near its provider.
        plan = []  # (provider, service, per_week, minutes)
        for i in range(n_sessions):
            provider = session_providers[i // CASES_PER_PROVIDER]
            per_week = rng.choices(["1", "0.5", "2", "0.25"], weights=[55, 25, 10, 10])[0]
            minutes = rng.choices([60, 90, 120], weights=[50, 30, 20])[0]
            plan.append((provider, None, per_week, minutes))
        for i in range(n_respite):
            plan.append((respite_providers[i % len(respite_providers)], services["respite"],
                         rng.choice(["0.25", "0.5"]), 50 * 60))
        homes = Household.objects.bulk_create([
            Household(municipality=town, kind=HouseholdKind.FOSTER, foster_type=FosterType.ALMEN,
                      name=f"Plejefamilie {i}", approved_places=2, latitude=lat, longitude=lon, languages=["da"])
            for i, (lat, lon) in enumerate(around(p.latitude, p.longitude, 10) for p, *_ in plan)
        ])
        for home in homes:
            pattern = rng.random()
            if pattern < 0.5:
                spans = [(d, 9, 15) for d in range(5)]
            elif pattern < 0.8:
                spans = [(d, 14, 19) for d in range(5)]
            else:
                spans = [(d, 10, 16) for d in sorted(rng.sample(range(5), 3))]
            availability += _windows(WeeklyAvailability, "household", home, spans)
        WeeklyAvailability.objects.bulk_create(availability)
        children = Child.objects.bulk_create([
            Child(municipality=town, display_name=f"B{i}", birth_date=dt.date(2012 + i % 10, 1 + i % 12, 1))
            for i in range(len(plan))
        ])
        placements = Placement.objects.bulk_create([
            Placement(municipality=town, child=c, foster_household=h, consultant=consultants[i % len(consultants)],
                      starts_on=dt.date(2026, 1, 1))
            for i, (c, h) in enumerate(zip(children, homes, strict=True))
        ])
        SupportNeed.objects.bulk_create([
            SupportNeed(
                municipality=town, placement=pl, recipient="foster_household", recipient_household=home,
                service=service or rng.choice(session_services), minutes_per_session=minutes,
                sessions_per_week=per_week, starts_on=dt.date(2026, 11, 2), status=NeedStatus.ASSIGNED,
                current_provider=provider, priority=rng.randint(1, 5),
            )
            for (provider, service, per_week, minutes), pl, home in zip(plan, placements, homes, strict=True)
        ])
    return town, {"providers": len(providers), "respite_households": len(hosts), "households": len(homes),
                  "needs": len(plan), "respite_needs": n_respite, "absences": len(absences)}


# --- Timing ----------------------------------------------------------------------------------------------------


def clear_sessions() -> None:
    from django.db import connection

    from scheduler.models import Booking, BookingParty, SeriesChange, SessionOccurrence, SessionSeries
    from support.models import AuditEntry

    if connection.vendor == "postgresql":
        tables = [m._meta.db_table for m in (Booking, SeriesChange, SessionOccurrence, SessionSeries, BookingParty)]
        with connection.cursor() as cursor:
            # CASCADE: other apps' rows that point at sessions (e.g. calendar outboxes) go too; this is the
            # throwaway benchmark database.
            cursor.execute("TRUNCATE " + ", ".join(tables) + " CASCADE")
    else:
        for model in (Booking, SeriesChange, SessionOccurrence, SessionSeries, BookingParty):
            model.objects.all().delete()
    AuditEntry.objects.filter(action__startswith="session_series.").delete()


class QueryCounter:
    """Counts statements on every connection (worker threads have their own)."""

    def __init__(self):
        import threading

        from django.db.backends import utils

        self.count = 0
        self._lock = threading.Lock()
        self._utils = utils
        self._original = utils.CursorWrapper._execute_with_wrappers

    def __enter__(self):
        counter, original = self, self._original

        def counted(cursor, sql, params, many, executor):
            with counter._lock:
                counter.count += 1
            return original(cursor, sql, params, many, executor)

        self._utils.CursorWrapper._execute_with_wrappers = counted
        return self

    def __exit__(self, *exc):
        self._utils.CursorWrapper._execute_with_wrappers = self._original


def timed_run(town, workers: int = 1):
    from scheduler.models import Booking, SessionOccurrence
    from scheduler.services.sessions import schedule_assignments

    clear_sessions()
    load_before = os.getloadavg()[0]
    with QueryCounter() as counter:
        started, cpu_started = time.perf_counter(), time.process_time()
        summary = schedule_assignments(municipality=town, by=None, now=NOW, confirm=True, workers=workers)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "seconds": seconds, "cpu": cpu, "workers": workers, "load": (load_before, os.getloadavg()[0]),
        "queries": counter.count, "series": summary.confirmed,
        "occurrences": SessionOccurrence.objects.filter(status__in=["scheduled", "moved"]).count(),
        "skipped": SessionOccurrence.objects.filter(status="skipped").count(),
        "bookings": Booking.objects.filter(active=True).count(), "failures": summary.failures,
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")).split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}"


def database_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("select sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"


def write_report(path: str, command: str, data: dict, runs: list[dict], setup_seconds: float) -> None:
    import django

    seconds = [r["seconds"] for r in runs]
    median = statistics.median(seconds)
    last = runs[-1]
    reasons: dict[str, int] = {}
    for _pk, code, _message in last["failures"]:
        reasons[code] = reasons.get(code, 0) + 1
    lines = [
        "# Benchmark: scheduling a year of sessions",
        "",
        f"- Command: `{command}`",
        f"- Date: {dt.datetime.now(CPH):%Y-%m-%d %H:%M} (Europe/Copenhagen); scheduled as of {NOW:%Y-%m-%d %H:%M}",
        f"- Machine: {machine()}",
        f"- Software: Python {platform.python_version()}, Django {django.get_version()}, {database_version()}",
        f"- Data set (synthetic, bulk-inserted in {setup_seconds:.1f} s): {data['needs']} accepted assignments "
        f"({data['respite_needs']} respite), {data['providers']} providers ({data['respite_households']} respite "
        f"households with {RESPITE_PLACES} places), {data['households']} foster households, "
        f"{data['absences']} provider summer holidays",
        f"- Work timed: `schedule_assignments(confirm=True, workers={runs[-1]['workers']})` - propose, hold and activate one series per "
        "assignment, materialised 12 months ahead, with availability, holidays, absences, travel time and "
        "the no-double-booking check (locks + exclusion constraint on PostgreSQL)",
        "",
        f"| | median of {len(runs)} | min | max | target |",
        "|---|---|---|---|---|",
        f"| seconds | **{median:.1f}** | {min(seconds):.1f} | {max(seconds):.1f} | < {TARGET_SECONDS:.0f} |",
        "",
        f"- Series created: {last['series']} ({len(last['failures'])} assignment(s) could not be placed"
        + (": " + ", ".join(f"{n} {c}" for c, n in sorted(reasons.items())) if reasons else "") + ")",
        f"- Occurrences created (booked): {last['occurrences']}; skipped with a reason (holiday, absence, clash, "
        f"full): {last['skipped']}",
        f"- Active bookings: {last['bookings']}",
        f"- Queries per run: {last['queries']} ({last['queries'] / max(1, data['needs']):.1f} per assignment)",
        f"- Runs (s): {', '.join(f'{s:.1f}' for s in seconds)}; CPU time of the Python process (s): "
        + ", ".join(f"{r['cpu']:.1f}" for r in runs) + " (the rest is PostgreSQL and waiting)",
        "- Load average (1 min) before/after each run: "
        + ", ".join(f"{r['load'][0]:.1f}/{r['load'][1]:.1f}" for r in runs)
        + f" on {os.cpu_count()} cores (other work on the machine slows the wall-clock time)",
        "",
        f"Result: {'PASS' if median < TARGET_SECONDS else 'FAIL'} (median {median:.1f} s against {TARGET_SECONDS:.0f} s).",
        "",
    ]
    busiest = max(max(r["load"]) for r in runs)
    if busiest > (os.cpu_count() or 1):
        lines[-1:-1] = [
            f"Note: the machine was oversubscribed (load average up to {busiest:.1f} on {os.cpu_count()} cores), so the "
            "wall-clock figures include time spent waiting for a core; the CPU times above are the work itself.",
            "",
        ]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> int:
    args = parse_args()
    command = "python bench/bench_scheduling.py " + " ".join(sys.argv[1:])
    created = args.database_url is None
    url = args.database_url or f"postgres://postgres@127.0.0.1:5432/{DEFAULT_DB}"
    if created:
        pg("dropdb", "--if-exists", DEFAULT_DB)
        pg("createdb", DEFAULT_DB)
    try:
        setup_django(url)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        town, data = generate(args.needs, args.seed)
        setup_seconds = time.perf_counter() - started
        print(f"generated {data} in {setup_seconds:.1f} s", flush=True)
        runs = []
        for i in range(args.runs):
            result = timed_run(town, args.workers)
            runs.append(result)
            print(f"run {i + 1}: {result['seconds']:.1f} s (cpu {result['cpu']:.1f} s, load "
                  f"{result['load'][0]:.1f}->{result['load'][1]:.1f}), {result['occurrences']} occurrences, "
                  f"{result['queries']} queries, {len(result['failures'])} not placed", flush=True)
        write_report(args.output, command.strip(), data, runs, setup_seconds)
        return 0 if statistics.median(r["seconds"] for r in runs) < TARGET_SECONDS else 1
    finally:
        if created and not args.keep_db:
            from django.db import connections

            connections.close_all()
            pg("dropdb", "--if-exists", DEFAULT_DB)


if __name__ == "__main__":
    sys.exit(main())
