"""Benchmark: calendar feeds, rendered in process and served by gunicorn under concurrent load.

    .venv/bin/python bench/bench_feeds.py                 # PostgreSQL on 127.0.0.1 (make bench-feeds)
    .venv/bin/python bench/bench_feeds.py --requests 2000 --concurrency 8 --keep-db

It creates the PostgreSQL database ``plejenet_bench_feeds`` (``createdb -h 127.0.0.1 -U postgres``),
migrates it and builds, through the scheduler's own services:

* a foster household with a year of sessions: a weekly and a fortnightly series (a year ahead,
  across both DST changes), a few moved and cancelled occurrences, and four meetings;
* a provider with 40 cases: 40 families, each with a confirmed weekly or fortnightly series.

Then it times, in process (the whole view, through Django's request handling, no network):
a full render of each feed, and a conditional GET answered 304; and, from a separate process with
a bounded number of requests and a time limit, requests per second against gunicorn on a free
loopback port (full responses and 304s). Results go to ``bench/results/feeds.md``; the database
is dropped afterwards unless ``--keep-db``.

Targets: the household feed's full render p95 <= 30 ms; a 304 at least 5x cheaper than a full
render; the number of queries does not depend on the number of events.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "plejenet_bench_feeds"
PG = ["-h", "127.0.0.1", "-U", "postgres"]
CPH = ZoneInfo("Europe/Copenhagen")
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=CPH)
PROVIDER_CASES = 40
TARGET_RENDER_P95_MS = 30.0
TARGET_304_RATIO = 5.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="in-process timings per measurement (default 300)")
    parser.add_argument("--requests", type=int, default=3000, help="HTTP requests per load run (default 3000)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per load run (default 30)")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--database-url", help="use this database instead of creating plejenet_bench_feeds")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "feeds.md"))
    parser.add_argument("--load-client", nargs=4, metavar=("URL", "REQUESTS", "CONCURRENCY", "SECONDS"),
                        help=argparse.SUPPRESS)  # internal: the separate load process
    parser.add_argument("--etag", default="", help=argparse.SUPPRESS)  # for --load-client
    return parser.parse_args()


# --- The load client (a separate process) ------------------------------------------------------------------------


def load_client(url: str, total: int, concurrency: int, seconds: float, etag: str) -> None:
    """Keep-alive HTTP/1.1 GETs from ``concurrency`` threads; prints one JSON line of results."""
    import http.client
    import threading
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    headers = {"User-Agent": "plejenet-bench/1", "Connection": "keep-alive"}
    if etag:
        headers["If-None-Match"] = etag
    lock = threading.Lock()
    issued = [0]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds

    def worker():
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        while True:
            with lock:
                if issued[0] >= total or time.monotonic() > deadline:
                    break
                issued[0] += 1
            started = time.perf_counter()
            try:
                conn.request("GET", parts.path, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                status = 0
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    print(json.dumps({
        "requests": len(latencies), "seconds": wall, "rps": len(latencies) / wall if wall else 0,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
        "p95_ms": 1000 * latencies[int(len(latencies) * 0.95) - 1] if latencies else None,
        "statuses": statuses,
    }))


# --- Setup ---------------------------------------------------------------------------------------------------------


def pg(command: str, *args: str) -> None:
    subprocess.run([command, *PG, *args], check=True, capture_output=True, text=True)


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-" + "x" * 30)
    os.environ.setdefault("DEBUG", "0")
    # A throwaway key: with DEBUG off the settings require one (no CalDAV passwords are stored here).
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(os.urandom(32)).decode())
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("SECURE_HTTPS", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import logging

    import django

    django.setup()
    # In process we time the view, not the console: the access log line is left out here (gunicorn
    # below writes it, to a file, as deployed).
    logging.getLogger("plejenet.access").setLevel(logging.WARNING)
    from django.apps import apps

    if not apps.is_installed("calendars"):
        sys.exit("calendars is not in INSTALLED_APPS (config/settings.py); add it first")


def build() -> dict:
    """The household and the provider, through the scheduler's services (as real use creates them)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from scheduler.models import OccurrenceStatus
    from scheduler.services import meetings, sessions
    from support import services
    from support.models import (
        Child,
        FosterType,
        Household,
        HouseholdKind,
        Membership,
        Municipality,
        NeedStatus,
        Placement,
        Provider,
        Service,
        SupportNeed,
        WeeklyAvailability,
    )
    from support.roles import Role

    User = get_user_model()
    aarhus = Municipality.objects.create(code="751", name="Aarhus")
    consultant = User.objects.create_user("bench-konsulent", email="konsulent@bench.test")
    Membership.objects.create(user=consultant, role=Role.CONSULTANT, municipality=aarhus)

    def household(name, lat=56.16, lon=10.20, **extra):
        return Household.objects.create(municipality=aarhus, name=name, kind=HouseholdKind.FOSTER,
                                        foster_type=FosterType.ALMEN, approved_places=2, latitude=lat, longitude=lon,
                                        street="Testvej 1", postcode="8000", city="Aarhus C", languages=["da"],
                                        **extra)

    def provider(name, service):
        p = Provider.objects.create(name=name, latitude=56.15, longitude=10.21, max_travel_km=60,
                                    capacity_minutes_per_week=4000, max_cases=60, languages=["da"])
        p.services.add(Service.objects.get(code=service))
        p.municipalities.add(aarhus)
        WeeklyAvailability.objects.bulk_create([
            WeeklyAvailability(provider=p, day=day, start_minute=8 * 60, end_minute=18 * 60)
            for day in ("mon", "tue", "wed", "thu", "fri")
        ])
        return p

    def placement(home, n):
        child = Child.objects.create(municipality=aarhus, display_name=f"Bench-barn {n}", birth_date=dt.date(2015, 1, 1))
        return Placement.objects.create(municipality=aarhus, child=child, foster_household=home, consultant=consultant,
                                        starts_on=dt.date(2026, 1, 1))

    def series_for(place, prov, service, per_week):
        need = services.create_support_need(placement=place, recipient="foster_household", service=service,
                                            minutes_per_session=60, sessions_per_week=per_week,
                                            starts_on=dt.date(2026, 11, 2), by=consultant)
        SupportNeed.objects.filter(pk=need.pk).update(status=NeedStatus.ASSIGNED, current_provider=prov)
        need.refresh_from_db()
        s = sessions.propose_series(need=need, by=consultant, now=NOW)
        return sessions.confirm_series(series=s, by=consultant, now=NOW)

    with transaction.atomic():
        home = household("Familien Bench (fiktiv)", email="bench@family.test")
        place = placement(home, 0)
        supervisor = provider("Supervisor Bench (fiktiv)", "supervision")
        guide = provider("Hjemmevejleder Bench (fiktiv)", "home_guidance")
        weekly = series_for(place, supervisor, "supervision", "1")
        series_for(place, guide, "home_guidance", "0.5")
        rows = list(weekly.occurrences.filter(status=OccurrenceStatus.SCHEDULED).order_by("start"))
        for occ in rows[5:8]:
            sessions.cancel_occurrence(occurrence=occ, reason="bench", by=consultant, now=NOW)
        for occ in rows[10:13]:
            sessions.move_occurrence(occurrence=occ, new_start=occ.start + dt.timedelta(days=1), reason="bench",
                                     by=consultant, now=NOW)
        for week in range(4):
            meetings.book_meeting(placement=place, kind="follow_up",
                                  start=dt.datetime(2026, 11, 11, 12, tzinfo=CPH) + dt.timedelta(weeks=week * 6),
                                  by=consultant, now=NOW, allow_missing=True)

        busy = provider("Travl supervisor (fiktiv)", "supervision")
        for n in range(PROVIDER_CASES):
            other = household(f"Familien {n} (fiktiv)", lat=56.16 + n * 0.001)
            series_for(placement(other, n + 1), busy, "supervision", "1" if n % 2 else "0.5")
    return {"household": home, "provider": busy, "consultant": consultant}


