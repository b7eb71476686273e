"""Load test: gunicorn + PostgreSQL (+ Redis and a django-q2 worker) driven from a separate process.

    .venv/bin/python bench/bench_load.py                    # make bench-load: 120 s at 15 requests/s
    .venv/bin/python bench/bench_load.py --rate 60 --seconds 120 --threads 12

It creates the PostgreSQL database ``plejenet_bench_load`` on 127.0.0.1:5432, migrates it and
builds, through the services (tests/chaos/scenario.py): a provider with 40 foster families, each
with a confirmed weekly series (the provider's feed holds 40 series, a year of sessions); each
family has a foster parent with an API token and a household feed. Then it starts gunicorn
(``--gunicorn-workers``, default 3) and one ``qcluster`` against Redis (``--redis-url``, default
db 9 of the local Redis, flushed first) with production settings (DEBUG off), and this process
drives the traffic from ``--threads`` client threads, paced to ``--rate`` requests per second
for ``--seconds`` (bounded by ``--max-requests`` too):

* 35% feed GETs with the ETag the client already has (304), 15% feed GETs without one (200);
* 10% check-in POSTs (``/api/v1/checkins/``, ``support.wellbeing.signals.record_checkin``) by a
  foster parent for their own placement;
* 40% list endpoints: the provider's ``/api/v1/support-needs/``, ``/api/v1/providers/`` and
  ``/api/v1/availability/``, and the family's ``/api/v1/placements/`` and ``/api/v1/checkins/``.

Latency is measured from the moment a request was due (so a server that falls behind is not
flattered), per kind and overall. An error is any status other than the expected one, or a
failed connection. Results go to ``bench/results/load.md``; the database is dropped afterwards
unless ``--keep-db``. Target: zero errors, p95 < 100 ms at the rate reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
DB = "plejenet_bench_load"
FAMILIES = 40
TARGET_P95_MS = 100.0
MIX = [("feed_304", 35), ("feed_200", 15), ("checkin_post", 10), ("list_provider", 25), ("list_family", 15)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=15.0, help="requests per second to offer (default 15)")
    parser.add_argument("--seconds", type=float, default=120.0, help="duration of the measured run (default 120)")
    parser.add_argument("--warmup", type=float, default=10.0, help="unmeasured seconds first (default 10)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--max-requests", type=int, default=50_000, help="hard bound on requests (default 50000)")
    parser.add_argument("--gunicorn-workers", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "load.md"))
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG}/postgres", "-qc", sql], check=True)


def environment(args, static_root: str) -> dict:
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DATABASE_URL=f"{PG}/{DB}", REDIS_URL=args.redis_url, DEBUG="0", SECURE_HTTPS="0",
        ALLOWED_HOSTS="127.0.0.1,localhost", SITE_URL="http://127.0.0.1", LOG_LEVEL="WARNING",
        SECRET_KEY="bench-load-" + Fernet.generate_key().decode(), FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        API_THROTTLE_USER="1000000/minute", API_THROTTLE_ANON="1000000/minute", EMAIL_URL="",
        DJANGO_SETTINGS_MODULE="tests.chaos.settings", CHAOS_STATIC_ROOT=static_root,
    )
    return env


SETUP = r"""
import json, os
import django
django.setup()
from django.utils import timezone
from rest_framework.authtoken.models import Token
from calendars.services import feeds as feed_services
from support.models import Household, Membership, Placement
from support.roles import Role
from django.contrib.auth import get_user_model
from tests.chaos import scenario

world = scenario.seed(tag="load", series=int(os.environ["FAMILIES"]), caldav_url="", caldav_user="", caldav_password="")
now = timezone.now()
families = []
for placement in Placement.objects.filter(municipality_id=world["municipality"]).select_related("foster_household"):
    home = placement.foster_household
    user = get_user_model().objects.create_user(username=f"load-parent-{home.pk}", password="x-load-pw-123456")
    Membership.objects.create(user=user, role=Role.FOSTER_PARENT, household=home)
    families.append({"placement": placement.pk, "token": Token.objects.create(user=user).key,
                     "feed": feed_services.issue_feed(subject=home, by=user, now=now).token})
