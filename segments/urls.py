"""Pipeline → Segments (PRODUCT 4; contract: /pipeline/segments/)."""

from django.urls import path

from segments import builder_views, views

app_name = "segments"

urlpatterns = [
    path("", views.segment_list, name="segment-list"),
    path("new/", views.segment_new, name="segment-new"),
    path("<int:pk>/", views.segment_detail, name="segment-detail"),
    path("<int:pk>/count/", views.segment_count, name="segment-count"),
    path("<int:pk>/edit/", views.segment_edit, name="segment-edit"),
    path("<int:pk>/duplicate/", views.segment_duplicate_view, name="segment-duplicate"),
    path("<int:pk>/state/", views.segment_state_view, name="segment-state"),
    path("<int:pk>/freeze/", views.segment_freeze_view, name="segment-freeze"),
    path("<int:pk>/delete/", views.segment_delete_view, name="segment-delete"),
    path("<int:pk>/export/", views.segment_export, name="segment-export"),
    path("<int:pk>/members/remove/", views.segment_members_remove, name="members-remove"),
    # The rule builder of a dynamic segment (segments/builder_views.py)
    path("<int:pk>/rules/", builder_views.rules_builder, name="rules"),
    path("<int:pk>/rules/preview/", builder_views.rules_preview, name="rules-preview"),
    path("<int:pk>/rules/edit/", builder_views.rules_edit, name="rules-edit"),
    path("<int:pk>/rules/save/", builder_views.rules_save, name="rules-save"),
]