# --- In-process timing -------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def time_view(path: str, samples: int, headers: dict | None = None) -> dict:
    """Wall and CPU milliseconds per request through the whole view, the status, and queries per request.

    CPU time (this process only) is reported beside wall time because the machine may be shared:
    wall time includes waiting for a core; CPU time does not (nor the database server's work).
    """
    from django.db import connection
    from django.test import Client

    client = Client(**(headers or {}))
    status = client.get(path).status_code  # warm up (imports, caches)
    sql: list[str] = []

    def record(execute, statement, params, many, context):
        sql.append(statement)
        return execute(statement, params, many, context)

    with connection.execute_wrapper(record):
        client.get(path)
    wall, cpu = [], []
    for _ in range(samples):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        wall.append(1000 * (time.perf_counter() - started))
        cpu.append(1000 * (time.process_time() - started_cpu))
        status = response.status_code
    return {"wall": wall, "cpu": cpu, "status": status, "queries": len(sql)}


def time_render(feed, samples: int) -> list[float]:
    from django.utils import timezone

    from calendars import feeds

    now = timezone.now()
    feeds.render(feed, now)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        feeds.render(feed, now)
        times.append(1000 * (time.perf_counter() - started))
    return times


# --- gunicorn ------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int, log) -> subprocess.Popen:
    """gunicorn as deployed (gthread workers); its JSON access log goes to ``log`` (a file, never a pipe
    nobody reads: a full pipe would block the workers)."""
    env = dict(os.environ)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--worker-class", "gthread", "--threads", "4", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=log,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError("gunicorn exited: " + log.read().decode()[-2000:]) from None
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start within 30 s")