print(json.dumps({"provider_feed": world["feed_token"], "provider_token": world["api_token"], "families": families}))
"""


class Load:
    def __init__(self, base: str, world: dict, rng: random.Random):
        self.base, self.world, self.rng = base, world, rng
        self.etags: dict[str, str] = {}
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)  # from when the request was due
        self.service: dict[str, list[float]] = defaultdict(list)  # from when it was sent
        self.errors: dict[str, int] = defaultdict(int)
        self.error_examples: list[str] = []
        self.measure = False

    def request(self, kind: str) -> tuple:
        with self.lock:
            rng_value = self.rng.random()
            family = self.world["families"][int(rng_value * len(self.world["families"]))]
            which = self.rng.random()
        provider = {"Authorization": f"Token {self.world['provider_token']}", "Accept": "application/json"}
        own = {"Authorization": f"Token {family['token']}", "Accept": "application/json"}
        data, expect, headers = None, 200, {}
        if kind in ("feed_304", "feed_200"):
            path = f"/cal/{self.world['provider_feed'] if which < 0.5 else family['feed']}.ics"
            if kind == "feed_304" and path in self.etags:
                headers, expect = {"If-None-Match": self.etags[path]}, 304
        elif kind == "checkin_post":
            path, headers, expect = "/api/v1/checkins/", {**own, "Content-Type": "application/json"}, 201
            data = json.dumps({"placement": family["placement"], "on": time.strftime("%Y-%m-%d"),
                               "stress": int(which * 10), "sleep": 3, "help_now": False}).encode()
        elif kind == "list_provider":
            path = ("/api/v1/support-needs/", "/api/v1/providers/", "/api/v1/availability/")[int(which * 3)]
            headers = provider
        else:
            path, headers = ("/api/v1/placements/", "/api/v1/checkins/")[int(which * 2)], own
        started = time.perf_counter()
        status, etag, detail = self._send(path, headers, data)
        return status, expect, etag, path, detail, started

    def _send(self, path: str, headers: dict, data: bytes | None):
        request = urllib.request.Request(self.base + path, headers=headers, data=data,  # noqa: S310 (loopback)
                                         method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
                response.read()
                return response.status, response.headers.get("ETag"), ""
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("ETag"), exc.read()[:200].decode(errors="replace")
        except OSError as exc:
            return -1, None, repr(exc)

    def record(self, kind: str, due: float, outcome) -> None:
        status, expect, etag, path, detail, started = outcome
        finished = time.perf_counter()
        with self.lock:
            if etag and status == 200 and path.startswith("/cal/"):
                self.etags[path] = etag
            if not self.measure:
                return
            self.samples[kind].append(finished - due)
            self.service[kind].append(finished - started)
            if status != expect and not (kind == "feed_304" and status == 200):  # a changed feed answers 200
                self.errors[kind] += 1
                if len(self.error_examples) < 5:
                    self.error_examples.append(f"{kind} {path.split('/')[1]} -> {status} {detail[:120]}")


def drive(load: Load, *, rate: float, seconds: float, warmup: float, threads: int, max_requests: int) -> float:
    kinds = [k for k, w in MIX for _ in range(w)]
    interval = threads / rate
    stop_at = time.perf_counter() + warmup + seconds
    measure_from = time.perf_counter() + warmup
    sent = [0]
    sent_lock = threading.Lock()

    def worker(index: int) -> None:
        rng = random.Random(index)
        due = time.perf_counter() + index * interval / threads
        while due < stop_at and time.perf_counter() < stop_at:
            with sent_lock:
                if sent[0] >= max_requests:
                    return
                sent[0] += 1
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            kind = rng.choice(kinds)
            load.record(kind, due, load.request(kind))
            due += interval

    def start_measuring() -> None:
        time.sleep(max(0.0, measure_from - time.perf_counter()))
        load.measure = True

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    marker = threading.Thread(target=start_measuring, daemon=True)
    marker.start()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - measure_from


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def main() -> int:
    args = parse_args()
    static_root = tempfile.mkdtemp(prefix="plejenet-bench-static-")
    env = environment(args, static_root)
    python = sys.executable
    processes: list[subprocess.Popen] = []
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB}")
    try:
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            subprocess.run([python, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
        setup = subprocess.run([python, "-c", SETUP], cwd=ROOT, env={**env, "FAMILIES": str(FAMILIES)},
                               check=True, capture_output=True, text=True)
        world = json.loads(setup.stdout.strip().splitlines()[-1])
        port = free_port()
        log = open(Path(static_root) / "server.log", "wb")  # noqa: SIM115 (closed in finally)
        processes.append(subprocess.Popen(
            [python, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers",
             str(args.gunicorn_workers)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True))
        processes.append(subprocess.Popen([python, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):  # noqa: S310 (loopback)
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        load = Load(base, world, random.Random(1))
        uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        started_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        measured = drive(load, rate=args.rate, seconds=args.seconds, warmup=args.warmup, threads=args.threads,
                         max_requests=args.max_requests)
        uptime_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        checkins = subprocess.run(["psql", f"{PG}/{DB}", "-Atc", "SELECT count(*) FROM support_checkin"],
                                  capture_output=True, text=True).stdout.strip()
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)
        if not args.keep_db:
            psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")

    everything = [s for values in load.samples.values() for s in values]
    service = [s for values in load.service.values() for s in values]
    total_errors = sum(load.errors.values())
    throughput = len(everything) / measured
    rows = []
    for kind, _w in MIX + [("all", 0)]:
        values = everything if kind == "all" else load.samples.get(kind, [])
        sent = service if kind == "all" else load.service.get(kind, [])
        errors = total_errors if kind == "all" else load.errors.get(kind, 0)
        if values:
            rows.append(f"| {kind} | {len(values)} | {len(values) / measured:.1f} | {pct(values, 50):.1f} | "
                        f"{pct(values, 95):.1f} | {pct(values, 99):.1f} | {max(values) * 1000:.0f} | "
                        f"{pct(sent, 50):.1f} / {pct(sent, 95):.1f} | {errors} |")
    p95 = pct(everything, 95)
    verdict = "met" if total_errors == 0 and p95 < TARGET_P95_MS else "NOT met"
    command = "make bench-load" if sys.argv[1:] == [] else "python bench/bench_load.py " + " ".join(sys.argv[1:])
    report = f"""# Load: gunicorn + PostgreSQL, driven from a separate process

