"""Settings pages of the contacts app, mounted under /settings/ by leadcrm.urls."""

from django.urls import path

from contacts import scoring_views, views

urlpatterns = [
    path("custom-fields/", views.custom_fields, name="custom-fields"),
    path("custom-fields/new/", views.custom_field_create_view, name="custom-field-create"),
    path("custom-fields/<int:pk>/", views.custom_field_edit_view, name="custom-field-edit"),
    path("custom-fields/<int:pk>/move/", views.custom_field_move_view, name="custom-field-move"),
    path(
        "custom-fields/<int:pk>/retire/", views.custom_field_retire_view, name="custom-field-retire"
    ),
    path(
        "custom-fields/<int:pk>/restore/",
        views.custom_field_restore_view,
        name="custom-field-restore",
    ),
    path(
        "custom-fields/<int:pk>/delete/", views.custom_field_delete_view, name="custom-field-delete"
    ),
    path("scoring/", scoring_views.scoring, name="scoring"),
    path("scoring/rules/new/", scoring_views.scoring_rule_create_view, name="scoring-rule-create"),
    path("scoring/rules/<int:pk>/", scoring_views.scoring_rule_edit_view, name="scoring-rule-edit"),
    path(
        "scoring/rules/<int:pk>/disable/",
        scoring_views.scoring_rule_disable_view,
        name="scoring-rule-disable",
    ),
    path(
        "scoring/rules/<int:pk>/enable/",
        scoring_views.scoring_rule_enable_view,
        name="scoring-rule-enable",
    ),
    path(
        "scoring/rules/<int:pk>/delete/",
        scoring_views.scoring_rule_delete_view,
        name="scoring-rule-delete",
    ),
    path(
        "scoring/source-weights/",
        scoring_views.scoring_source_weights_view,
        name="scoring-source-weights",
    ),
    path("scoring/recompute/", scoring_views.scoring_recompute_view, name="scoring-recompute"),
    path(
        "scoring/recompute/card/",
        scoring_views.scoring_recompute_card,
        name="scoring-recompute-card",
    ),
]
