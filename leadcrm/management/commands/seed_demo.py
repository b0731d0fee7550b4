from django.core.management.base import BaseCommand

from leadcrm.demo import DEMO_USERS, OPERATOR_EMAIL, demo_workspace_seed

DEFAULT_PASSWORD = "leadcrm-demo"


class Command(BaseCommand):
    help = "Create (or repair) the Demo workspace with one login per role. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            help=f"Password of every demo login (default {DEFAULT_PASSWORD!r}); "
            "given explicitly, it is also set on logins that exist already.",
        )

    def handle(self, *args, password: str | None, **options):
        workspace = demo_workspace_seed(
            password=password or DEFAULT_PASSWORD, reset_passwords=password is not None
        )
        shown = password or DEFAULT_PASSWORD
        self.stdout.write(
            self.style.SUCCESS(f"Workspace “{workspace.name}” (slug {workspace.slug}) is ready.")
        )
        self.stdout.write(f"Demo logins (password: {shown}):")
        for email, _, role in DEMO_USERS:
            self.stdout.write(f"  {role:<10} {email}")
        self.stdout.write(f"  {'Operator':<10} {OPERATOR_EMAIL}  (Django admin at /admin/)")
