"""The Pipeline pages (PRODUCT 13 contracts: /pipeline/leads/, /pipeline/leads/<id>/, …)."""

from django.urls import path

from pipeline import (
    edit_views,
    export_views,
    import_views,
    kanban,
    lead_views,
    sequence_views,
    views,
)

app_name = "pipeline"

urlpatterns = [
    path("leads/", views.lead_list, name="lead-list"),
    path("kanban/", kanban.kanban, name="kanban"),
    path("kanban/columns/<str:status>/", kanban.kanban_column, name="kanban-column"),
    path("kanban/leads/<int:pk>/move/", kanban.kanban_move, name="kanban-move"),
    path("leads/<int:pk>/", lead_views.lead_detail, name="lead-detail"),
    path("leads/<int:pk>/activities/", lead_views.lead_activity_create, name="lead-activity"),
    path("leads/<int:pk>/consent/", lead_views.lead_consent_change, name="lead-consent"),
    path("leads/<int:pk>/bant/", lead_views.lead_bant, name="lead-bant"),
    path("leads/<int:pk>/segments/", lead_views.lead_segment_add, name="lead-segment-add"),
    path(
        "leads/<int:pk>/segments/<int:segment_pk>/remove/",
        lead_views.lead_segment_remove,
        name="lead-segment-remove",
    ),
    path("companies/<int:pk>/", lead_views.company_detail, name="company-detail"),
    path("leads/columns/", views.lead_columns_save, name="lead-columns"),
    path("leads/bulk/", views.lead_bulk, name="lead-bulk"),
    path("leads/export/", views.lead_export, name="lead-export"),
    path("leads/views/", views.saved_view_save, name="saved-view-save"),
    path("leads/views/<int:pk>/", views.saved_view_open, name="saved-view-open"),
    path("leads/views/<int:pk>/delete/", views.saved_view_delete, name="saved-view-delete"),
    path("leads/segment/", views.lead_list_segment_save, name="lead-list-segment"),
    # Add / Edit / Delete and the Trash (pipeline/edit_views.py)
    path("leads/new/", edit_views.lead_new, name="lead-new"),
    path("leads/<int:pk>/edit/", edit_views.lead_edit, name="lead-edit"),
    path("leads/<int:pk>/delete/", edit_views.lead_delete_view, name="lead-delete"),
    path("trash/", edit_views.trash, name="trash"),
    path("trash/<int:pk>/restore/", edit_views.lead_restore_view, name="lead-restore"),
    path("exports/", export_views.export_list, name="exports"),
    path("exports/<int:pk>/download/", export_views.export_download, name="export-download"),
    # Import (pipeline/import_views.py)
    path("import/", import_views.import_list, name="import"),
    path("import/<int:pk>/", import_views.import_detail, name="import-detail"),
    path("import/<int:pk>/progress/", import_views.import_progress_card, name="import-progress"),
    path("import/<int:pk>/errors.csv", import_views.import_errors, name="import-errors"),
    path("import/<int:pk>/undo/", import_views.import_undo_view, name="import-undo"),
    path("import/<int:pk>/cancel/", import_views.import_cancel_view, name="import-cancel"),
    path("import/<int:pk>/discard/", import_views.import_discard_view, name="import-discard"),
    # Sequences (pipeline/sequence_views.py)
    path("sequences/", sequence_views.sequence_list, name="sequence-list"),
    path("sequences/new/", sequence_views.sequence_create, name="sequence-create"),
    path("sequences/<int:pk>/", sequence_views.sequence_detail, name="sequence-detail"),
    path("sequences/<int:pk>/edit/", sequence_views.sequence_edit, name="sequence-edit"),
    path(
        "sequences/<int:pk>/archive/",
        sequence_views.sequence_archive_view,
        name="sequence-archive",
    ),
    path(
        "sequences/<int:pk>/restore/",
        sequence_views.sequence_restore_view,
        name="sequence-restore",
    ),
    path(
        "sequences/<int:pk>/enrol/",
        sequence_views.sequence_enrol_audience,
        name="sequence-enrol-audience",
    ),
    path("sequences/<int:pk>/steps/", sequence_views.step_create, name="step-create"),
    path("sequences/<int:pk>/steps/<int:step_pk>/", sequence_views.step_edit, name="step-edit"),
    path(
        "sequences/<int:pk>/steps/<int:step_pk>/move/",
        sequence_views.step_move_view,
        name="step-move",
    ),
    path(
        "sequences/<int:pk>/steps/<int:step_pk>/delete/",
        sequence_views.step_delete_view,
        name="step-delete",
    ),
    path(
        "sequences/<int:pk>/steps/<int:step_pk>/preview/",
        sequence_views.step_preview,
        name="step-preview",
    ),
    path(
        "leads/<int:pk>/sequence/enrol/",
        sequence_views.lead_sequence_enrol,
        name="lead-sequence-enrol",
    ),
    path("enrolments/<int:pk>/send/", sequence_views.enrollment_send, name="enrollment-send"),
    path("enrolments/<int:pk>/stop/", sequence_views.enrollment_stop_view, name="enrollment-stop"),
]
