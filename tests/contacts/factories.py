"""Factories for every contacts model.

They write rows directly (no services), with the derived columns a service would fill
(search_text, domain), so a test can set up any state; the behaviour under test then goes
through contacts.services.
"""

import factory

from contacts.models import (
    Activity,
    ActivityType,
    Company,
    ConsentEvent,
    ConsentStatus,
    CustomField,
    CustomFieldType,
    Lead,
    ScoringRule,
    SuppressedEmail,
    SuppressionReason,
    Tag,
)
from contacts.normalize import email_domain, search_text_for
from contacts.queries import suppression_hash
from segments.models import Segment, SegmentKind, SegmentMembership, SegmentState
from tests.factories import WorkspaceFactory


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.test")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"tag-{n}")


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomField

    workspace = factory.SubFactory(WorkspaceFactory)
    key = factory.Sequence(lambda n: f"field_{n}")
    label = factory.Sequence(lambda n: f"Field {n}")
    type = CustomFieldType.TEXT
    choices = factory.LazyFunction(list)
    position = factory.Sequence(lambda n: n)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    workspace = factory.SubFactory(WorkspaceFactory)
    email = factory.Sequence(lambda n: f"lead{n}@prospect.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    domain = factory.LazyAttribute(lambda o: email_domain(o.email))
    search_text = factory.LazyAttribute(
        lambda o: search_text_for(
            first_name=o.first_name,
            last_name=o.last_name,
            email=o.email,
            company_name=o.company.name if o.company else "",
        )
    )
    company = None


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    workspace = factory.LazyAttribute(lambda o: o.lead.workspace)
    type = ActivityType.NOTE


class ScoringRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoringRule

    workspace = factory.SubFactory(WorkspaceFactory)
    activity_type = ActivityType.EMAIL_OPENED
    points = 1


class ConsentEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsentEvent

    lead = factory.SubFactory(LeadFactory)
    workspace = factory.LazyAttribute(lambda o: o.lead.workspace)
    status_before = ConsentStatus.UNKNOWN
    status = ConsentStatus.PENDING


class SuppressedEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuppressedEmail
        exclude = ["email"]

    workspace = factory.SubFactory(WorkspaceFactory)
    email = factory.Sequence(lambda n: f"suppressed{n}@prospect.test")
    email_hash = factory.LazyAttribute(lambda o: suppression_hash(o.email))
    reason = SuppressionReason.MANUAL


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Segment {n}")
    kind = SegmentKind.STATIC
    state = SegmentState.ACTIVE


class SegmentMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SegmentMembership

    segment = factory.SubFactory(SegmentFactory)
    lead = factory.SubFactory(LeadFactory, workspace=factory.SelfAttribute("..segment.workspace"))
