"""gqlgov-verify: check a gqlgov decision token without calling gqlgov."""

from gqlgov_verify.binding import document_sha256, variables_sha256

__all__ = ["document_sha256", "variables_sha256"]
