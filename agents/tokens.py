"""API token format: ``gqg_<12 hex lookup id>_<43 char secret>`` (256 bits of secret).

The lookup id is the public prefix shown in listings and used to revoke; only the
SHA-256 of the secret is stored. A high-entropy secret needs no slow hash.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

TOKEN_PREFIX = "gqg_"
_TOKEN_RE = re.compile(r"^gqg_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
# Compared against when a lookup id names no token, so that path hashes and compares as the other does.
NO_TOKEN_HASH = "0" * 64
_PREFIX_IN_TEXT_RE = re.compile(r"gqg_[0-9a-f]{12}")
HIDDEN_PREFIX = "gqg_[hidden]"


@dataclass(frozen=True)
class NewToken:
    lookup_id: str
    secret_hash: str
    plaintext: str


@dataclass(frozen=True)
class ParsedToken:
    lookup_id: str
    secret: str


def generate_token() -> NewToken:
    """A fresh token; `plaintext` must be shown once and then forgotten."""
    lookup_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewToken(
        lookup_id=lookup_id, secret_hash=hash_secret(secret), plaintext=f"{TOKEN_PREFIX}{lookup_id}_{secret}"
    )


def parse_token(raw: str) -> ParsedToken | None:
    """The token's parts, or None when it is not a gqlgov API token."""
    match = _TOKEN_RE.match(raw)
    if match is None:
        return None
    return ParsedToken(lookup_id=match.group(1), secret=match.group(2))


def looks_like_api_token(raw: str) -> bool:
    return raw.startswith(TOKEN_PREFIX)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def lookup_id_from_prefix(prefix: str) -> str | None:
    """Accepts ``gqg_<lookup>`` or the bare lookup id, as printed by listings."""
    candidate = prefix.removeprefix(TOKEN_PREFIX).split("_", 1)[0]
    return candidate if re.fullmatch(r"[0-9a-f]{12}", candidate) else None


def without_token_prefixes(value: Any) -> Any:
    """JSON-like `value` with every token prefix (gqg_<lookup id>) in its strings shown as gqg_[hidden],
    for people who may not see token details."""
    if isinstance(value, str):
        return _PREFIX_IN_TEXT_RE.sub(HIDDEN_PREFIX, value)
    if isinstance(value, list):
        return [without_token_prefixes(item) for item in value]
    if isinstance(value, dict):
        return {key: without_token_prefixes(item) for key, item in value.items()}
    return value
