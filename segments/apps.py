from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "segments"

    def ready(self) -> None:
        from contacts.demo import DEMO_SEED_STEPS
        from leadcrm.navigation import PIPELINE_MENU, NavItem
        from segments.demo import demo_segments_step

        if demo_segments_step not in DEMO_SEED_STEPS:  # seed_demo's example segments
            DEMO_SEED_STEPS.append(demo_segments_step)

        item = NavItem(
            "Segments",
            "segments:segment-list",
            ("leadcrm.view_segments",),
            "collection",
            "Static lists of leads and dynamic rules: export them, freeze them, use them.",
            position=30,  # after Leads and the kanban, which pipeline registers later
        )
        if item not in PIPELINE_MENU:  # ready() may run twice in some test runners
            PIPELINE_MENU.append(item)
