"""The pre-check: the pipeline as named steps (pipeline), the per-process caches it reads
(caches), the limiter it admits through (limiter) and the decision records it leaves (records,
with their drainer)."""
