import factory
from django.contrib.auth.models import Group

from leadcrm.models import Membership, User, Workspace
from leadcrm.roles import SALES_REP

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(self, create, extracted, **kwargs):
        if create:
            self.save()


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"workspace-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    workspace = factory.SubFactory(WorkspaceFactory)
    role = factory.LazyFunction(lambda: Group.objects.get(name=SALES_REP))

    class Params:
        role_name = None

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        role_name = kwargs.pop("role_name", None)
        if role_name:
            kwargs["role"] = Group.objects.get(name=role_name)
        return kwargs
