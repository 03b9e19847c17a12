"""The API Gateway export: a policy version's desired gateway state (plan), applied to AWS,
rendered as infrastructure as code, signed with KMS, checked for drift. A Django app (label
``gateway``) of its own; the policies app calls it when a version becomes active."""
