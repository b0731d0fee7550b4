"""Background exports of large sets (PRODUCT I8): the jobs, their files, pages and downloads."""

import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from contacts import export
from leadcrm.models import AuditLog
from leadcrm.roles import MARKETER
from pipeline.exports import export_job_run, export_job_start, export_jobs_purge, export_path
from pipeline.models import ExportJob, LeadListPreference
from segments.models import SegmentKind
from tests.conftest import login
from tests.contacts.factories import LeadFactory, SegmentFactory, SegmentMembershipFactory
from tests.factories import MembershipFactory, UserFactory

LIST_EXPORT = reverse("pipeline:lead-export")
EXPORTS = reverse("pipeline:exports")
BACKGROUND_ABOVE = 2
HOT = {"match": "all", "children": [{"field": "score", "op": "gt", "value": 50}]}


@pytest.fixture(autouse=True)
def _small_background_limit(settings):
    settings.EXPORT_BACKGROUND_ABOVE = BACKGROUND_ABOVE


@pytest.fixture
def maya(marketer):
    return login(marketer)


@pytest.fixture
def other_marketer(ws):
    user = UserFactory(email="mark@acme.test", full_name="Mark Twain")
    return MembershipFactory(workspace=ws, role_name=MARKETER, user=user)


@pytest.fixture
def static(ws, marketer):
    segment = SegmentFactory(
        workspace=ws, name="Berlin VIPs", kind=SegmentKind.STATIC, created_by=marketer.user
    )
    for number in range(3):
        lead = LeadFactory(workspace=ws, email=f"vip{number}@one.lead", first_name=f"=VIP {number}")
        SegmentMembershipFactory(segment=segment, lead=lead)
    LeadFactory(workspace=ws, email="not@member.lead")
    return segment


def in_background(client, capture, url: str, params: dict):
    """GET an export; the job's task runs when the request's transaction commits."""
    with capture(execute=True):
        return client.get(url, params)


def streamed(client, settings, url: str, params: dict) -> bytes:
    """The same export streamed, as it is below the limit."""
    settings.EXPORT_BACKGROUND_ABOVE = 1_000_000
    return b"".join(client.get(url, params).streaming_content)


def xlsx_rows(data: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(data), read_only=True)["Leads"]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def the_job() -> ExportJob:
    return ExportJob.objects.get()


def job_file(job: ExportJob) -> bytes:
    return export_path(job).read_bytes()


def make_job(membership, **fields) -> ExportJob:
    values = {"fmt": "csv", "scope": "Leads list", "query": {"list": ""}, "columns": ["email"]}
    return ExportJob.objects.create(
        workspace=membership.workspace, created_by=membership.user, **(values | fields)
    )


def done_job(membership, **fields) -> ExportJob:
    job = make_job(membership, status=ExportJob.Status.DONE, **fields)
    export_path(job).parent.mkdir(parents=True, exist_ok=True)
    export_path(job).write_bytes(b"\xef\xbb\xbfEmail\r\n")
    job.file_path, job.file_size = f"{job.workspace_id}/{job.pk}.{job.fmt}", 10
    job.save()
    return job


def files_in(directory) -> list[str]:
    return sorted(path.name for path in directory.rglob("*") if path.is_file())


# Which exports become jobs -------------------------------------------------------------------


def test_a_large_list_export_becomes_a_job_and_sends_to_the_exports_page(
    ws, maya, django_capture_on_commit_callbacks
):
    LeadFactory.create_batch(3, workspace=ws)

    response = in_background(maya, django_capture_on_commit_callbacks, LIST_EXPORT, {})

    assert response.status_code == 302
    assert response["Location"] == EXPORTS
    assert the_job().status == ExportJob.Status.DONE


def test_the_exports_page_says_the_export_is_being_prepared(
    ws, maya, django_capture_on_commit_callbacks
):
    LeadFactory.create_batch(3, workspace=ws)

    with django_capture_on_commit_callbacks(execute=True):
        response = maya.get(LIST_EXPORT, follow=True)

    assert (
        "Your export of 2+ leads is being prepared; it will appear here when ready."
        in response.content.decode()
    )


def test_a_list_export_at_the_limit_still_streams(ws, maya):
    LeadFactory.create_batch(BACKGROUND_ABOVE, workspace=ws)

    response = maya.get(LIST_EXPORT)

    assert response.streaming
    assert not ExportJob.objects.exists()


