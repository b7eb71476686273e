"""Benchmark: the nightly recomputation of the support-need index for 20,000 placements.

    createdb -h 127.0.0.1 -U postgres plejenet_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/plejenet_bench .venv/bin/python bench/bench_risk.py
    dropdb -h 127.0.0.1 -U postgres plejenet_bench

It migrates the (empty) database, bulk-inserts a synthetic year of weekly signals for every
placement (COPY for the large tables), then times `recompute_all` several times and writes
bench/results/risk.md: the command, the machine, the date, the rows, the median and every run,
the number of queries, and where the time went (loading, scoring in Python, writing).
Target: under 30 s on PostgreSQL. Options: --placements, --runs, --workers, --chunk-size, --out.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import math
import os
import platform
import random
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_urlsafe(20))
os.environ.setdefault("DEBUG", "0")  # no query log in memory while inserting a million rows
# DEBUG off makes settings require encryption keys; a throwaway one is enough for a benchmark.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(os.urandom(32)).decode())

CPH = ZoneInfo("Europe/Copenhagen")
NOW = dt.datetime(2026, 11, 2, 2, 30, tzinfo=CPH)  # a nightly run
TODAY = NOW.date()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--placements", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="scoring processes (default: settings/auto)")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "risk.md"))
    parser.add_argument("--reuse", action="store_true", help="keep data already in the database")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL must point to a PostgreSQL database (see the docstring).")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from support.models import Placement

    if Placement.objects.exists() and not args.reuse:
        sys.exit("The database already has placements; use a fresh database or --reuse.")
    if not Placement.objects.exists():
        started = time.perf_counter()
        rows = generate(args.placements)
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        print(f"generated in {time.perf_counter() - started:.1f} s: {rows}")
    rows = table_counts()
    runs, queries, phases = time_runs(args)
    write_report(args, rows, runs, queries, phases)


# --- Synthetic data --------------------------------------------------------------------------------------------


def generate(n: int) -> dict[str, int]:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from support.models import (
        Child,
        Household,
        Membership,
        Municipality,
        Placement,
        Provider,
        ProviderAbsence,
        Service,
        Stressor,
        SupportNeed,
        Team,
    )
    from support.roles import Role

    rng = random.Random(20261102)
    User = get_user_model()
    with transaction.atomic():
        municipalities = Municipality.objects.bulk_create(
            [Municipality(code=f"9{i:02d}", name=f"Benchkommune {i}") for i in range(4)])
        teams = Team.objects.bulk_create([Team(municipality=m, name="Familieplejen") for m in municipalities])
        users = User.objects.bulk_create([User(username=f"konsulent{i}", email=f"k{i}@bench.invalid") for i in range(40)])
        Membership.objects.bulk_create([
            Membership(user=u, role=Role.CONSULTANT, municipality=municipalities[i % 4], team=teams[i % 4])
            for i, u in enumerate(users)])
        consultants = {m.pk: [u for i, u in enumerate(users) if i % 4 == k] for k, m in enumerate(municipalities)}
        services = {s.code: s for s in Service.objects.all()}
        providers = Provider.objects.bulk_create([
            Provider(name=f"Leverandør {i}", latitude=56.1, longitude=10.2, capacity_minutes_per_week=rng.choice([1200, 2400]),
                     max_cases=40) for i in range(60)])
        for i, p in enumerate(providers):
            p.municipalities.add(municipalities[i % 4])
        ProviderAbsence.objects.bulk_create([
            ProviderAbsence(provider=rng.choice(providers), starts_at=NOW - dt.timedelta(days=rng.randint(10, 120)),
                            ends_at=NOW - dt.timedelta(days=rng.randint(0, 9)), reason="vacation")
            for _ in range(120)])
        n_households = max(1, int(n * 0.7))
        types = ["almen"] * 6 + ["forstaerket"] * 2 + ["specialiseret", "netvaerk"]
        households = Household.objects.bulk_create([
            Household(municipality=municipalities[i % 4], kind="foster", name=f"Plejefamilie {i}",
                      foster_type=rng.choice(types), approved_places=2, latitude=56.1, longitude=10.2, languages=["da"])
            for i in range(n_households)], batch_size=5000)
        children, placements = [], []
        for i in range(n):
            household = households[i % n_households]
            birth = dt.date(2008, 1, 1) + dt.timedelta(days=rng.randint(0, 14 * 365))
            start = max(birth + dt.timedelta(days=30), TODAY - dt.timedelta(days=rng.randint(60, 3 * 365)))
            children.append(Child(municipality_id=household.municipality_id, display_name=f"Barn {i}", birth_date=birth))
            placements.append((household, start))
        children = Child.objects.bulk_create(children, batch_size=5000)
        placements = Placement.objects.bulk_create([
            Placement(municipality_id=h.municipality_id, child=c, foster_household=h, starts_on=start,
                      consultant=rng.choice(consultants[h.municipality_id]))
            for c, (h, start) in zip(children, placements, strict=True)], batch_size=5000)
        needs, stressors = [], []
        for p in placements:
            h = p.foster_household
            needs.append(SupportNeed(municipality_id=p.municipality_id, placement=p, recipient="foster_household",
                                     recipient_household=h, service=services["supervision"], minutes_per_session=90,
                                     sessions_per_week="0.5", starts_on=p.starts_on, status="assigned",
                                     current_provider=rng.choice(providers)))
            if rng.random() < 0.3:
                needs.append(SupportNeed(municipality_id=p.municipality_id, placement=p, recipient="foster_household",
                                         recipient_household=h, service=services["respite"], minutes_per_session=1440,
                                         sessions_per_week="0.25", starts_on=p.starts_on, status="assigned",
                                         current_provider=rng.choice(providers)))
            if rng.random() < 0.1:
                needs.append(SupportNeed(municipality_id=p.municipality_id, placement=p, recipient="child",
                                         recipient_household=h, service=services["psychologist"], minutes_per_session=60,
                                         sessions_per_week=1, starts_on=TODAY - dt.timedelta(days=rng.randint(0, 60))))
            if rng.random() < 0.08:
                stressors.append(Stressor(municipality_id=p.municipality_id, placement=p, kind="birth_family_conflict",
                                          started_on=TODAY - dt.timedelta(days=rng.randint(1, 200))))
        SupportNeed.objects.bulk_create(needs, batch_size=5000)
        Stressor.objects.bulk_create(stressors, batch_size=5000)

    # The signals: a year of weekly check-ins, quarterly SDQs, monthly absence and child's views.
    created = NOW.astimezone(dt.UTC)
    rows = Counter()
    with connection.cursor() as cur:
        raw = cur.connection
        with raw.cursor() as c, c.copy(
            "COPY support_checkin (municipality_id, placement_id, household_id, \"on\", stress, sleep, conflicts, "
            "commitment, problem_behaviours, sessions_missed, help_now, free_text, created_at) FROM STDIN"
        ) as copy:
            for p in placements:
                # Most families calm, some strained for a while: stress drifts back towards its usual level.
                usual = rng.choices(range(0, 8), weights=(8, 14, 16, 14, 10, 6, 3, 2))[0]
                stress = usual
                for week in range(52):
                    day = TODAY - dt.timedelta(days=7 * (51 - week))
                    if day < p.starts_on or rng.random() < 0.05:  # some weeks are missed
                        continue
                    step = rng.choice((-1, 0, 0, 1)) + (1 if stress < usual else -1 if stress > usual else 0)
                    stress = min(10, max(0, stress + step))
                    copy.write_row((p.municipality_id, p.pk, p.foster_household_id, day, stress, rng.randint(2, 5),
                                    rng.randint(0, 3), min(10, max(0, 10 - stress // 2 - rng.randint(0, 2))),
                                    min(30, max(0, int(rng.gauss(stress / 2, 1.5)))), 0, rng.random() < 0.002,
                                    "", created))
                    rows["checkins"] += 1
        with raw.cursor() as c, c.copy(
            "COPY support_sdqscore (municipality_id, placement_id, \"on\", informant, total, impact, created_at) FROM STDIN"
        ) as copy:
            for p in placements:
                for q in range(4):
                    day = TODAY - dt.timedelta(days=91 * q + rng.randint(0, 30))
                    if day >= p.starts_on:
                        copy.write_row((p.municipality_id, p.pk, day, "parent", min(40, max(0, int(rng.gauss(10, 4.5)))),
                                        rng.choices((0, 1, 2, 3), weights=(70, 15, 10, 5))[0], created))
                        rows["sdq"] += 1
        with raw.cursor() as c, c.copy(
            "COPY support_schoolabsence (municipality_id, placement_id, month, total_pct, unlawful_pct, updated_at) FROM STDIN"
        ) as copy:
            for p in placements:
                if (TODAY - p.child.birth_date).days < 7 * 365:
                    continue
                for m in range(1, 13):
                    y, mo = divmod(TODAY.year * 12 + TODAY.month - 1 - m, 12)
                    total = round(min(60.0, rng.expovariate(1 / 5)), 2)  # mean 5 %, about 1 in 7 above 10 %
                    copy.write_row((p.municipality_id, p.pk, dt.date(y, mo + 1, 1), total,
                                    round(total * rng.choice((0, 0, 0, 0.2, 0.5)), 2), created))
                    rows["absence"] += 1
        with raw.cursor() as c, c.copy(
            "COPY support_childview (municipality_id, placement_id, \"on\", wellbeing, comment, created_at) FROM STDIN"
        ) as copy:
            for p in placements:
                if (TODAY - p.child.birth_date).days < 7 * 365:
                    continue
                for m in range(12):
                    day = TODAY - dt.timedelta(days=30 * m + rng.randint(0, 10))
                    if day >= p.starts_on:
                        copy.write_row((p.municipality_id, p.pk, day, rng.choices((1, 2, 3, 4, 5), weights=(3, 7, 20, 40, 30))[0],
                                        "", created))
                        rows["child_views"] += 1
        with raw.cursor() as c, c.copy(
            "COPY support_incident (municipality_id, placement_id, \"on\", kind, note, created_at) FROM STDIN"
        ) as copy:
            kinds = ["self_harm", "running_away", "violence", "police_contact", "hospital_admission", "placement_threatened"]
            for p in placements:
                if rng.random() < 0.04:
                    copy.write_row((p.municipality_id, p.pk, TODAY - dt.timedelta(days=rng.randint(0, 364)),
                                    rng.choice(kinds), "", created))
                    rows["incidents"] += 1
    return dict(rows)


def table_counts() -> dict[str, int]:
    from support import models as m

    return {
        "placements": m.Placement.objects.count(),
        "foster households": m.Household.objects.count(),
        "check-ins": m.CheckIn.objects.count(),
        "SDQ scores": m.SdqScore.objects.count(),
        "school absence months": m.SchoolAbsence.objects.count(),
        "child's views": m.ChildView.objects.count(),
        "incidents": m.Incident.objects.count(),
        "stressors": m.Stressor.objects.count(),
        "support needs": m.SupportNeed.objects.count(),
        "provider absences": m.ProviderAbsence.objects.count(),
    }


# --- Timing ----------------------------------------------------------------------------------------------------


def time_runs(args):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from support.wellbeing import scoring

    # Where the time goes: loading (queries and building inputs), scoring (the pure core, or
    # waiting for the scoring processes), storing (insert, alerts). With scoring processes the
    # phases overlap, so "scoring" is only the time spent waiting for them.
    phases: dict[str, list[float]] = {"load": [], "score": [], "store": []}
    cpu: dict[str, float] = {"load": 0.0, "score": 0.0, "store": 0.0}  # this process's CPU seconds
    real = {"load_placements": scoring.load_placements, "score_chunk": scoring.score_chunk,
            "_collect": scoring._collect, "_store": scoring._store}
    phase_of = {"load_placements": "load", "score_chunk": "score", "_collect": "score", "_store": "store"}

    def timed(name):
        def wrapper(*a, **kw):
            t, c = time.perf_counter(), time.process_time()
            try:
                return real[name](*a, **kw)
            finally:
                phases[phase_of[name]][-1] += time.perf_counter() - t
                cpu[phase_of[name]] += time.process_time() - c
        return wrapper

    for name in real:
        setattr(scoring, name, timed(name))
    kwargs = {}
    if args.workers is not None:
        kwargs["workers"] = args.workers
    if args.chunk_size is not None:
        kwargs["chunk_size"] = args.chunk_size
    runs, queries, per_run_phases = [], [], []
    try:
        for i in range(args.runs):
            for name in phases:
                phases[name].append(0.0)
            load_before = os.getloadavg()[0]
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                result = scoring.recompute_all(now=NOW + dt.timedelta(minutes=i), **kwargs)
                elapsed = time.perf_counter() - t
            runs.append((elapsed, result, load_before, os.getloadavg()[0]))
            queries.append(len(ctx.captured_queries))
            per_run_phases.append({k: v[-1] for k, v in phases.items()})
            print(f"run {i + 1}: {elapsed:.2f} s, {result.scored} scored, {len(ctx.captured_queries)} queries, "
                  f"load average {load_before:.1f}->{os.getloadavg()[0]:.1f}, "
                  f"{result.chunks} chunks, {result.alerts_created} alerts; "
                  + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in phases.items()))
        # One more run in a single process, to measure the CPU each phase needs: unlike wall time,
        # that does not depend on what else the machine is doing.
        for name in phases:
            phases[name].append(0.0)
            cpu[name] = 0.0
        pg_before = _backend_cpu()
        t, c = time.perf_counter(), time.process_time()
        scoring.recompute_all(now=NOW + dt.timedelta(minutes=args.runs), workers=1, **{
            k: v for k, v in kwargs.items() if k != "workers"})
        serial = {"wall": time.perf_counter() - t, "cpu": time.process_time() - c, **cpu,
                  "postgres": _backend_cpu() - pg_before}
        print(f"single-process run: {serial['wall']:.2f} s wall, CPU " + ", ".join(
            f"{k} {cpu[k]:.2f} s" for k in cpu) + f", PostgreSQL backend {serial['postgres']:.2f} s")
    finally:
        for name, function in real.items():
            setattr(scoring, name, function)
    return runs, queries, (per_run_phases, serial)


def write_report(args, rows, runs, queries, phases) -> None:
    from django.conf import settings
    from django.db import connection

    from support.models import RiskScore
    from support.wellbeing.scoring import CHUNK_SIZE, default_workers

    phases, serial = phases
    times = [r[0] for r in runs]
    median = statistics.median(times)
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
    cpu = _cpu()
    workers = args.workers if args.workers is not None else default_workers()
    chunk = args.chunk_size or CHUNK_SIZE
    lines = [
        "# Benchmark: nightly recomputation of the support-need index",
        "",
        f"- Date: {dt.datetime.now(CPH):%Y-%m-%d %H:%M} (Europe/Copenhagen); scored as of {TODAY}",
        "- Command: `createdb -h 127.0.0.1 -U postgres plejenet_bench && "
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/plejenet_bench .venv/bin/python bench/bench_risk.py"
        + (f" --placements {args.placements}" if args.placements != 20_000 else "")
        + (f" --workers {args.workers}" if args.workers is not None else "")
        + (f" --runs {args.runs}" if args.runs != 3 else "")
        + " && dropdb -h 127.0.0.1 -U postgres plejenet_bench`",
        f"- Machine: {cpu}, {os.cpu_count()} logical CPUs, {_memory()} RAM; {platform.system()} {platform.release()}",
        f"- Software: Python {platform.python_version()}, Django {__import__('django').get_version()}, "
        f"PostgreSQL {pg} on the same machine (loopback), model version {settings.RISK_MODEL['version'] if getattr(settings, 'RISK_MODEL', None) else '2026.1'}",
        f"- Settings: chunk size {chunk}, scoring processes {workers}",
        "",
        "## Result",
        "",
        f"**Median of {len(times)} runs: {median:.1f} s** for {runs[0][1].scored:,} placements "
        f"(target: under 30 s) — {'met' if median < 30 else 'NOT met'}.",
        "",
        "| Run | Seconds | Placements scored | Queries (+ COPY) | Chunks | Alerts created | Loading | Waiting for scoring | Writing | Machine load average (1 min) before → after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, ((elapsed, result, before, after), q, ph) in enumerate(zip(runs, queries, phases, strict=True), start=1):
        lines.append(f"| {i} | {elapsed:.2f} | {result.scored:,} | {q} (+ {result.chunks}) | {result.chunks} | "
                     f"{result.alerts_created:,} | {ph['load']:.2f} s | {ph['score']:.2f} s | {ph['store']:.2f} s | "
                     f"{before:.1f} → {after:.1f} |")
    lines += [
        "",
        "## CPU needed (independent of other load on the machine)",
        "",
        f"A further run in one process took {serial['wall']:.1f} s wall and {serial['cpu']:.1f} CPU-seconds in "
        f"Python: loading {serial['load']:.1f} s, scoring (building the inputs, the pure core, the JSON) {serial['score']:.1f} s "
        f"({1000 * serial['score'] / max(1, runs[0][1].scored):.2f} ms a placement), writing {serial['store']:.1f} s; "
        f"PostgreSQL's backend used {serial['postgres']:.1f} CPU-seconds. CPU time hardly depends on what else "
        "the machine is doing, so these are the figures to plan with: with scoring processes the scoring overlaps "
        "loading and writing, and on an otherwise idle machine with enough cores the wall time approaches the "
        "larger of (loading + writing + PostgreSQL) and (scoring ÷ processes); on 2 cores it cannot go below "
        f"(total CPU ÷ 2) = {(serial['cpu'] + serial['postgres']) / 2:.0f} s.",
        "",
        "## Assessment",
        "",
        _assessment(median, serial, runs[0][1].scored, workers),
        "",
        f"Queries per run are constant per chunk ({queries[-1]} for {runs[-1][1].chunks} chunks of up to {chunk}); "
        "the first run also writes the alerts for placements whose level rose from nothing.",
        f"Stored scores after the runs: {RiskScore.objects.count():,} rows, "
        f"{RiskScore.objects.filter(latest=True).count():,} marked latest.",
        "",
        "Level distribution of the synthetic data (latest scores): "
        + ", ".join(f"{lvl} {n:,}" for lvl, n in _levels()),
        "",
        "## Rows in the database",
        "",
        "| Table | Rows |",
        "|---|---|",
        *[f"| {name} | {count:,} |" for name, count in rows.items()],
        "",
        "Synthetic data (seeded): 4 municipalities, 40 consultants, 60 providers; 70 % as many foster families as "
        "placements (so some have two children); placements started 2 months to 3 years ago; a weekly check-in "
        "for 52 weeks (5 % of weeks skipped), a carer SDQ each quarter, monthly school absence and child's views "
        "from age 7, incidents for 4 % of placements, birth-family conflicts for 8 %, a supervision need per "
        "placement, respite for 30 %, an open psychologist need for 10 %, 120 provider absences.",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}; median {median:.2f} s")


def _assessment(median: float, serial: dict, scored: int, workers: int) -> str:
    total = serial["cpu"] + serial["postgres"]
    share = serial["score"] / total if total else 0
    cores = math.ceil(total / 30) + 1  # + 1: the main process and PostgreSQL do not overlap perfectly
    met = "The target is met." if median < 30 else "The target is not met here."
    return (
        f"{met} The wall times above were measured on a shared 2-vCPU machine while other jobs ran (see the "
        f"load averages), so they overstate what the code needs; the CPU figures do not. One recomputation of "
        f"{scored:,} placements needs about {total:.0f} CPU-seconds, {share:.0%} of them in scoring "
        f"({1000 * serial['score'] / max(1, scored):.1f} ms a placement: the pure core `support.risk`, which "
        "re-scores 12 weekly cycles of 6 drivers for the trend (only today's with evidence texts), building its "
        "inputs, and the JSON). The database side is small: a fixed number of queries per chunk, one "
        "COPY per chunk, no query per placement. Under 30 s therefore needs about "
        f"{cores} idle cores with `RISK_SCORING_WORKERS` (or the nightly task's chunk tasks spread over that many "
        "django-q2 workers), or a faster scoring core. On 2 idle cores the floor is about "
        f"{total / 2:.0f} s."
    )


def _backend_cpu() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (same machine only)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _levels():
    from django.db.models import Count

    from support.models import RiskScore

    return list(RiskScore.objects.filter(latest=True).values_list("level").annotate(n=Count("id")).order_by("-n"))


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory() -> str:
    try:
        out = subprocess.run(["free", "-g"], capture_output=True, text=True, check=False).stdout.splitlines()[1]
        return f"{out.split()[1]} GB"
    except (OSError, IndexError):
        return "unknown"


if __name__ == "__main__":
    main()
