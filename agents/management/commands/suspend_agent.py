from agents.management.status_command import StatusCommand
from agents.services import principal_suspend


class Command(StatusCommand):
    help = "Suspend an identity; its next request is refused."
    change = staticmethod(principal_suspend)
    done = "Suspended"