def test_background_1_makes_even_a_small_export_a_job(ws, maya, django_capture_on_commit_callbacks):
    LeadFactory(workspace=ws)

    with django_capture_on_commit_callbacks(execute=True):
        response = maya.get(LIST_EXPORT, {"background": "1"}, follow=True)

    assert "Your export of 1 lead is being prepared" in response.content.decode()
    assert the_job().rows_done == 1


def test_a_large_segment_export_becomes_a_job(ws, static, maya, django_capture_on_commit_callbacks):
    url = reverse("segments:segment-export", args=[static.pk])

    response = in_background(maya, django_capture_on_commit_callbacks, url, {"format": "vcf"})

    assert response["Location"] == EXPORTS
    job = the_job()
    assert (job.query, job.fmt, job.scope) == ({"segment": static.pk}, "vcf", "Berlin VIPs")


def test_starting_an_export_is_audited(ws, marketer, maya, django_capture_on_commit_callbacks):
    LeadFactory.create_batch(3, workspace=ws)

    in_background(maya, django_capture_on_commit_callbacks, LIST_EXPORT, {"format": "xlsx"})

    entry = AuditLog.objects.get(action="export.start")
    assert (entry.actor, entry.object_id) == (marketer.user, str(the_job().pk))


def test_an_unknown_format_is_refused(ws, marketer):
    with pytest.raises(ValidationError):
        export_job_start(
            workspace=ws, actor=marketer.user, fmt="pdf", scope="x", query={"list": ""}, columns=[]
        )


# The file holds what the streamed export would ------------------------------------------------


def test_a_list_csv_file_is_the_streamed_csv(
    ws, marketer, maya, settings, django_capture_on_commit_callbacks
):
    LeadListPreference.objects.create(
        workspace=ws, user=marketer.user, columns=["email", "tags", "status"]
    )
    LeadFactory.create_batch(3, workspace=ws, status="qualified")
    LeadFactory(workspace=ws, status="new", first_name="+1")
    params = {"format": "csv", "status": "qualified"}

    in_background(maya, django_capture_on_commit_callbacks, LIST_EXPORT, params)

    assert job_file(the_job()) == streamed(maya, settings, LIST_EXPORT, params)


def test_a_list_xlsx_file_has_the_streamed_rows(
    ws, maya, settings, django_capture_on_commit_callbacks
):
    LeadFactory.create_batch(3, workspace=ws, score=7)
    LeadFactory(workspace=ws, score=1)
    params = {"format": "xlsx", "q": "score:>5"}

    in_background(maya, django_capture_on_commit_callbacks, LIST_EXPORT, params)

    rows = xlsx_rows(job_file(the_job()))
    assert len(rows) == 4
    assert rows == xlsx_rows(streamed(maya, settings, LIST_EXPORT, params))


@pytest.mark.parametrize("fmt", ["csv", "vcf"])
def test_a_segment_file_is_the_streamed_export(
    static, maya, settings, django_capture_on_commit_callbacks, fmt
):
    url = reverse("segments:segment-export", args=[static.pk])

    in_background(maya, django_capture_on_commit_callbacks, url, {"format": fmt})

    assert job_file(the_job()) == streamed(maya, settings, url, {"format": fmt})


def test_a_dynamic_segment_xlsx_file_has_the_streamed_rows(
    ws, maya, settings, django_capture_on_commit_callbacks
):
    hot = SegmentFactory(workspace=ws, name="Hot", kind=SegmentKind.DYNAMIC, rules=HOT)
    LeadFactory.create_batch(3, workspace=ws, score=80)
    LeadFactory(workspace=ws, score=5)
    url = reverse("segments:segment-export", args=[hot.pk])

    in_background(maya, django_capture_on_commit_callbacks, url, {"format": "xlsx"})

    rows = xlsx_rows(job_file(the_job()))
    assert len(rows) == 4
    assert rows == xlsx_rows(streamed(maya, settings, url, {"format": "xlsx"}))


def test_list_filters_are_read_as_the_member_who_asked(
    ws, marketer, owner, maya, django_capture_on_commit_callbacks
):
    mine = LeadFactory.create_batch(3, workspace=ws, owner=marketer.user)
    LeadFactory.create_batch(3, workspace=ws, owner=owner.user)
    LeadListPreference.objects.create(workspace=ws, user=marketer.user, columns=["email"])

    in_background(maya, django_capture_on_commit_callbacks, LIST_EXPORT, {"owner": "me"})

    emails = job_file(the_job()).decode("utf-8-sig").split("\r\n")[1:-1]
    assert sorted(emails) == sorted(lead.email for lead in mine)