def fetch_etag(url: str) -> str:
    from urllib.request import urlopen

    with urlopen(url, timeout=10) as response:  # noqa: S310 - our own gunicorn on loopback
        return response.headers["ETag"]


def load(url: str, args, etag: str = "") -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--load-client", url, str(args.requests), str(args.concurrency), str(args.seconds),
         "--etag", etag],
        capture_output=True, text=True, timeout=args.seconds + 60, check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Main ----------------------------------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    if args.load_client:
        url, total, concurrency, seconds = args.load_client
        load_client(url, int(total), int(concurrency), float(seconds), args.etag)
        return
    created = False
    database_url = args.database_url
    if not database_url:
        subprocess.run(["dropdb", *PG, "--if-exists", DEFAULT_DB], check=False, capture_output=True)
        pg("createdb", DEFAULT_DB)
        created = True
        database_url = f"postgres://postgres@127.0.0.1:5432/{DEFAULT_DB}"
    gunicorn = None
    try:
        setup_django(database_url)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        world = build()
        build_seconds = time.perf_counter() - started
        report = measure(world, args, database_url)
        os.environ["DATABASE_URL"] = database_url
        port = free_port()
        gunicorn_log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as gunicorn; gone at exit
        gunicorn = start_gunicorn(port, args.gunicorn_workers, gunicorn_log)
        tokens = report["tokens"]
        base = f"http://127.0.0.1:{port}"
        http = {}
        for name in ("household", "provider"):
            feed_url = f"{base}/cal/{tokens[name]}.ics"
            etag = fetch_etag(feed_url)
            full = load(feed_url, args)
            cached = load(feed_url, args, etag=etag)
            http[name] = {"full": full, "not_modified": cached}
        write(report, http, args, build_seconds)
    finally:
        if gunicorn is not None:
            gunicorn.send_signal(signal.SIGTERM)
            try:
                gunicorn.wait(timeout=15)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
        if created and not args.keep_db:
            from django.db import connections

            connections.close_all()
            subprocess.run(["dropdb", *PG, "--if-exists", "--force", DEFAULT_DB], check=False, capture_output=True)


def measure(world: dict, args, database_url: str) -> dict:
    from django.core.cache import cache
    from django.test import Client, override_settings
    from django.utils import timezone

    from calendars.models import Feed
    from calendars.services import feeds as feed_services

    out = {"tokens": {}, "rows": {}}
    for name, subject in (("household", world["household"]), ("provider", world["provider"])):
        issued = feed_services.issue_feed(subject=subject, by=world["consultant"], now=timezone.now())
        out["tokens"][name] = issued.token
        path = f"/cal/{issued.token}.ics"
        cache.clear()
        with override_settings(CALENDAR_FEED_CACHE_SECONDS=0):  # every request renders
            full = time_view(path, args.samples)
        assert full["status"] == 200, full["status"]
        cached = time_view(path, args.samples)  # rendered once, then from the cache under its ETag
        response = Client().get(path)
        not_modified = time_view(path, args.samples, {"HTTP_IF_NONE_MATCH": response["ETag"]})
        assert not_modified["status"] == 304, not_modified["status"]
        feed = Feed.objects.get(pk=issued.feed.pk)
        body = response.content
        out["rows"][name] = {"bytes": len(body), "vevents": body.count(b"BEGIN:VEVENT"), "full": full,
                             "nm": not_modified, "cached": cached, "render": time_render(feed, args.samples)}
    return out


