from django.apps import AppConfig


class PipelineConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "pipeline"

    def ready(self) -> None:
        from leadcrm.navigation import PIPELINE_MENU, SETTINGS_PAGES, NavItem
        from pipeline.services import saved_views_using_segment
        from segments.services import SEGMENT_USAGE_CHECKS

        items = [
            NavItem(
                "Leads",
                "pipeline:lead-list",
                ("leadcrm.view_leads",),
                "people",
                "Every lead of the workspace: filter, search, update in bulk, export.",
            ),
            NavItem(
                "Leads Kanban",
                "pipeline:kanban",
                ("leadcrm.view_leads",),
                "kanban",
                "The leads by status: drag a card to move it through the funnel.",
            ),
            NavItem(
                "Import",
                "pipeline:import",
                ("leadcrm.import_leads",),
                "upload",
                "Upload CSV, Excel or vCard files; map, preview, import, undo.",
                position=20,  # after Leads and the kanban (0), before Segments (30)
            ),
            NavItem(
                "Sequences",
                "pipeline:sequence-list",
                ("leadcrm.view_leads",),
                "envelope-paper",
                "Ordered email steps sent lead by lead from the lead view.",
                position=40,  # after Segments (30)
            ),
        ]
        for item in items:
            if item not in PIPELINE_MENU:  # ready() may run twice in some test runners
                PIPELINE_MENU.append(item)
        sending = NavItem(
            "Sending",
            "sending-settings",
            ("leadcrm.manage_sending",),
            "send",
            "Sender name and address, reply-to and the postal address in every message's footer.",
        )
        if sending not in SETTINGS_PAGES:
            SETTINGS_PAGES.append(sending)
        # A segment a saved view filters on cannot be deleted (segments can't import us).
        if saved_views_using_segment not in SEGMENT_USAGE_CHECKS:
            SEGMENT_USAGE_CHECKS.append(saved_views_using_segment)
        # A large segment export becomes a background export (this app's Exports page).
        from pipeline.export_views import segment_export_in_background
        from segments.views import BACKGROUND_EXPORTS

        if segment_export_in_background not in BACKGROUND_EXPORTS:
            BACKGROUND_EXPORTS.append(segment_export_in_background)
        # An unsubscribed lead's sequence stops, whichever way it unsubscribed.
        from contacts.consent import UNSUBSCRIBE_HANDLERS
        from pipeline.sequences import enrollments_stop_unsubscribed

        if enrollments_stop_unsubscribed not in UNSUBSCRIBE_HANDLERS:
            UNSUBSCRIBE_HANDLERS.append(enrollments_stop_unsubscribed)
        # The bulk bar's "Erase (GDPR)…" names its leads as the other bulk actions do.
        from compliance.erasure_views import SELECTION_RESOLVERS
        from pipeline.views import bulk_selection

        if bulk_selection not in SELECTION_RESOLVERS:
            SELECTION_RESOLVERS.append(bulk_selection)
        # GDPR access exports carry the lead's sequence enrolments (C5).
        from compliance.access import ACCESS_SECTIONS
        from pipeline.sequences import lead_access_sequences

        if lead_access_sequences not in ACCESS_SECTIONS:
            ACCESS_SECTIONS.append(lead_access_sequences)
        # seed_demo's sending settings and example sequences with enrolled leads.
        from contacts.demo import DEMO_SEED_STEPS
        from pipeline.demo import demo_sequences_step

        if demo_sequences_step not in DEMO_SEED_STEPS:
            DEMO_SEED_STEPS.append(demo_sequences_step)