Command: `{command}` ({started_at}). Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores
shared with other sessions' work; `uptime` before: `{uptime_before}`; after: `{uptime_after}`.

Stack: gunicorn with {args.gunicorn_workers} sync workers, one django-q2 `qcluster` (2 workers), PostgreSQL on
127.0.0.1:5432, Redis as broker and cache; DEBUG off. Data: a provider with {FAMILIES} families, each with a
confirmed weekly series (the provider's feed: {FAMILIES} series), a foster parent per family with a household feed.

Offered: {args.rate:g} requests/s from {args.threads} client threads for {args.seconds:g} s after {args.warmup:g} s
of warm-up (at most {args.max_requests} requests). Latency (p50/p95/p99/max) is counted from when each request
was due, so a server that falls behind the offered rate is not flattered; "service" is from when it was sent.
Mix: {", ".join(f"{k} {w}%" for k, w in MIX)}.

| kind | requests | per second | p50 ms | p95 ms | p99 ms | max ms | service p50 / p95 ms | errors |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Sustained: **{throughput:.1f} requests/s**, p95 **{p95:.1f} ms**, **{total_errors} errors**
({checkins} check-ins stored). Target (zero errors, p95 < {TARGET_P95_MS:.0f} ms): **{verdict}**.
"""
    if load.error_examples:
        report += "\nFirst errors:\n\n" + "\n".join(f"- `{e}`" for e in load.error_examples) + "\n"
    Path(args.output).write_text(report)
    print(report)
    return 0 if total_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