def test_a_list_job_keeps_only_the_filters_the_list_applied(
    ws, maya, django_capture_on_commit_callbacks
):
    LeadFactory.create_batch(3, workspace=ws, status="new")
    params = {"format": "csv", "status": "new", "owner": "<script>", "sort": "-score"}

    in_background(maya, django_capture_on_commit_callbacks, LIST_EXPORT, params)

    job = the_job()
    assert job.query == {"list": "status=new"}
    assert (job.status, job.rows_done) == (ExportJob.Status.DONE, 3)


def test_the_finished_job_keeps_only_the_final_file(ws, marketer, settings):
    job = make_job(marketer)
    LeadFactory.create_batch(3, workspace=ws)

    export_job_run(job.pk)

    job.refresh_from_db()
    assert files_in(settings.EXPORT_DIR) == [f"{job.pk}.csv"]
    assert job.file_path == f"{ws.pk}/{job.pk}.csv"
    assert job.file_size == (settings.EXPORT_DIR / job.file_path).stat().st_size
    assert job.finished_at is not None


# Progress ------------------------------------------------------------------------------------


def test_a_done_job_counts_every_row(ws, marketer):
    LeadFactory.create_batch(5, workspace=ws)
    job = make_job(marketer)

    export_job_run(job.pk)

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.rows_total) == (ExportJob.Status.DONE, 5, 5)


def test_progress_is_saved_after_every_chunk_while_running(ws, marketer, monkeypatch):
    LeadFactory.create_batch(5, workspace=ws)
    job = make_job(marketer)
    seen = []
    rows_of = export.leads_export_rows

    def watched(*args, **kwargs):
        for row in rows_of(*args, **kwargs):
            saved = ExportJob.objects.get(pk=job.pk)
            seen.append((saved.status, saved.rows_done, saved.rows_total))
            yield row

    monkeypatch.setattr("pipeline.exports.PROGRESS_EVERY", 2)
    monkeypatch.setattr(export, "leads_export_rows", watched)

    export_job_run(job.pk)

    assert [done for _, done, _ in seen] == [0, 0, 2, 2, 4]
    assert {(status, total) for status, _, total in seen} == {(ExportJob.Status.RUNNING, 5)}


