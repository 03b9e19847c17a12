"""One verifier's settings (keys, issuer, single use), given in code or read from the environment.

Environment (for a Lambda function or a container):
- `GQLGOV_JWKS_URL`: gqlgov's JWKS, `<GQLGOV_PUBLIC_URL>/api/v1/.well-known/jwks.json` (required).
- `GQLGOV_ISSUER`: the tokens' `iss`; defaults to the JWKS URL without its well-known path.
- `GQLGOV_REPLAY_TABLE`: a DynamoDB table for single use (optional; needs the `dynamodb` extra).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gqlgov_verify.jwks import JwksClient, issuer_of
from gqlgov_verify.keys import KeySource, StaticKeys
from gqlgov_verify.replay import DynamoDbReplayStore, ReplayStore
from gqlgov_verify.verify import DEFAULT_LEEWAY_S, verify_decision, verify_token

DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # larger than any body gqlgov's check accepts by default (256 KiB)


class ConfigurationError(RuntimeError):
    """The verifier has no keys to trust: neither `jwks` nor `GQLGOV_JWKS_URL` was given."""


@dataclass(frozen=True)
class Verifier:
    """Keys, issuer and optional replay store, bound once and used for every request."""

    keys: KeySource
    issuer: str | None = None
    replay_store: ReplayStore | None = None
    leeway_s: float = DEFAULT_LEEWAY_S

    @classmethod
    def build(
        cls,
        *,
        jwks: KeySource | Mapping[str, Any] | str | None = None,
        issuer: str | None = None,
        replay_store: ReplayStore | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Verifier:
        """A verifier from what is given, the environment filling in what is not.

        `jwks` is a JWK Set dict, a key source (`JwksClient`) or a JWKS URL.
        """
        env = os.environ if environ is None else environ
        issuer = issuer or env.get("GQLGOV_ISSUER") or None
        if replay_store is None and env.get("GQLGOV_REPLAY_TABLE"):
            replay_store = _dynamodb_store(env["GQLGOV_REPLAY_TABLE"])
        if jwks is None:
            jwks = env.get("GQLGOV_JWKS_URL") or None
            if jwks is None:
                raise ConfigurationError("gqlgov-verify needs gqlgov's keys: pass jwks= or set GQLGOV_JWKS_URL")
        if isinstance(jwks, str):
            return cls(_jwks_client(jwks), issuer or issuer_of(jwks), replay_store)
        return cls(StaticKeys(jwks) if isinstance(jwks, Mapping) else jwks, issuer, replay_store)

    def verify_token(
        self, token: Any, *, agent: str | None = None, now: float | datetime | None = None
    ) -> dict[str, Any]:
        """`verify_token` with this verifier's keys, issuer and leeway."""
        return verify_token(token, jwks=self.keys, agent=agent, now=now, issuer=self.issuer, leeway_s=self.leeway_s)

    def verify(
        self,
        token: Any,
        *,
        query: str,
        variables: Mapping[str, Any] | None,
        agent: str | None = None,
        operation_name: str | None = None,
        now: float | datetime | None = None,
    ) -> dict[str, Any]:
        """`verify_decision` with this verifier's keys, issuer, leeway and replay store."""
        return verify_decision(
            token, query=query, variables=variables, jwks=self.keys, agent=agent, operation_name=operation_name,
            now=now, issuer=self.issuer, replay_store=self.replay_store, leeway_s=self.leeway_s,
        )  # fmt: skip


# Kept per URL and per table: a JWKS cache and an AWS client must outlive one Lambda invocation.
@functools.lru_cache(maxsize=16)
def _jwks_client(url: str) -> JwksClient:
    return JwksClient(url)


@functools.lru_cache(maxsize=16)
def _dynamodb_store(table: str) -> DynamoDbReplayStore:
    return DynamoDbReplayStore(table)
