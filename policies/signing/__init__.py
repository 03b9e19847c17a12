"""Signed decisions: every allow of the check carries a decision token (a compact JWS, ES256) that
a backend verifies with gqlgov-verify against the published JWK Set, without calling gqlgov.

- jws.py: the token format and the public key as a JWK (no Django).
- kms.py: an AWS KMS asymmetric key as the signer (no Django).
- keys.py: the signing keys: creation, rotation (audited), encryption at rest, which are published.
- tokens.py: the hot path: the per-process active key, binding a check to it, minting the token.
- api.py: GET /api/v1/.well-known/jwks.json.
"""
