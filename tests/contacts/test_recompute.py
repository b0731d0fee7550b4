"""Recomputing every lead's scores in the background (PRODUCT A3/A4): contacts.recompute,
its task and `manage.py recompute_scores`."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from contacts import recompute
from contacts.activities import activity_record
from contacts.models import ActivityType, Lead, ScoreRecompute, ScoringRule, Tier
from contacts.quality import lead_quality_apply, quality_of, weights_for
from contacts.recompute import (
    STALE_AFTER,
    _claim,
    score_recompute_latest,
    score_recompute_request,
    score_recompute_resume_stale,
    score_recompute_run,
)
from tests.contacts.factories import LeadFactory

Status = ScoreRecompute.Status


def _lead(workspace, **fields) -> Lead:
    """A lead whose stored scores are up to date (the factory leaves quality_score at 0)."""
    lead = LeadFactory(workspace=workspace, **fields)
    lead_quality_apply(lead)
    lead.save(update_fields=["quality_score"])
    return lead


def _stored(lead) -> Lead:
    return Lead.objects.get(pk=lead.pk)


def _replied(lead, times: int = 1) -> None:
    for minutes_ago in range(times, 0, -1):
        activity_record(
            lead=lead,
            type=ActivityType.EMAIL_REPLIED,
            occurred_at=timezone.now() - timedelta(minutes=minutes_ago),
        )


def _replies_worth(ws, points: int) -> None:
    """A rule change made behind the leads' back, as Settings → Scoring saves it."""
    ScoringRule.objects.filter(workspace=ws, activity_type=ActivityType.EMAIL_REPLIED).update(
        points=points
    )


def _running(ws, *, heartbeat_minutes_ago: float, **fields) -> ScoreRecompute:
    return ScoreRecompute.objects.create(
        workspace=ws,
        status=Status.RUNNING,
        started_at=timezone.now() - timedelta(minutes=30),
        heartbeat_at=timezone.now() - timedelta(minutes=heartbeat_minutes_ago),
        **fields,
    )


# Request and run ---------------------------------------------------------------------------


def test_a_requested_recompute_applies_changed_rules_to_every_lead(
    ws, owner, django_capture_on_commit_callbacks
):
    once, twice, never = (_lead(ws, source="Referral") for _ in range(3))
    _replied(once)
    _replied(twice, times=2)
    _replies_worth(ws, 30)

    with django_capture_on_commit_callbacks(execute=True):
        job = score_recompute_request(workspace=ws, actor=owner.user, reason="Rules changed")

    job.refresh_from_db()
    assert (job.status, job.requested_by, job.reason) == (Status.DONE, owner.user, "Rules changed")
    assert (job.leads_total, job.leads_done, job.changed, job.percent) == (3, 3, 2, 100)
    assert job.finished_at is not None
    scores = [(_stored(lead).score, _stored(lead).tier) for lead in (once, twice, never)]
    assert scores == [(30, Tier.WARM), (60, Tier.HOT), (0, Tier.COLD)]


def test_a_recompute_brings_every_quality_score_up_to_date(ws):
    leads = [_lead(ws, source=source) for source in ("Referral", "", "Podcast")]
    for lead in leads:
        _replied(lead, times=2)
    _replies_worth(ws, 50)
    Lead.objects.filter(pk=leads[2].pk).update(quality_score=0)  # stale for its own reasons

    score_recompute_run(score_recompute_request(workspace=ws, actor=None, enqueue=False).pk)

    weights = weights_for(ws)
    stored = [_stored(lead) for lead in leads]
    assert [lead.score for lead in stored] == [100, 100, 100]
    assert [lead.quality_score for lead in stored] == [quality_of(lead, weights) for lead in stored]
    # email, name, domain: 25; engagement 20; then the source: 20, 0, 10 (other: 50%)
    assert [lead.quality_score for lead in stored] == [65, 45, 55]


