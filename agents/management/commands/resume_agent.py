from agents.management.status_command import StatusCommand
from agents.services import principal_resume


class Command(StatusCommand):
    help = "Resume a suspended identity."
    change = staticmethod(principal_resume)
    done = "Resumed"
