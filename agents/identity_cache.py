"""A per-process cache of API token -> token row and principal, so a request needs no database query.

Each entry is tagged with the auth *generation* read from Redis before the row was loaded. Every
request reads the current generation (one GET) and uses an entry only when it matches. Anything
that changes who may authenticate (suspend, resume, revoke, rotate, edits of principals and
tokens) calls `bump_generation()` once its transaction commits, so the very next request in every
process loads fresh rows. Reading the generation *before* loading makes a concurrent change safe:
the entry is tagged with the old generation and dropped on the next request.

The check (POST /api/v1/check) defers that read: it uses a cached entry at once and sends the
entry's generation with its rate-limit script, which charges and records nothing unless the
generation is still current (`lookup_unconfirmed`); on a mismatch the check starts again with `lookup`.

Lookup ids that name no token are cached too, briefly and apart (a flood of made-up ids cannot evict
real entries): otherwise an unknown id costs a query a known one does not, which tells a prober
which ids exist. An id goes from unknown to known only by being issued (48 random bits; the save
bumps the generation), so a negative entry is also used unconfirmed by the check.

No Redis (the embedded default) or Redis unreachable: no caching, one query per request, as before.
Entries also expire after TTL_S seconds, which bounds staleness if a bump is lost
(Redis unreachable from the process making the change but reachable from the web processes).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction

from gqlgov.redis import REDIS_ERRORS, Client, get_redis, write_replicated

logger = logging.getLogger(__name__)

GENERATION_KEY = "gqlgov:auth:generation"
MAX_ENTRIES = 10_000
TTL_S = 30.0
MAX_MISSES = 10_000
MISS_TTL_S = 5.0


def _client() -> Client:
    return get_redis()


def current_generation() -> str | None:
    """The generation every cached entry must carry; None when Redis cannot tell (then nothing is cached)."""
    try:
        client = _client()
        value = client.get(GENERATION_KEY)
        if value is None:  # a fresh or restarted Redis: start a new generation, never reuse an old one
            client.set(GENERATION_KEY, uuid.uuid4().hex, nx=True)
            value = client.get(GENERATION_KEY)
    except REDIS_ERRORS:
        return None
    return value.decode() if isinstance(value, bytes) else value


def bump_generation() -> None:
    """Invalidates every process's cached identities once the current transaction commits."""

    def bump() -> None:
        try:
            # On a replica too, where configured: a bump lost in a failover would revive the old entries.
            replicated = write_replicated(_client(), GENERATION_KEY, ("SET", GENERATION_KEY, uuid.uuid4().hex),
                                          replicas=settings.GQLGOV_REDIS_WAIT_REPLICAS,
                                          timeout_ms=settings.GQLGOV_REDIS_WAIT_MS)
        except REDIS_ERRORS as error:
            logger.error("could not invalidate cached identities (%s); entries expire within %.0f s", error, TTL_S)
            return
        if not replicated:
            logger.error("identity invalidation not confirmed by a Redis replica; a failover now could revive"
                         " cached identities for up to %.0f s", TTL_S)

    if settings.GQLGOV_AUTH_CACHE:
        # Now (so this process, and tests inside one transaction, see it at once) and again after the
        # commit (so an entry loaded between the two, from the old rows, is dropped too).
        bump()
        transaction.on_commit(bump)


class IdentityCache:
    """LRU of lookup id -> (generation, expiry, token row with its principal), and one of ids without a token."""

    def __init__(self, max_entries: int = MAX_ENTRIES, ttl_s: float = TTL_S) -> None:
        self._entries: OrderedDict[str, tuple[str, float, Any]] = OrderedDict()
        self._misses: OrderedDict[str, tuple[str, float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self._ttl_s = ttl_s

    def _cached(self, lookup_id: str, now: float) -> tuple[str, float, Any] | None:
        """The live entry for `lookup_id` (its token is None for a known miss), under the lock."""
        for entries in (self._entries, self._misses):
            entry = entries.get(lookup_id)
            if entry is not None and entry[1] > now:
                entries.move_to_end(lookup_id)
                return entry
        return None

    def _store(self, lookup_id: str, generation: str, now: float, token: Any) -> None:
        entries, other, ttl_s, limit = (
            (self._entries, self._misses, self._ttl_s, self._max_entries)
            if token is not None
            else (self._misses, self._entries, MISS_TTL_S, MAX_MISSES)
        )
        with self._lock:
            other.pop(lookup_id, None)
            entries[lookup_id] = (generation, now + ttl_s, token)
            entries.move_to_end(lookup_id)
            while len(entries) > limit:
                entries.popitem(last=False)

    def lookup(self, lookup_id: str, load: Callable[[], Any]) -> Any:
        """The cached token for `lookup_id` if still current, else `load()` (cached; briefly when None)."""
        if not settings.GQLGOV_AUTH_CACHE:
            return load()
        generation = current_generation()
        if generation is None:
            return load()
        now = time.monotonic()
        with self._lock:
            entry = self._cached(lookup_id, now)
        if entry is not None and entry[0] == generation:
            return entry[2]
        token = load()
        self._store(lookup_id, generation, now, token)
        return token

    def lookup_unconfirmed(self, lookup_id: str, load: Callable[[], Any]) -> tuple[Any, str | None]:
        """Like `lookup`, but a cached entry is returned without reading the generation (no round trip).

        Returns (token, generation): when `generation` is not None, the caller must confirm that it
        is still current before acting on the token, atomically with its own Redis work (the check
        sends it as the limiter's guard), and redo the request with `lookup` if it is not.
        """
        if settings.GQLGOV_AUTH_CACHE:
            with self._lock:
                entry = self._cached(lookup_id, time.monotonic())
            if entry is not None:
                return entry[2], entry[0]
        return self.lookup(lookup_id, load), None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._misses.clear()


identity_cache = IdentityCache()


def _changed(sender, **kwargs) -> None:
    bump_generation()


def connect_signals() -> None:
    """Bumps on any saved or deleted principal or token (the admin, OIDC sync), besides the services' own bumps."""
    from django.db.models.signals import post_delete, post_save

    from agents.models import ApiToken, Principal

    for model in (Principal, ApiToken):
        post_save.connect(_changed, sender=model, dispatch_uid=f"identity_cache_{model.__name__}_save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"identity_cache_{model.__name__}_delete")
