"""Settings pages of the contacts app, mounted under /settings/ by leadcrm.urls."""

from django.urls import path

from contacts import views

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
]
