from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "compliance"

    def ready(self) -> None:
        from leadcrm.navigation import PIPELINE_MENU, SETTINGS_PAGES, NavItem

        unsubscribes = NavItem(
            "Unsubscribes",
            "compliance:unsubscribes",
            ("leadcrm.view_unsubscribes",),
            "envelope-slash",
            "Who unsubscribed, when, how and from where.",
            position=50,  # after Sequences (40)
        )
        if unsubscribes not in PIPELINE_MENU:  # ready() may run twice in some test runners
            PIPELINE_MENU.append(unsubscribes)
        pages = [
            NavItem(
                "Suppression list",
                "suppression",
                ("leadcrm.manage_suppression",),
                "slash-circle",
                "Addresses never to be re-created or mailed, kept only as hashes.",
                position=60,
            ),
            NavItem(
                "GDPR erasure",
                "erasure",
                ("leadcrm.gdpr_erase",),
                "eraser",
                "Erase leads in bulk from a data-subject request; every erasure's report.",
                position=70,
            ),
            NavItem(
                "Audit log",
                "audit-log",
                ("leadcrm.view_audit_log",),
                "journal-text",
                "Who changed what, and when, in this workspace.",
                position=80,
            ),
        ]
        for item in pages:
            if item not in SETTINGS_PAGES:
                SETTINGS_PAGES.append(item)
