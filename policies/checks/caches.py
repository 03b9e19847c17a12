"""Per-process caches that keep the check fast: built schemas, compiled policies, analyses.

Schemas and policies are immutable per version, so they are cached by version id for the
life of the process. Which versions are *active* is re-read from the database at most once
per POLICY_REFRESH_S, and at once in the process that changed it.
"""

import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Coalesce

from policies import engine
from policies.engine.analysis import approx_json_bytes
from policies.models import PolicyVersion, Schema, SchemaVersion

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """A thread-safe LRU bounded by the summed `size_of` its values."""

    def __init__(self, capacity: int, size_of: Callable[[V], int] = lambda _value: 1) -> None:
        self.capacity = capacity
        self._size_of = size_of
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Hashable, value: V) -> None:
        size = self._size_of(value)
        if size > self.capacity:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._used -= old[1]
            self._items[key] = (value, size)
            self._used += size
            while self._used > self.capacity:
                _key, (_value, evicted) = self._items.popitem(last=False)
                self._used -= evicted

    def get_or_create(self, key: Hashable, create: Callable[[], V]) -> V:
        value = self.get(key)
        if value is None:
            value = create()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._used = 0


@dataclass(frozen=True)
class ActivePolicy:
    """What decides checks for one schema right now."""

    schema_id: int
    schema_name: str
    schema_version_id: int
    schema_version: int
    policy_version_id: int
    policy_version: int
    bundle: Any
    policy: Any
    # The newest registered schema version when it is newer than the pinned one: it awaits review
    # and decides nothing, but tells a refused document that uses it why (SCHEMA_VERSION_PENDING).
    pending: "PendingSchemaVersion | None" = None


@dataclass(frozen=True)
class PendingSchemaVersion:
    schema_version_id: int
    schema_version: int
    bundle: Any


@dataclass(frozen=True)
class RegisteredCache:
    """One of the check's caches, with what it maps and why it exists."""

    name: str
    key: str
    value: str
    why: str
    cache: BoundedCache[Any]


# Every per-process cache of the check, in one place (the identity cache lives with the
# identities it holds: agents/identity_cache.py). `clear_caches()` empties them all.
CACHES: dict[str, RegisteredCache] = {}


def _registered(name: str, *, key: str, value: str, why: str, cache: BoundedCache[Any]) -> BoundedCache[Any]:
    CACHES[name] = RegisteredCache(name, key, value, why, cache)
    return cache