def test_a_recompute_leaves_other_workspaces_leads_alone(ws, other_ws):
    mine, theirs = [], []
    for _ in range(3):  # interleaved ids: every range of ours spans some of theirs
        mine.append(_lead(ws))
        theirs.append(_lead(other_ws))
        _replied(mine[-1])
        _replied(theirs[-1])
    _replies_worth(ws, 40)
    _replies_worth(other_ws, 40)

    job = score_recompute_run(score_recompute_request(workspace=ws, actor=None, enqueue=False).pk)

    assert (job.leads_total, job.leads_done) == (3, 3)
    assert [_stored(lead).score for lead in mine] == [40, 40, 40]
    assert [_stored(lead).score for lead in theirs] == [10, 10, 10]


def test_a_recompute_with_nothing_to_change_changes_nothing(ws):
    lead = _lead(ws)
    _replied(lead)

    job = score_recompute_run(score_recompute_request(workspace=ws, actor=None, enqueue=False).pk)

    assert (job.status, job.leads_done, job.changed) == (Status.DONE, 1, 0)
    assert _stored(lead).score == 10


def test_a_recompute_of_a_workspace_without_leads_is_done_at_100_percent(ws):
    job = score_recompute_run(score_recompute_request(workspace=ws, actor=None, enqueue=False).pk)

    assert (job.status, job.leads_total, job.leads_done, job.percent) == (Status.DONE, 0, 0, 100)


def test_progress_is_saved_after_each_range(ws, other_ws, monkeypatch):
    monkeypatch.setattr(recompute, "CHUNK", 3)
    leads = []
    for _ in range(7):
        leads.append(_lead(ws))
        _lead(other_ws)
    ids = [lead.pk for lead in leads]
    job = score_recompute_request(workspace=ws, actor=None, enqueue=False)
    seen = []
    real_rescore = recompute.leads_rescore

    def rescore(*, workspace, id_range):
        saved = ScoreRecompute.objects.get(pk=job.pk)  # what the page would show now
        seen.append((id_range, saved.leads_done, saved.last_lead_id, saved.percent))
        return real_rescore(workspace=workspace, id_range=id_range)

    monkeypatch.setattr(recompute, "leads_rescore", rescore)

    job = score_recompute_run(job.pk)

    assert seen == [
        ((1, ids[2]), 0, 0, 0),
        ((ids[2] + 1, ids[5]), 3, ids[2], 43),
        ((ids[5] + 1, ids[6]), 6, ids[5], 86),
    ]
    job.refresh_from_db()
    assert (job.status, job.leads_total, job.leads_done, job.last_lead_id, job.percent) == (
        Status.DONE,
        7,
        7,
        ids[6],
        100,
    )


def test_a_second_request_while_one_waits_returns_the_same_job(ws, owner):
    first = score_recompute_request(workspace=ws, actor=owner.user, enqueue=False)

    second = score_recompute_request(workspace=ws, actor=None, enqueue=False)

    assert second.pk == first.pk
    assert ScoreRecompute.objects.filter(workspace=ws).count() == 1


def test_a_request_while_one_runs_queues_another(ws):
    running = _running(ws, heartbeat_minutes_ago=0)

    job = score_recompute_request(workspace=ws, actor=None, enqueue=False)

    assert job.pk != running.pk
    assert job.status == Status.QUEUED


def test_a_request_in_another_workspace_is_its_own_job(ws, other_ws):
    ours = score_recompute_request(workspace=ws, actor=None, enqueue=False)

    theirs = score_recompute_request(workspace=other_ws, actor=None, enqueue=False)

    assert theirs.pk != ours.pk
    assert theirs.workspace == other_ws


