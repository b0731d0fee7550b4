"""Settings pages of the compliance app, mounted under /settings/ by leadcrm.urls."""

from django.urls import path

from compliance import audit_views, erasure_views, suppression_views

urlpatterns = [
    path("suppression/", suppression_views.suppression_list, name="suppression"),
    path("suppression/add/", suppression_views.suppression_add_view, name="suppression-add"),
    path(
        "suppression/remove/", suppression_views.suppression_remove_view, name="suppression-remove"
    ),
    path("erasure/", erasure_views.erasure_list, name="erasure"),
    path("erasure/<int:pk>/", erasure_views.erasure_detail, name="erasure-detail"),
    path("audit/", audit_views.audit_log, name="audit-log"),
]
