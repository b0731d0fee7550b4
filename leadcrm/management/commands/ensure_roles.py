from django.core.management.base import BaseCommand

from leadcrm.roles import DEFAULT_MATRIX, ensure_default_roles


class Command(BaseCommand):
    help = "Create the default roles (runs after every migrate too); --reset restores the matrix."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Give every default role exactly the permissions of the default matrix again.",
        )

    def handle(self, *args, reset: bool, **options):
        ensure_default_roles(reset=reset)
        for role, codenames in DEFAULT_MATRIX.items():
            self.stdout.write(f"{role}: {len(codenames)} permissions{' (reset)' if reset else ''}")