def test_a_job_already_claimed_is_not_built_twice(ws, marketer, tmp_path):
    job = make_job(marketer, status=ExportJob.Status.RUNNING)

    export_job_run(job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.RUNNING
    assert files_in(tmp_path) == []


# Failures ------------------------------------------------------------------------------------


def test_a_segment_deleted_before_the_run_fails_the_job_without_a_file(
    static, maya, tmp_path, django_capture_on_commit_callbacks
):
    url = reverse("segments:segment-export", args=[static.pk])
    with django_capture_on_commit_callbacks() as callbacks:
        maya.get(url, {"format": "csv"})
    static.delete()

    for callback in callbacks:
        callback()

    job = the_job()
    assert (job.status, job.error) == (ExportJob.Status.FAILED, "The segment no longer exists.")
    assert job.finished_at is not None
    assert files_in(tmp_path) == []


def test_a_list_filter_gone_before_the_run_fails_the_job_without_a_file(
    ws, static, maya, tmp_path, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        maya.get(LIST_EXPORT, {"segment": static.pk})
    static.delete()  # the filter set would now ignore ?segment= and export every lead

    for callback in callbacks:
        callback()

    job = the_job()
    assert job.status == ExportJob.Status.FAILED
    assert job.error.startswith("A filter of this export no longer applies")
    assert files_in(tmp_path) == []


def test_a_segment_of_another_workspace_is_never_exported(ws, other_ws, marketer, tmp_path):
    theirs = SegmentFactory(workspace=other_ws)
    SegmentMembershipFactory(segment=theirs, lead=LeadFactory(workspace=other_ws))
    job = make_job(marketer, query={"segment": theirs.pk})

    export_job_run(job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED
    assert files_in(tmp_path) == []


def test_a_column_gone_since_the_start_fails_the_job(ws, marketer, tmp_path):
    job = make_job(marketer, columns=["email", "cf.gone"])

    export_job_run(job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED
    assert job.error == "A column of this export no longer exists; start it again."


def test_a_member_who_left_gets_no_file(ws, marketer, tmp_path):
    job = make_job(marketer)
    marketer.delete()

    export_job_run(job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED
    assert "may no longer export" in job.error
    assert files_in(tmp_path) == []


def test_an_unexpected_error_fails_the_job_and_removes_the_partial_file(
    ws, marketer, tmp_path, monkeypatch
):
    LeadFactory(workspace=ws)
    job = make_job(marketer)

    def broken(columns, rows):
        yield "Email\r\n"
        raise OSError("disk full")

    monkeypatch.setattr(export, "csv_stream", broken)

    with pytest.raises(OSError):
        export_job_run(job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED
    assert job.error == "The export stopped on an unexpected error; start it again."
    assert files_in(tmp_path) == []


# Purge ---------------------------------------------------------------------------------------


def test_purge_deletes_old_exports_and_their_files(ws, marketer, settings, tmp_path):
    old = done_job(marketer, created_at=timezone.now() - timedelta(days=8))
    recent = done_job(marketer, created_at=timezone.now() - timedelta(days=6))

    assert export_jobs_purge() == 1

    assert list(ExportJob.objects.all()) == [recent]
    assert not export_path(old).exists()
    assert export_path(recent).exists()


def test_purge_removes_a_partial_file_of_a_dead_run(ws, marketer, tmp_path):
    job = make_job(marketer, status=ExportJob.Status.RUNNING)
    job.created_at = timezone.now() - timedelta(days=30)
    job.save()
    partial = export_path(job).with_name(export_path(job).name + ".part")
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half")

    export_jobs_purge()

    assert files_in(tmp_path) == []


def test_the_purge_command_runs_the_purge(ws, marketer, capsys):
    done_job(marketer, created_at=timezone.now() - timedelta(days=8))

    call_command("purge_exports", "--now")

    assert "Purged 1 exports." in capsys.readouterr().out
    assert not ExportJob.objects.exists()


# The exports page ----------------------------------------------------------------------------


def test_the_page_lists_the_members_exports_newest_first(ws, marketer, maya):
    done_job(marketer, scope="Leads list", created_at=timezone.now() - timedelta(hours=1))
    segment = SegmentFactory(workspace=ws, name="Berlin VIPs")
    done_job(marketer, scope="Berlin VIPs", query={"segment": segment.pk}, fmt="xlsx")

    content = maya.get(EXPORTS).content.decode()

    assert content.index("Segment “Berlin VIPs”") < content.index("Leads list")
    assert "Excel" in content
    assert content.count("Download</a>") == 2


def test_a_marketer_does_not_see_another_members_exports(ws, other_marketer, maya):
    job = done_job(other_marketer)

    content = maya.get(EXPORTS).content.decode()

    assert f'data-export="{job.pk}"' not in content


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_owners_and_admins_see_everyones_exports(ws, other_marketer, request, persona):
    job = done_job(other_marketer)

    content = login(request.getfixturevalue(persona)).get(EXPORTS).content.decode()

    assert f'data-export="{job.pk}"' in content
    assert "Mark Twain" in content


def test_the_page_polls_while_an_export_is_running(ws, marketer, maya):
    make_job(marketer, status=ExportJob.Status.RUNNING, rows_done=2000, rows_total=5000)

    content = maya.get(EXPORTS).content.decode()

    assert 'hx-trigger="every 2s"' in content
    assert '<progress class="w-100" value="2000" max="5000"' in content
    assert "2,000 of 5,000" in content


def test_the_page_polls_while_an_export_is_queued(ws, marketer, maya):
    make_job(marketer)

    assert 'hx-trigger="every 2s"' in maya.get(EXPORTS).content.decode()


def test_the_page_stops_polling_once_every_export_is_finished(ws, marketer, maya):
    done_job(marketer)
    make_job(marketer, status=ExportJob.Status.FAILED, error="The segment no longer exists.")

    content = maya.get(EXPORTS).content.decode()

    assert "every 2s" not in content
    assert "The segment no longer exists." in content


def test_a_poll_gets_the_rows_only(ws, marketer, maya):
    make_job(marketer, status=ExportJob.Status.RUNNING)

    content = maya.get(EXPORTS, headers={"HX-Request": "true"}).content.decode()

    assert "<html" not in content
    assert 'id="export-rows"' in content


def test_the_page_runs_a_bounded_number_of_queries(
    ws, marketer, maya, django_assert_max_num_queries
):
    for _ in range(10):
        done_job(marketer)

    with django_assert_max_num_queries(7):  # incl. the one that looks for stale exports
        maya.get(EXPORTS)


@pytest.mark.parametrize("persona", ["rep", "viewer"])
def test_roles_without_export_leads_cannot_see_the_page(ws, request, persona):
    assert login(request.getfixturevalue(persona)).get(EXPORTS).status_code == 403


def test_the_page_rejects_post(maya):
    assert maya.post(EXPORTS).status_code == 405


def test_the_leads_list_links_to_the_exports_page(maya):
    content = maya.get(reverse("pipeline:lead-list")).content.decode()

    assert f'href="{EXPORTS}">Background exports…' in content


# Downloads -----------------------------------------------------------------------------------


def download(client, job: ExportJob):
    return client.get(reverse("pipeline:export-download", args=[job.pk]))


@pytest.mark.parametrize("persona", ["owner", "admin", "marketer"])
def test_members_who_may_export_download_their_file(ws, request, persona):
    job = done_job(request.getfixturevalue(persona))

    response = download(login(request.getfixturevalue(persona)), job)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\xef\xbb\xbfEmail\r\n"


def test_a_download_is_a_private_dated_attachment(ws, marketer, maya):
    job = done_job(marketer, created_at=timezone.now())

    response = download(maya, job)

    today = timezone.localdate().isoformat()
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="leads-{today}.csv"'
    assert response["Cache-Control"] == "private, no-store"


def test_a_segment_download_is_named_after_the_segment(ws, marketer, maya):
    job = done_job(marketer, scope="Berlin VIPs", query={"segment": 1}, fmt="xlsx")

    response = download(maya, job)

    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="Berlin-VIPs-{today}.xlsx"; '
        f"filename*=UTF-8''Berlin%20VIPs-{today}.xlsx"
    )


@pytest.mark.parametrize("persona", ["rep", "viewer"])
def test_roles_without_export_leads_cannot_download(ws, request, persona):
    membership = request.getfixturevalue(persona)
    job = done_job(membership)

    assert download(login(membership), job).status_code == 403


def test_another_workspaces_export_is_a_404(ws, outsider, maya):
    job = done_job(outsider)

    assert download(maya, job).status_code == 404


def test_another_marketers_export_is_a_404_for_a_marketer(ws, other_marketer, maya):
    job = done_job(other_marketer)

    assert download(maya, job).status_code == 404


def test_an_admin_may_download_another_members_export(ws, other_marketer, admin):
    job = done_job(other_marketer)

    assert download(login(admin), job).status_code == 200


def test_an_unfinished_export_has_nothing_to_download(ws, marketer, maya):
    job = make_job(marketer, status=ExportJob.Status.RUNNING)

    assert download(maya, job).status_code == 404


def test_a_purged_file_is_a_404(ws, marketer, maya):
    job = done_job(marketer)
    export_path(job).unlink()

    assert download(maya, job).status_code == 404


def test_download_rejects_post(ws, marketer, maya):
    job = done_job(marketer)

    assert maya.post(reverse("pipeline:export-download", args=[job.pk])).status_code == 405


# A worker that died ------------------------------------------------------------------------------


def test_an_export_whose_worker_died_is_queued_again_and_finishes(
    ws, marketer, static, maya, django_capture_on_commit_callbacks
):
    job = export_job_start(
        workspace=ws,
        actor=marketer.user,
        fmt="csv",
        scope=static.name,
        query={"segment": static.pk},
        columns=["email"],
    )  # its task waits for a commit that never comes: as if the worker took it and died
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING,
        rows_done=2,
        heartbeat_at=timezone.now() - timedelta(minutes=30),
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert maya.get(EXPORTS).status_code == 200

    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE and job.rows_done == 3
    assert job_file(job).decode().count("@one.lead") == 3


def test_a_running_export_with_a_recent_heartbeat_is_left_alone(ws, marketer, static, maya):
    job = export_job_start(
        workspace=ws,
        actor=marketer.user,
        fmt="csv",
        scope=static.name,
        query={"segment": static.pk},
        columns=["email"],
    )
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING, heartbeat_at=timezone.now()
    )
    maya.get(EXPORTS)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.RUNNING