def test_a_request_queues_the_task_once_committed(ws, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        job = score_recompute_request(workspace=ws, actor=None)

    assert len(callbacks) == 1
    assert ScoreRecompute.objects.get(pk=job.pk).status == Status.QUEUED


def test_the_latest_recompute_is_the_newest(ws, other_ws):
    older = ScoreRecompute.objects.create(
        workspace=ws, status=Status.DONE, created_at=timezone.now() - timedelta(hours=1)
    )
    newer = ScoreRecompute.objects.create(workspace=ws, status=Status.FAILED)
    ScoreRecompute.objects.create(workspace=other_ws)

    assert score_recompute_latest(ws) == newer
    assert older != newer


def test_a_workspace_without_recomputes_has_no_latest(ws):
    assert score_recompute_latest(ws) is None


# Workers ----------------------------------------------------------------------------------


def test_a_run_whose_worker_stopped_beating_is_queued_again_and_resumes(
    ws, django_capture_on_commit_callbacks
):
    done_before, left = _lead(ws), _lead(ws)
    _replied(done_before)
    _replied(left)
    _replies_worth(ws, 25)
    job = _running(
        ws, heartbeat_minutes_ago=10, leads_total=2, leads_done=1, last_lead_id=done_before.pk
    )

    with django_capture_on_commit_callbacks() as callbacks:
        assert score_recompute_resume_stale(ws) == 1

    assert ScoreRecompute.objects.get(pk=job.pk).status == Status.QUEUED
    for callback in callbacks:  # the immediate task backend runs it
        callback()
    job.refresh_from_db()
    assert (job.status, job.leads_done, job.last_lead_id) == (Status.DONE, 2, left.pk)
    # The range done before the worker died is not redone.
    assert (_stored(done_before).score, _stored(left).score) == (10, 25)


def test_a_run_that_never_beat_is_queued_again(ws, django_capture_on_commit_callbacks):
    job = ScoreRecompute.objects.create(workspace=ws, status=Status.RUNNING, heartbeat_at=None)

    with django_capture_on_commit_callbacks():
        assert score_recompute_resume_stale(ws) == 1

    assert ScoreRecompute.objects.get(pk=job.pk).status == Status.QUEUED


def test_a_run_with_a_fresh_heartbeat_is_left_running(ws, django_capture_on_commit_callbacks):
    job = _running(ws, heartbeat_minutes_ago=0.5)

    with django_capture_on_commit_callbacks() as callbacks:
        assert score_recompute_resume_stale(ws) == 0

    assert callbacks == []
    assert ScoreRecompute.objects.get(pk=job.pk).status == Status.RUNNING


def test_resuming_leaves_other_workspaces_runs_alone(ws, other_ws):
    theirs = _running(other_ws, heartbeat_minutes_ago=10)

    assert score_recompute_resume_stale(ws) == 0

    assert ScoreRecompute.objects.get(pk=theirs.pk).status == Status.RUNNING


def test_a_job_another_worker_runs_cannot_be_claimed(ws):
    job = _running(ws, heartbeat_minutes_ago=0.5)

    assert _claim(job.pk) is None
    assert score_recompute_run(job.pk) is None

    job.refresh_from_db()
    assert (job.status, job.leads_done, job.finished_at) == (Status.RUNNING, 0, None)


def test_a_job_whose_worker_died_can_be_claimed(ws):
    job = _running(ws, heartbeat_minutes_ago=10, leads_total=5)

    claimed = _claim(job.pk)

    assert claimed.pk == job.pk
    assert claimed.status == Status.RUNNING
    assert claimed.heartbeat_at > timezone.now() - timedelta(seconds=30)
    assert claimed.leads_total == 5  # kept from the first run


@pytest.mark.parametrize("status", [Status.DONE, Status.FAILED])
def test_a_finished_job_is_not_run_again(ws, status):
    job = ScoreRecompute.objects.create(workspace=ws, status=status)

    assert score_recompute_run(job.pk) is None
    assert ScoreRecompute.objects.get(pk=job.pk).status == status


def test_a_failing_run_is_marked_failed_with_the_error(ws, monkeypatch):
    lead = _lead(ws)
    _replied(lead)
    _replies_worth(ws, 30)
    job = score_recompute_request(workspace=ws, actor=None, enqueue=False)

    def broken(**kwargs):
        raise RuntimeError("could not serialize access")

    monkeypatch.setattr(recompute, "leads_rescore", broken)

    with pytest.raises(RuntimeError):
        score_recompute_run(job.pk)

    job.refresh_from_db()
    assert (job.status, job.error) == (Status.FAILED, "could not serialize access")
    assert job.finished_at is not None
    assert _stored(lead).score == 10


# manage.py recompute_scores ---------------------------------------------------------------


def _command(*args) -> str:
    out = StringIO()
    call_command("recompute_scores", *args, stdout=out)
    return out.getvalue()


def test_the_command_recomputes_one_workspace_and_prints_the_summary(ws, other_ws):
    mine = [_lead(ws) for _ in range(3)]
    theirs = _lead(other_ws)
    for lead in [*mine[:2], theirs]:
        _replied(lead)
    _replies_worth(ws, 20)
    _replies_worth(other_ws, 20)

    output = _command("--workspace", "acme")

    assert output == "acme: 3 leads recomputed; the scores of 2 changed.\n"
    assert [_stored(lead).score for lead in mine] == [20, 20, 0]
    assert _stored(theirs).score == 10
    job = ScoreRecompute.objects.get(workspace=ws)
    assert (job.status, job.reason, job.requested_by) == (
        Status.DONE,
        "manage.py recompute_scores",
        None,
    )
    assert not ScoreRecompute.objects.filter(workspace=other_ws).exists()


def test_the_command_recomputes_every_workspace_by_default(ws, other_ws):
    mine, theirs = _lead(ws), _lead(other_ws)
    _replied(mine)
    _replied(theirs)
    _replies_worth(ws, 20)
    _replies_worth(other_ws, 35)

    output = _command()

    assert output == (
        "acme: 1 leads recomputed; the scores of 1 changed.\n"
        "globex: 1 leads recomputed; the scores of 1 changed.\n"
    )
    assert (_stored(mine).score, _stored(theirs).score) == (20, 35)


def test_the_command_takes_several_workspaces(ws, other_ws):
    output = _command("--workspace", "globex", "--workspace", "acme")

    assert output.splitlines() == [
        "acme: 0 leads recomputed; the scores of 0 changed.",
        "globex: 0 leads recomputed; the scores of 0 changed.",
    ]


def test_the_command_refuses_an_unknown_slug_and_recomputes_nothing(ws):
    lead = _lead(ws)
    _replied(lead)
    _replies_worth(ws, 20)

    with pytest.raises(CommandError, match="No workspace with slug nope."):
        _command("--workspace", "acme", "--workspace", "nope")

    assert _stored(lead).score == 10
    assert not ScoreRecompute.objects.exists()


def test_the_command_runs_a_recompute_already_waiting(ws):
    waiting = score_recompute_request(
        workspace=ws, actor=None, reason="From the page", enqueue=False
    )

    _command("--workspace", "acme")

    waiting.refresh_from_db()
    assert waiting.status == Status.DONE
    assert ScoreRecompute.objects.filter(workspace=ws).count() == 1


def test_a_run_queued_long_ago_without_a_task_is_handed_to_the_worker(
    ws, django_capture_on_commit_callbacks
):
    """Like the runs migration 0009 queues for workspaces whose leads predate the scores."""
    lead = LeadFactory(workspace=ws, first_name="Ada", last_name="Lovelace")
    Lead.objects.filter(pk=lead.pk).update(quality_score=0)
    long_ago = timezone.now() - STALE_AFTER - timedelta(minutes=1)
    waiting = ScoreRecompute.objects.create(workspace=ws, created_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        score_recompute_resume_stale(ws)

    assert len(callbacks) == 1
    assert ScoreRecompute.objects.get(pk=waiting.pk).status == Status.DONE
    stored = Lead.objects.get(pk=lead.pk)
    assert stored.quality_score == quality_of(stored, weights_for(ws)) > 0


def test_a_run_queued_a_moment_ago_is_left_to_its_task(ws, django_capture_on_commit_callbacks):
    ScoreRecompute.objects.create(workspace=ws)

    with django_capture_on_commit_callbacks() as callbacks:
        score_recompute_resume_stale(ws)

    assert callbacks == []
