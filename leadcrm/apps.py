from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_roles(sender, **kwargs) -> None:
    from leadcrm.roles import ensure_default_roles

    ensure_default_roles()


class LeadcrmConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "leadcrm"
    verbose_name = "LeadCRM"

    def ready(self) -> None:
        from leadcrm import lookups  # noqa: F401  (registers __anyof on every field)

        # After every migrate: a deleted role comes back and Owner holds every permission (W2).
        post_migrate.connect(_ensure_roles, sender=self, dispatch_uid="leadcrm.ensure_roles")
