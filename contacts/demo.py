"""The Demo workspace's leads (PRODUCT 13, `seed_demo --leads N`)."""

import random
from collections.abc import Callable

from django.db import transaction
from django.db.models.functions import Lower

from contacts.consent import leads_unsubscribe
from contacts.models import Lead
from contacts.scoring import leads_rescore, scoring_rules_ensure_defaults
from contacts.synthetic import (
    LeadGenerator,
    companies_ensure,
    custom_fields_ensure,
    lead_owners,
    leads_write_orm,
    tags_ensure,
)
from leadcrm.models import Workspace

DEMO_LEADS = 5000
DEMO_COMPANIES = 300
UNSUBSCRIBED_SHARE = 0.02

# Higher apps add their demo data (segments, sequences, …) from AppConfig.ready(), since
# contacts must not import them. seed_demo runs each after the leads are in: step(workspace)
# is idempotent and returns a line for the report, e.g. "8 segments (0 created now)".
DemoSeedStep = Callable[[Workspace], str]
DEMO_SEED_STEPS: list[DemoSeedStep] = []


@transaction.atomic
def demo_leads_seed(*, workspace: Workspace, count: int = DEMO_LEADS, seed: int = 42) -> int:
    """Top the workspace up to `count` live leads; returns how many were created.

    Idempotent: with `count` live leads already there, nothing changes.
    """
    scoring_rules_ensure_defaults(workspace=workspace)
    live = Lead.objects.for_workspace(workspace).alive().count()
    if live >= count:
        return 0
    companies = companies_ensure(workspace=workspace, count=DEMO_COMPANIES, seed=seed)
    tags = tags_ensure(workspace=workspace)
    attribute_keys = custom_fields_ensure(workspace=workspace)
    owner_ids, owner_weights = lead_owners(workspace=workspace)
    # Trashed leads keep their emails too: a new lead must not collide with a restorable one.
    taken = set(Lead.objects.for_workspace(workspace).values_list(Lower("email"), flat=True))

    def email_for(local: str, domain: str, n: int) -> str:
        email, suffix = f"{local}@{domain}", 2
        while email in taken:
            email, suffix = f"{local}{suffix}@{domain}", suffix + 1
        taken.add(email)
        return email

    generator = LeadGenerator(
        workspace=workspace,
        seed=seed,
        stream=f"demo:{live}",
        companies=companies,
        tags=tags,
        attribute_keys=attribute_keys,
        owner_ids=owner_ids,
        owner_weights=owner_weights,
        activities_per_lead=3,
        email_for=email_for,
    )
    leads = [generator.lead(n) for n in range(count - live)]
    created, _ = leads_write_orm(workspace=workspace, leads=leads)

    rng = random.Random(f"{seed}:unsubscribe:{live}")
    emails = [lead.fields["email"] for lead in leads]
    unsubscribing = rng.sample(emails, round(len(emails) * UNSUBSCRIBED_SHARE))
    leads_unsubscribe(
        workspace=workspace,
        actor=None,
        leads=Lead.objects.for_workspace(workspace).alive().filter(email__in=unsubscribing),
        channel="link",
        source="Unsubscribe link in newsletter",
    )
    leads_rescore(workspace=workspace)
    return created
