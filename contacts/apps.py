from django.apps import AppConfig


class ContactsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "contacts"

    def ready(self) -> None:
        from leadcrm.navigation import SETTINGS_PAGES, NavItem

        item = NavItem(
            "Custom fields",
            "custom-fields",
            ("leadcrm.manage_custom_fields",),
            "ui-checks",
            "Fields of your own on every lead.",
        )
        if item not in SETTINGS_PAGES:  # ready() may run twice in some test runners
            SETTINGS_PAGES.append(item)
