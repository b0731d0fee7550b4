"""Settings pages of the pipeline app, mounted under /settings/ by leadcrm.urls."""

from django.urls import path

from pipeline import sending_views

urlpatterns = [
    path("sending/", sending_views.sending_settings, name="sending-settings"),
]