_bundles = _registered(
    "schemas", key="schema version id", value="the built SchemaBundle",
    why="a GitHub-sized schema takes about a second to build; versions are immutable",
    cache=BoundedCache(capacity=16),
)
_policies = _registered(
    "policies", key="(policy version id, updated_at, bundle) or ('active', pinned schema version id,"
    " policy version id, latest schema version id)",
    value="the compiled policy, or the ActivePolicy of a schema",
    why="compiling indexes every rule; versions are immutable",
    cache=BoundedCache(capacity=64),
)
_analyses = _registered(
    "analyses", key="(schema version id, document digest, operation name, variables)",
    value="the engine's Analysis",
    why="agents repeat documents; parsing and validating is most of a cold check",
    cache=BoundedCache(
        capacity=settings.GQLGOV_ANALYSIS_CACHE_BYTES, size_of=lambda analysis: analysis.approx_size_bytes
    ),
)
_limit_specs = _registered(
    "limit_specs", key="(policy version id, admitting rules, agent or person, cost, name prefix)",
    value="the check's rate-limit specs (policies/checks/admission.py)",
    why="parsing a policy's limits again on every check cost ~35 µs, a tenth of a warm check",
    cache=BoundedCache(capacity=10_000),
)
_decisions = _registered(
    "decisions", key="(policy version id, analysis key, agent name, kind, groups, the person acted for:"
    " name, kind, groups, status, or None)",
    value="an unconditional engine.Decision (Decision.conditional is False); on behalf of a person, the intersection",
    why="a warm check of the same document by the same kind of agent skips the rules;"
    " sized like the analyses it derives from (~1 KB plus a denial's hints)",
    cache=BoundedCache(
        capacity=settings.GQLGOV_ANALYSIS_CACHE_BYTES // 4,
        # A denial's hints hold a suggested query with its variables and the operations an agent may call.
        size_of=lambda decision: 1024 + (approx_json_bytes(decision.hints) if decision.hints else 0),
    ),
)
_signing = _registered(
    "signing", key="'active' or 'jwks'",
    value="(monotonic deadline, the active decision-signing key: kid, JWS header, signer; or why it cannot sign)"
    " or (deadline, the JWK Set answer) (policies/signing/signer.py)",
    why="a check must not query which key is active, nor decrypt it: both are re-read at most once per"
    " POLICY_REFRESH_S (and at once in the process that rotated); the public JWK Set route is served from here",
    cache=BoundedCache(capacity=2),
)
_own_schemas = _registered(
    "own_schemas", key="('sdl' or 'introspection', policy version id, schema version id, agent name, kind, groups)",
    value="the agent's engine OwnSchema, or its introspection result as JSON text",
    why="restricting GitHub's schema to an agent's rules takes tens of milliseconds (own_schema.build_ms);"
    " it changes only with the policy version and the agent's name, kind and groups. Sized in bytes.",
    cache=BoundedCache(capacity=64 * 1024 * 1024, size_of=lambda value: 1024 + len(getattr(value, "sdl", value) or "")),
)
_pointers: dict[str, tuple[float, tuple[int, int, int | None, int | None] | None]] = {}
_build_lock = threading.Lock()


def schema_bundle(version: SchemaVersion) -> Any:
    """The built schema of a version; GitHub-sized schemas are built once per process."""
    bundle = _bundles.get(version.pk)
    if bundle is None:
        with _build_lock:
            bundle = _bundles.get_or_create(version.pk, lambda: engine.build_schema(version.sdl))
        # A large schema is ~10^6 long-lived objects; keeping them out of the collector's
        # generations stops every GC pass from walking them (timings swung 3-4x without this).
        gc.freeze()
    return bundle


def remember_schema_bundle(version: SchemaVersion, bundle: Any) -> None:
    """Keeps the bundle a registration built, once its version is committed: the policy load and
    the next registration that follow would otherwise build it again."""

    def remember() -> None:
        _bundles.put(version.pk, bundle)
        gc.freeze()

    transaction.on_commit(remember)


def compiled_policy(version: PolicyVersion, bundle: Any) -> Any:
    # Keyed by updated_at too: a draft's document changes under the same id (approved ones never do).
    return _policies.get_or_create(
        (version.pk, version.updated_at, id(bundle)), lambda: engine.compile_policy(version.document, schema=bundle)
    )


def _pointer(schema_name: str) -> tuple[int, int, int | None, int | None] | None:
    now = time.monotonic()
    cached = _pointers.get(schema_name)
    if cached is not None and cached[0] > now:
        return cached[1]
    # The schema version a check is decided against is the active policy's pin, not the latest
    # registered one: a new schema version waits for a policy version approved against it.
    # (A version with no pin, which only rows written outside the services have, is decided
    # against the latest, as lockstep.pinned_schema_version says.)
    row = (
        Schema.objects.filter(name=schema_name)
        .annotate(decided_against=Coalesce("active_policy__schema_version_id", "latest_version_id"))
        .values_list("pk", "decided_against", "active_policy_id", "latest_version_id")
        .first()
    )
    _pointers[schema_name] = (now + settings.GQLGOV_POLICY_REFRESH_S, row)
    return row


def only_schema_name() -> str | None:
    names = list(Schema.objects.values_list("name", flat=True)[:2])
    return names[0] if len(names) == 1 else None


