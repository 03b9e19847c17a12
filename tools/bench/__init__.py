"""The benchmark, `manage.py bench` (docs/benchmarks.md): a Django app of its own so that the command
lives outside the product packages, installed by gqlgov/settings.py only where tools/ is importable."""
