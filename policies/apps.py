from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Schemas and policies"

    def ready(self) -> None:
        from gqlgov import metrics
        from policies import tasks  # noqa: F401  (registers its Celery tasks in every process)
        from policies.checks.drainer import stream_backlog

        metrics.measure_stream_backlog_with(stream_backlog)
