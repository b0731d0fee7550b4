from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from leadcrm import settings_views, views

accounts = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(post_reset_login=True),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("invite/<uidb64>/<token>/", views.InviteAcceptView.as_view(), name="invite-accept"),
]

workspace_settings = [
    path("", settings_views.settings_index, name="settings"),
    path("general/", settings_views.settings_general, name="settings-general"),
    path("general/rename/", settings_views.workspace_rename_view, name="workspace-rename"),
    path("general/transfer/", settings_views.ownership_transfer_view, name="ownership-transfer"),
    path("general/delete/", settings_views.workspace_delete_view, name="workspace-delete"),
    path("members/", settings_views.settings_members, name="settings-members"),
    path("members/invite/", settings_views.member_invite_view, name="member-invite"),
    path("members/<int:pk>/role/", settings_views.member_role_view, name="member-role"),
    path("members/<int:pk>/remove/", settings_views.member_remove_view, name="member-remove"),
    path("members/<int:pk>/resend/", settings_views.member_resend_view, name="member-resend"),
    path("", include("contacts.urls")),
    path("", include("pipeline.settings_urls")),
    path("", include("compliance.settings_urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include(accounts)),
    path("workspaces/new/", views.workspace_new, name="workspace-new"),
    path("workspaces/switch/", views.workspace_switch, name="workspace-switch"),
    path("settings/", include(workspace_settings)),
    path("pipeline/segments/", include("segments.urls")),
    path("pipeline/", include("compliance.pipeline_urls")),
    path("pipeline/", include("pipeline.urls")),
    path("", include("compliance.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "leadcrm.errors.permission_denied"
handler404 = "leadcrm.errors.page_not_found"
handler500 = "leadcrm.errors.server_error"
