from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Identities and audit"

    def ready(self) -> None:
        from agents import identity_cache, lockout

        identity_cache.connect_signals()
        lockout.connect_signals()
