"""The Demo workspace's leads (PRODUCT 13, `seed_demo --leads N`)."""

import random
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from contacts.consent import lead_unsubscribe
from contacts.models import Channel, Lead
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
    _demo_unsubscribes(
        Lead.objects.for_workspace(workspace).alive().filter(email__in=unsubscribing), rng
    )
    leads_rescore(workspace=workspace)
    return created


# How demo leads unsubscribed, (channel, source, weight), so Pipeline → Unsubscribes shows what
# a real workspace's does: mostly the link in an email, some by hand, an import, the kanban.
DEMO_UNSUBSCRIBE_WAYS = [
    (Channel.LINK, "Unsubscribe link in the monthly newsletter", 6),
    (Channel.LINK, "Unsubscribe link in a sequence email", 3),
    (Channel.MANUAL, "Asked to be removed on a call", 2),
    (Channel.MANUAL, "Replied “please take me off your list”", 2),
    (Channel.IMPORT, "Opt-out list from the Berlin trade fair", 1),
    (Channel.KANBAN, "Moved to Unsubscribed on the kanban", 1),
]
DEMO_UNSUBSCRIBE_DAYS = 180  # spread over the last six months


def _demo_unsubscribes(leads: QuerySet[Lead], rng: random.Random) -> None:
    """Unsubscribe each lead through the service, its own way, at its own moment after it
    was created and gave consent (the ledger stays in order and the lead's consent copy is the
    opt-out, as if it had happened then). One by one: about 2% of the demo's leads."""
    now = timezone.now()
    leads = list(leads.select_related("owner").order_by("pk"))
    ways = [(channel, source) for channel, source, _ in DEMO_UNSUBSCRIBE_WAYS]
    weights = [weight for _, _, weight in DEMO_UNSUBSCRIBE_WAYS]
    for lead in leads:
        channel, source = rng.choices(ways, weights=weights)[0]
        earliest = max(
            lead.created_at,
            lead.consent_captured_at or lead.created_at,
            now - timedelta(days=DEMO_UNSUBSCRIBE_DAYS),
        )
        occurred_at = earliest + (now - earliest) * rng.random()
        # The link and imports have no member behind them; a call or a kanban move has.
        actor = lead.owner if channel in (Channel.MANUAL, Channel.KANBAN) else None
        lead_unsubscribe(
            lead=lead, actor=actor, channel=channel, source=source, occurred_at=occurred_at
        )