# An UNKNOWN_SCHEMA answer names the schemas the caller may check; at most this many are read.
MAX_SCHEMAS_NAMED = 50


def checkable_schema_names(name: str, kind: str, groups: Sequence[str]) -> list[str]:
    """The schemas (by name, at most MAX_SCHEMAS_NAMED) whose active policy has an allow or
    require_approval rule for this agent: those it may see, named when it asks for another."""
    names = []
    schemas = Schema.objects.filter(active_policy__isnull=False).order_by("name").values_list("name", flat=True)
    for schema_name in schemas[:MAX_SCHEMAS_NAMED]:
        active = active_policy(schema_name)
        if isinstance(active, ActivePolicy) and any(
            rule.effect != "deny" for rule in active.policy.candidate_rules(name, kind, groups)
        ):
            names.append(schema_name)
    return names


def active_policy(schema_name: str) -> ActivePolicy | bool | None:
    """The active policy of a schema, with the schema version it is pinned to; None for an unknown
    schema, False when it has no active policy."""
    pointer = _pointer(schema_name)
    if pointer is None:
        return None
    schema_id, schema_version_id, policy_version_id, latest_version_id = pointer
    if policy_version_id is None or schema_version_id is None:
        return False
    key = ("active", schema_version_id, policy_version_id, latest_version_id)
    cached = _policies.get(key)
    if cached is not None:
        return cached
    schema_version = SchemaVersion.objects.get(pk=schema_version_id)
    policy_version = PolicyVersion.objects.get(pk=policy_version_id)
    bundle = schema_bundle(schema_version)
    active = ActivePolicy(
        schema_id=schema_id,
        schema_name=schema_name,
        schema_version_id=schema_version_id,
        schema_version=schema_version.number,
        policy_version_id=policy_version_id,
        policy_version=policy_version.number,
        bundle=bundle,
        policy=compiled_policy(policy_version, bundle),
        pending=_pending(schema_version, latest_version_id),
    )
    _policies.put(key, active)
    return active


def _pending(pinned: SchemaVersion, latest_version_id: int | None) -> PendingSchemaVersion | None:
    if latest_version_id is None or latest_version_id == pinned.pk:
        return None
    latest = SchemaVersion.objects.get(pk=latest_version_id)
    if latest.number <= pinned.number:  # a rollback to an older pin leaves no newer version pending
        return None
    return PendingSchemaVersion(latest.pk, latest.number, schema_bundle(latest))


def warm_active_policies(after_each: Callable[[], object] | None = None) -> int:
    """Builds the schema and policy of every schema with an approved policy; returns how many.

    For a server worker before it accepts requests (gqlgov/gunicorn.conf.py): a large schema takes
    seconds to build, which would otherwise stall the first checks after every (re)start.
    `after_each` runs after each schema (the worker's heartbeat).
    """
    warmed = 0
    for name in Schema.objects.filter(active_policy__isnull=False).values_list("name", flat=True):
        warmed += isinstance(active_policy(name), ActivePolicy)
        if after_each is not None:
            after_each()
    return warmed


def analysis_cache() -> BoundedCache[Any]:
    return _analyses


def limit_specs_cache() -> BoundedCache[Any]:
    return _limit_specs


def decision_cache() -> BoundedCache[Any]:
    return _decisions


def own_schema_cache() -> BoundedCache[Any]:
    return _own_schemas


def signing_cache() -> BoundedCache[Any]:
    return _signing


def forget_signing_keys() -> None:
    """Drops the cached signing key and JWK Set so this process sees a rotation at once."""
    _signing.clear()


def forget_active_versions() -> None:
    """Drops the cached active-version pointers so this process sees a change at once."""
    _pointers.clear()


def clear_caches() -> None:
    """Forgets every cached schema, policy, analysis and decision (tests; a process that must free memory)."""
    for registered in CACHES.values():
        registered.cache.clear()
    forget_active_versions()
