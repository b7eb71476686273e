"""The Redis cache, degrading to "no cache" while Redis is unreachable instead of failing requests.

Plejenet's cache holds only what can be recomputed: rendered feeds, API throttle and feed-miss
counters, the worker's heartbeat. Django's own RedisCache raises on every call when Redis is
down, which turned every feed and API request into a 500 during a Redis outage (found by
tests/chaos/test_faults.py). This backend answers a read with a miss and ignores a write while
Redis cannot be reached, logs one warning per minute at most, and is back to normal at the first
call after Redis returns (redis-py reconnects by itself). ``/healthz`` reports the outage
(``queue.ok`` false, status ``degraded``).

While Redis is down, rate limits count nothing (they fail open: the alternative is refusing
every request), and feeds are rendered on every request.
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
_last_warning = 0.0


def _warn(operation: str, exc: BaseException) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning > 60:
        _last_warning = now
        log.warning("cache unreachable, carrying on without it (%s: %s)", operation, exc.__class__.__name__)


class ResilientRedisCache(RedisCache):
    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except UNREACHABLE as exc:
            _warn("get", exc)
            return default

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except UNREACHABLE as exc:
            _warn("get_many", exc)
            return {}

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except UNREACHABLE as exc:
            _warn("has_key", exc)
            return False

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout, version=version)
        except UNREACHABLE as exc:
            _warn("add", exc)
            return False

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set(key, value, timeout, version=version)
        except UNREACHABLE as exc:
            _warn("set", exc)
            return None

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version=version)
        except UNREACHABLE as exc:
            _warn("set_many", exc)
            return list(data)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().touch(key, timeout, version=version)
        except UNREACHABLE as exc:
            _warn("touch", exc)
            return False

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except UNREACHABLE as exc:
            _warn("delete", exc)
            return False

    def delete_many(self, keys, version=None):
        try:
            return super().delete_many(keys, version)
        except UNREACHABLE as exc:
            _warn("delete_many", exc)
            return None

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except UNREACHABLE as exc:
            _warn("incr", exc)
            return delta  # as if the counter had just started: limits fail open during the outage

    def clear(self):
        try:
            return super().clear()
        except UNREACHABLE as exc:
            _warn("clear", exc)
            return False
