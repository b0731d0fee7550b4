"""Settings → Sending (PRODUCT A5): the sender identity and the postal address of every
message a workspace's sequences send."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from leadcrm.permissions import require_perm
from pipeline.forms import errors_add
from pipeline.sequence_forms import SendingSettingsForm
from pipeline.sequences import sending_settings_for, sending_settings_save

TEMPLATE = "pipeline/sending_settings.html"


@require_http_methods(["GET", "POST"])
@require_perm("leadcrm.manage_sending")
def sending_settings(request: HttpRequest) -> HttpResponse:
    current = sending_settings_for(request.workspace)
    form = SendingSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        try:
            sending_settings_save(
                workspace=request.workspace, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            errors_add(form, error)
        else:
            messages.success(request, "Sending settings saved.")
            return redirect("sending-settings")
    status = 400 if form.errors else 200
    return render(request, TEMPLATE, {"form": form, "current": current}, status=status)
