from django.core.management.base import BaseCommand, CommandError

from contacts.demo import DEMO_LEADS, DEMO_SEED_STEPS, demo_leads_seed
from contacts.models import Lead
from leadcrm.demo import DEMO_USERS, OPERATOR_EMAIL, demo_workspace_seed

DEFAULT_PASSWORD = "leadcrm-demo"


class Command(BaseCommand):
    # Lives in contacts, not leadcrm, because it seeds leads and leadcrm must not import contacts.
    help = "Create (or repair) the Demo workspace with one login per role and N leads. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            help=f"Password of every demo login (default {DEFAULT_PASSWORD!r}); "
            "given explicitly, it is also set on logins that exist already.",
        )
        parser.add_argument(
            "--leads",
            type=int,
            default=DEMO_LEADS,
            help=f"Live leads the workspace should have (default {DEMO_LEADS}); "
            "missing ones are created, existing ones are kept.",
        )

    def handle(self, *args, password: str | None, leads: int, **options):
        if leads < 0:
            raise CommandError("--leads must be 0 or more.")
        workspace = demo_workspace_seed(
            password=password or DEFAULT_PASSWORD, reset_passwords=password is not None
        )
        created = demo_leads_seed(workspace=workspace, count=leads)
        reports = [step(workspace) for step in DEMO_SEED_STEPS]
        total = Lead.objects.for_workspace(workspace).alive().count()
        shown = password or DEFAULT_PASSWORD
        self.stdout.write(
            self.style.SUCCESS(f"Workspace “{workspace.name}” (slug {workspace.slug}) is ready.")
        )
        self.stdout.write(f"Demo logins (password: {shown}):")
        for email, _, role in DEMO_USERS:
            self.stdout.write(f"  {role:<10} {email}")
        self.stdout.write(f"  {'Operator':<10} {OPERATOR_EMAIL}  (Django admin at /admin/)")
        self.stdout.write(f"{total:,} leads ({created:,} created now).")
        for report in reports:
            self.stdout.write(report)
