"""Compliance pages under /pipeline/ (mounted before the pipeline app's own URLs)."""

from django.urls import path

from compliance import erasure_views, lead_views, unsubscribe_views

app_name = "compliance"

urlpatterns = [
    # Unsubscribes (C3)
    path("unsubscribes/", unsubscribe_views.unsubscribe_list, name="unsubscribes"),
    path("unsubscribes/export/", unsubscribe_views.unsubscribe_export, name="unsubscribes-export"),
    # On one lead: Do Not Contact (C4), GDPR access (C5) and erasure (C6)
    path(
        "leads/<int:pk>/do-not-contact/",
        lead_views.lead_do_not_contact,
        name="lead-do-not-contact",
    ),
    path("leads/<int:pk>/gdpr-export/", lead_views.lead_gdpr_export, name="lead-gdpr-export"),
    path("leads/<int:pk>/erase/", lead_views.lead_erase_view, name="lead-erase"),
    # Bulk erasure of a lead-list selection (C6)
    path("leads/erase/", erasure_views.selection_erase, name="selection-erase"),
]
