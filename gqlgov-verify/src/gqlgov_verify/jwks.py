"""A JWKS client: gqlgov's published keys, fetched with urllib and cached.

- Keys are cached for `cache_s`; after that the next lookup refreshes them.
- A `kid` the cache does not know triggers one refresh, so a token signed with a freshly rotated
  key verifies without waiting for the cache to expire.
- Refreshes are at least `min_refresh_interval_s` apart, whatever triggers them: a flood of tokens
  with made-up `kid`s costs gqlgov one request per interval per process, not one per token.
- When the endpoint is down or answers garbage, the last good keys keep serving (tokens live about
  a minute, so a stale set is far better than refusing everything).
- Thread-safe: lookups of cached keys take no lock; one thread at a time refreshes.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable

import jwt

from gqlgov_verify.keys import KeysUnavailable, parse_jwks

JWKS_PATH = "/api/v1/.well-known/jwks.json"
MAX_JWKS_BYTES = 64 * 1024  # gqlgov publishes two or three keys (~300 bytes each)


class JwksClient:
    """gqlgov's public keys from `url` (`<GQLGOV_PUBLIC_URL>/api/v1/.well-known/jwks.json`)."""

    def __init__(
        self,
        url: str,
        *,
        cache_s: float = 300,
        min_refresh_interval_s: float = 10,
        timeout_s: float = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
            raise ValueError(f"JWKS URL must be http(s): {url!r}")
        self.url = url
        self.cache_s = cache_s
        self.min_refresh_interval_s = min_refresh_interval_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] | None = None  # replaced whole, never mutated: readers need no lock
        self._fetched_at = 0.0
        self._attempted_at: float | None = None
        self.last_error: str | None = None

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The key published under `kid`, refreshing first if the cache is stale or lacks it.

        Raises `KeysUnavailable` when no key set was ever fetched.
        """
        keys = self._keys
        if keys is not None and kid in keys:
            if self._clock() - self._fetched_at < self.cache_s:
                return keys[kid]
            if not self._lock.acquire(blocking=False):
                return keys[kid]  # another thread is refreshing: the cached key serves meanwhile
        else:
            self._lock.acquire()
        try:
            if self._needs_refresh(kid):  # checked under the lock: another thread may just have refreshed
                self._refresh()
            if self._keys is None:
                raise KeysUnavailable(f"gqlgov's JWKS at {self.url} could not be fetched: {self.last_error}")
            return self._keys.get(kid)
        finally:
            self._lock.release()

    def kids(self) -> list[str]:
        """The `kid`s currently cached (empty before the first fetch)."""
        return sorted(self._keys or ())

    def _needs_refresh(self, kid: str) -> bool:
        now = self._clock()
        if self._attempted_at is not None and now - self._attempted_at < self.min_refresh_interval_s:
            return False
        return self._keys is None or kid not in self._keys or now - self._fetched_at >= self.cache_s

    def _refresh(self) -> None:
        self._attempted_at = self._clock()
        try:
            keys = parse_jwks(json.loads(self._fetch()))
        except (OSError, ValueError) as error:  # URLError, timeouts, HTTP errors, bad JSON, not a JWK Set
            self.last_error = f"{type(error).__name__}: {error}"
            return
        self._keys = keys
        self._fetched_at = self._attempted_at
        self.last_error = None

    def _fetch(self) -> bytes:
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked to be http(s) in __init__)
            self.url, headers={"Accept": "application/json", "User-Agent": "gqlgov-verify"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 (as above)
            body: bytes = response.read(MAX_JWKS_BYTES + 1)
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
        return body


def issuer_of(jwks_url: str) -> str | None:
    """gqlgov's public URL (the tokens' `iss`) when `jwks_url` is its well-known JWKS route."""
    if jwks_url.endswith(JWKS_PATH):
        return jwks_url[: -len(JWKS_PATH)]
    return None
