"""config.cache.ResilientRedisCache: a real Redis when it answers, a miss (not an exception) when it is gone."""

from __future__ import annotations

import os
import socket

import pytest
import redis

import config.cache
from config.cache import ResilientRedisCache

LIVE = os.environ.get("H_TEST_REDIS_URL", "redis://127.0.0.1:6379/8")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nobody listens once the socket is closed


def _cache(location: str) -> ResilientRedisCache:
    return ResilientRedisCache(location, {"KEY_PREFIX": "resilient-test",
                                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}})


def test_an_unreachable_redis_reads_as_a_miss_and_swallows_writes(caplog, monkeypatch):
    monkeypatch.setattr(config.cache, "_last_warning", 0.0)
    cache = _cache(f"redis://127.0.0.1:{_closed_port()}/0")
    assert cache.get("feed", "fallback") == "fallback"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.add("counter", 1, timeout=60) is False
    assert cache.set("feed", b"body", timeout=60) is None
    assert cache.incr("counter", 3) == 3
    assert cache.has_key("feed") is False and cache.delete("feed") is False
    warnings = [r for r in caplog.records if "cache unreachable" in r.getMessage()]
    assert len(warnings) == 1  # one warning a minute at most, however many calls fail


def test_a_reachable_redis_is_used_normally():
    try:
        redis.Redis.from_url(LIVE, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Redis at {LIVE}")
    cache = _cache(LIVE)
    cache.delete_many(["feed", "counter"])
    assert cache.add("counter", 1, timeout=60) is True and cache.incr("counter", 2) == 3
    cache.set("feed", b"body", timeout=60)
    assert cache.get("feed") == b"body"
    with pytest.raises(ValueError):  # Django's contract for a missing key is kept when Redis answers
        cache.incr("missing-key")
    cache.delete_many(["feed", "counter"])
