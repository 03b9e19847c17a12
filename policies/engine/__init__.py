"""The pure decision engine: schema, policy and document in, Decision out.

No Django, no I/O, no clock: everything a decision depends on is passed in.
"""

from .analysis import Analysis, AnalysisLimits, Metrics, analyze
from .compiler import compile_policy, hard_cap_setting
from .decide import (
    ALLOW,
    DENY,
    PENDING_APPROVAL,
    Decision,
    RequestContext,
    Subject,
    decide,
    deny_pending_schema,
    deny_without_policy,
)
from .delegation import delegator_refused, intersect
from .limits import DEFAULT_CAPS, DIMENSIONS, Limits
from .matching import covers_operation, covers_subject, rule_matches
from .measure import RootField
from .policy import (
    Approval,
    CompiledPolicy,
    PolicyValidationError,
    Rule,
    StaleReference,
    stale_references,
    ungoverned_operations,
)
from .policy_yaml import dump_policy_yaml, parse_policy_yaml
from .ratelimits import MAX_UNITS_PER_SECOND, RateLimit, RateLimitProblem, parse_rate_limits
from .reasons import Reason
from .redaction import REDACTED, redact, redact_context
from .schema import (
    SchemaBuildError,
    SchemaBundle,
    SchemaDiff,
    SchemaError,
    SchemaSyntaxError,
    SchemaTooComplex,
    SchemaTooLarge,
    build_schema,
    diff_schemas,
)

__all__ = [
    "ALLOW",
    "DEFAULT_CAPS",
    "DENY",
    "DIMENSIONS",
    "MAX_UNITS_PER_SECOND",
    "PENDING_APPROVAL",
    "REDACTED",
    "Analysis",
    "AnalysisLimits",
    "Approval",
    "CompiledPolicy",
    "Decision",
    "Limits",
    "Metrics",
    "PolicyValidationError",
    "RateLimit",
    "RateLimitProblem",
    "Reason",
    "RequestContext",
    "RootField",
    "Rule",
    "SchemaBuildError",
    "SchemaBundle",
    "SchemaDiff",
    "SchemaError",
    "SchemaSyntaxError",
    "SchemaTooComplex",
    "SchemaTooLarge",
    "StaleReference",
    "Subject",
    "analyze",
    "build_schema",
    "compile_policy",
    "covers_operation",
    "covers_subject",
    "decide",
    "delegator_refused",
    "deny_pending_schema",
    "deny_without_policy",
    "diff_schemas",
    "dump_policy_yaml",
    "hard_cap_setting",
    "intersect",
    "parse_policy_yaml",
    "parse_rate_limits",
    "redact",
    "redact_context",
    "rule_matches",
    "stale_references",
    "ungoverned_operations",
]
