from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Identities and audit"

    def ready(self) -> None:
        from agents.identity_cache import connect_signals

        connect_signals()
