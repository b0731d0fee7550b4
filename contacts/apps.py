from django.apps import AppConfig


class ContactsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "contacts"

    def ready(self) -> None:
        from contacts.services import leads_reassign
        from leadcrm.navigation import SETTINGS_PAGES, NavItem
        from leadcrm.services import MEMBER_REMOVAL_HANDLERS

        item = NavItem(
            "Custom fields",
            "custom-fields",
            ("leadcrm.manage_custom_fields",),
            "ui-checks",
            "Fields of your own on every lead.",
        )
        if item not in SETTINGS_PAGES:  # ready() may run twice in some test runners
            SETTINGS_PAGES.append(item)
        item = NavItem(
            "Scoring",
            "scoring",
            ("leadcrm.manage_scoring",),
            "speedometer2",
            "Engagement rules, source weights, recomputing every lead's scores.",
        )
        if item not in SETTINGS_PAGES:
            SETTINGS_PAGES.append(item)
        # SQLite connections get LEADCRM_LOWER (Unicode-aware lower) for scoring URL rules.
        from django.db.backends.signals import connection_created

        from contacts.scoring import sqlite_functions_register

        connection_created.connect(sqlite_functions_register, dispatch_uid="contacts.sqlite_fn")
        # Every workspace starts with seed 000's scoring rules (PRODUCT A3).
        from django.db.models.signals import post_save

        from contacts.scoring import workspace_scoring_defaults
        from leadcrm.models import Workspace

        post_save.connect(
            workspace_scoring_defaults, sender=Workspace, dispatch_uid="contacts.scoring_defaults"
        )
        # GDPR erasure deletes the import error-report rows of an erased lead or address (C6).
        from contacts.erasure import erasure_handler_register
        from contacts.importing.jobs import import_issues_erase

        erasure_handler_register(import_issues_erase)
        # A removed member's leads pass to the member chosen on Settings → Members (W4).
        if leads_reassign not in MEMBER_REMOVAL_HANDLERS:
            MEMBER_REMOVAL_HANDLERS.append(leads_reassign)