def write(report: dict, http: dict, args, build_seconds: float) -> None:
    def ms(values, q=None):
        return statistics.median(values) if q is None else percentile(values, q)

    load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Calendar feed benchmark",
        "",
        f"`python bench/bench_feeds.py` on {platform.machine()}, Python {platform.python_version()}, "
        f"PostgreSQL on loopback, {os.cpu_count()} cores (load average {load_avg:.1f} when written). Data built "
        f"through the scheduler services in {build_seconds:.0f} s. In-process figures are the whole Django view "
        f"(middleware, token lookup, validators, render) over {args.samples} requests after a warm-up, as wall "
        f"time and as this process's CPU time (wall time includes waiting for a core on a shared machine). "
        f"HTTP figures are gunicorn ({args.gunicorn_workers} workers x 4 threads) driven by a separate process with "
        f"{args.concurrency} keep-alive client threads, at most {args.requests} requests or {args.seconds:.0f} s "
        f"per run.",
        "",
        "| Feed | VEVENTs | Size | Full GET, rendering: wall median / p95 | CPU median / p95 | render() alone "
        "| 304: wall median / p95 | CPU median / p95 | Full / 304 | 200 from the ETag cache: wall median / p95 "
        "| Queries full / 304 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for name, label in (("household", "Household, a year of sessions"), ("provider", f"Provider, {PROVIDER_CASES} cases")):
        r = report["rows"][name]
        full, nm = r["full"], r["nm"]
        ratio_cpu = ms(full["cpu"]) / max(ms(nm["cpu"]), 1e-6)
        ratio_wall = ms(full["wall"]) / ms(nm["wall"])
        lines.append(
            f"| {label} | {r['vevents']} | {r['bytes'] / 1024:.1f} KiB "
            f"| {ms(full['wall']):.2f} / {ms(full['wall'], 0.95):.2f} ms | {ms(full['cpu']):.2f} / {ms(full['cpu'], 0.95):.2f} ms "
            f"| {ms(r['render']):.2f} / {ms(r['render'], 0.95):.2f} ms "
            f"| {ms(nm['wall']):.2f} / {ms(nm['wall'], 0.95):.2f} ms | {ms(nm['cpu']):.2f} / {ms(nm['cpu'], 0.95):.2f} ms "
            f"| {ratio_wall:.1f}x wall, {ratio_cpu:.1f}x CPU "
            f"| {ms(r['cached']['wall']):.2f} / {ms(r['cached']['wall'], 0.95):.2f} ms | {full['queries']} / {nm['queries']} |"
        )
        if name == "household":
            p95 = ms(full["wall"], 0.95)
            verdicts.append(f"- Household full GET p95 {p95:.2f} ms wall: target <= {TARGET_RENDER_P95_MS:.0f} ms "
                            f"{'met' if p95 <= TARGET_RENDER_P95_MS else 'MISSED'}.")
        verdicts.append(f"- {label}: a 304 is {ratio_wall:.1f}x cheaper than a full GET in wall time, {ratio_cpu:.1f}x "
                        f"in CPU time: target >= {TARGET_304_RATIO:.0f}x "
                        f"{'met' if min(ratio_wall, ratio_cpu) >= TARGET_304_RATIO else 'MISSED'}.")
    lines += ["", "Under load (gunicorn, separate client process):", "",
              "| Feed | Response | Requests | Requests/s | Latency p50 / p95 | Statuses |", "|---|---|---|---|---|---|"]
    for name in ("household", "provider"):
        for kind, label in (("full", "200 full body (rendered once per ETag, then cached)"),
                            ("not_modified", "304 (If-None-Match)")):
            h = http[name][kind]
            lines.append(f"| {name} | {label} | {h['requests']} | {h['rps']:.0f} | {h['p50_ms']:.1f} / "
                         f"{h['p95_ms']:.1f} ms | {h['statuses']} |")
    lines += ["", "Verdicts:", "", *verdicts,
              "- Queries per request do not depend on the number of events (also asserted in "
              "`tests/calendars/test_feeds.py::test_rendering_takes_the_same_number_of_queries_for_one_case_or_many`).",
              ""]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
