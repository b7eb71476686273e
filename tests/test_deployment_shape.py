"""docker-compose.yml and the Dockerfile describe a shape that scales (`--scale web=N --scale worker=M`).

No Docker engine runs here, so this reads the files and loads the settings each container would
see, in a subprocess with exactly that environment. tests/chaos/ runs the same shape as real
processes on loopback (two gunicorns, two qclusters, one broker).
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _sep, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _settings_under(env: dict[str, str], expression: str) -> str:
    """Evaluate ``expression`` on the settings a process started with ``env`` (and nothing else) gets."""
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", **env})
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def _container_env(service: dict) -> dict[str, str]:
    env = _env_example()  # env_file: .env, made from .env.example
    env.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
    env["FIELD_ENCRYPTION_KEYS"] = base64.urlsafe_b64encode(os.urandom(32)).decode()  # a secret the operator sets
    return env


def test_web_and_worker_can_be_scaled():
    services = _compose()["services"]
    for name in ("web", "worker"):
        service = services[name]
        assert "container_name" not in service, f"{name}: a fixed container name allows one replica only"
        for port in service.get("ports") or []:  # a fixed host port allows one replica only
            assert ":" not in str(port).rsplit("/", 1)[0], f"{name}: host port {port} cannot be scaled"
        assert service.get("healthcheck"), f"{name}: no health check"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", \
            f"{name}: migrations must run once, before the replicas start"
    assert services["web"]["command"][0] == "gunicorn" and "0.0.0.0:8000" in services["web"]["command"]
    assert services["worker"]["command"][-1] == "qcluster"
    assert services["migrate"]["restart"] == "no"
    # Every replica shares one database and one broker.
    urls = {(services[n]["environment"]["DATABASE_URL"], services[n]["environment"]["REDIS_URL"])
            for n in ("web", "worker", "migrate")}
    assert urls == {("postgres://plejenet:plejenet@postgres:5432/plejenet", "redis://redis:6379/0")}
    for backing in ("postgres", "redis"):
        assert services[backing].get("healthcheck"), backing
        assert services["web"]["depends_on"].get(backing, {}).get("condition", "service_healthy") == "service_healthy"


def test_replicas_use_redis_as_broker_and_cache_and_postgres():
    env = _container_env(_compose()["services"]["worker"])
    seen = _settings_under(env, "[k for k in ('redis', 'orm') if k in settings.Q_CLUSTER], "
                                "settings.CACHES['default']['BACKEND'], settings.DATABASES['default']['ENGINE'], "
                                "settings.DEBUG")
    assert seen == "['redis'] config.cache.ResilientRedisCache django.db.backends.postgresql False"


def test_the_image_collects_static_files_the_way_the_containers_serve_them():
    """collectstatic at build time must use the storage the containers use at run time (with DEBUG
    off: the manifest storage), or every page that links a stylesheet answers 500."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    line = next(line for line in dockerfile.splitlines() if "collectstatic" in line)
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    words = shlex.split(re.sub(r"\$\(python -c .*?\)\s", key + " ", line.removeprefix("RUN ")))
    build_env = dict(w.split("=", 1) for w in words[: words.index("python")])
    build = _settings_under(build_env, "settings.STORAGES['staticfiles']['BACKEND']")
    run = _settings_under(_container_env(_compose()["services"]["web"]), "settings.STORAGES['staticfiles']['BACKEND']")
    assert build == run == "whitenoise.storage.CompressedManifestStaticFilesStorage"
