"""Settings → Custom fields (PRODUCT W5), for members who manage custom fields."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts.custom_fields import (
    custom_field_create,
    custom_field_delete,
    custom_field_move,
    custom_field_restore,
    custom_field_retire,
    custom_field_update,
)
from contacts.forms import (
    CustomFieldCreateForm,
    CustomFieldDeleteForm,
    CustomFieldEditForm,
    CustomFieldMoveForm,
)
from contacts.models import CustomField
from leadcrm.permissions import require_perm
from leadcrm.views import get_scoped_or_404

MANAGE = "leadcrm.manage_custom_fields"


def _fields_page(request: HttpRequest, form: CustomFieldCreateForm | None = None) -> HttpResponse:
    fields = list(CustomField.objects.for_workspace(request.workspace).live())
    template = "contacts/custom_fields.html"
    if request.htmx and form is None:
        template += "#field-list"
    context = {
        "active_fields": [f for f in fields if not f.is_retired],
        "retired_fields": [f for f in fields if f.is_retired],
        "form": form or CustomFieldCreateForm(),
    }
    return render(request, template, context, status=400 if form else 200)


def _field(request: HttpRequest, pk: int) -> CustomField:
    """A field of this workspace that is not being deleted; anything else is a 404."""
    return get_scoped_or_404(request, CustomField.objects.live(), pk=pk)


def _after_list_change(request: HttpRequest) -> HttpResponse:
    """htmx swaps in the new list; a plain form post goes back to the page."""
    if request.htmx:
        return _fields_page(request)
    return redirect("custom-fields")


@require_GET
@require_perm(MANAGE)
def custom_fields(request: HttpRequest) -> HttpResponse:
    return _fields_page(request)


@require_POST
@require_perm(MANAGE)
def custom_field_create_view(request: HttpRequest) -> HttpResponse:
    form = CustomFieldCreateForm(request.POST)
    if not form.is_valid():
        return _fields_page(request, form=form)
    try:
        field = custom_field_create(
            workspace=request.workspace, actor=request.user, **form.cleaned_data
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _fields_page(request, form=form)
    messages.success(request, f"Field “{field.label}” added to every lead.")
    return redirect("custom-fields")


@require_http_methods(["GET", "POST"])
@require_perm(MANAGE)
def custom_field_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    field = _field(request, pk)
    form = CustomFieldEditForm(request.POST or None, field=field)
    if request.method == "POST" and form.is_valid():
        try:
            custom_field_update(
                field=field,
                actor=request.user,
                label=form.cleaned_data["label"],
                choices=form.cleaned_data.get("choices", []),
                required=form.cleaned_data["required"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Field “{field.label}” saved.")
            return redirect("custom-fields")
    status = 400 if form.errors else 200
    return render(
        request, "contacts/custom_field_edit.html", {"field": field, "form": form}, status=status
    )


@require_POST
@require_perm(MANAGE)
def custom_field_move_view(request: HttpRequest, pk: int) -> HttpResponse:
    field = _field(request, pk)
    form = CustomFieldMoveForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Move the field up or down.", content_type="text/plain")
    custom_field_move(field=field, actor=request.user, direction=form.cleaned_data["direction"])
    return _after_list_change(request)


@require_POST
@require_perm(MANAGE)
def custom_field_retire_view(request: HttpRequest, pk: int) -> HttpResponse:
    field = _field(request, pk)
    custom_field_retire(field=field, actor=request.user)
    messages.success(request, f"Field “{field.label}” retired; its values are kept.")
    return _after_list_change(request)


@require_POST
@require_perm(MANAGE)
def custom_field_restore_view(request: HttpRequest, pk: int) -> HttpResponse:
    field = _field(request, pk)
    custom_field_restore(field=field, actor=request.user)
    messages.success(request, f"Field “{field.label}” restored, with the values it had.")
    return _after_list_change(request)


@require_http_methods(["GET", "POST"])
@require_perm(MANAGE)
def custom_field_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    field = _field(request, pk)
    form = CustomFieldDeleteForm(request.POST or None, field=field)
    if request.method == "POST" and form.is_valid():
        custom_field_delete(field=field, actor=request.user)
        messages.success(
            request,
            f"Field “{field.label}” deleted. Its values are being removed from every lead "
            "in the background.",
        )
        return redirect("custom-fields")
    status = 400 if form.errors else 200
    return render(
        request, "contacts/custom_field_delete.html", {"field": field, "form": form}, status=status
    )
