from django.apps import AppConfig


class GatewayConfig(AppConfig):
    """The API Gateway export. Its models were the policies app's until this app existed: their
    tables keep the names they had then (``policies_exportrun``...), see migrations/0001_initial.py."""

    name = "policies.gateway"
    label = "gateway"
    verbose_name = "API Gateway export"

    def ready(self) -> None:
        # Registers the export's Celery tasks in every process (web, commands, shell), not only
        # in workers: the services enqueue them by name (services.EXPORT_TASK). Identity changes
        # are announced by agents, which does not know the gateway: the receiver listens here.
        from policies.gateway import receivers, tasks  # noqa: F401

        receivers.connect()
