"""Settings → Scoring (PRODUCT A3/A4): rules, source weights, recompute, and who may use them."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from contacts.activities import activity_record
from contacts.models import ActivityType, Lead, ScoreRecompute, ScoringRule, ScoringSettings
from contacts.quality import DEFAULT_SOURCE_WEIGHTS, scoring_settings_for
from contacts.recompute import score_recompute_request, score_recompute_run
from contacts.scoring_settings import (
    rule_label,
    scoring_rule_save,
    source_weights_save,
)
from leadcrm.models import AuditLog
from tests.contacts.factories import LeadFactory, ScoringRuleFactory

PAGE = reverse("scoring")
CREATE = reverse("scoring-rule-create")
WEIGHTS = reverse("scoring-source-weights")
RECOMPUTE = reverse("scoring-recompute")
CARD = reverse("scoring-recompute-card")
HTMX = {"headers": {"HX-Request": "true"}}
NOTICE = "Scores were computed with the old rules."
DEFAULT_LABELS = [
    "Email Opened: +1",
    "Email Clicked: +5",
    "Email Replied: +10",
    "Page Visited, URL contains /pricing: +20",
    "Email Bounced: -50",
    "Unsubscribed: reset to 0",
]


def url(name: str, rule: ScoringRule) -> str:
    return reverse(name, args=[rule.pk])


def rule_of(ws, activity_type: str, url_contains: str = "") -> ScoringRule:
    return ScoringRule.objects.get(
        workspace=ws, activity_type=activity_type, url_contains=url_contains
    )


def labels(ws) -> list[str]:
    return [rule_label(rule) for rule in ScoringRule.objects.filter(workspace=ws)]


def weights_data(rows, other=50, none=0, initial=0, delete=()) -> dict:
    """The POST of the source weights form: rows of (source, weight); `delete` ticks Remove."""
    data = {
        "source-TOTAL_FORMS": str(len(rows)),
        "source-INITIAL_FORMS": str(initial),
        "source-MIN_NUM_FORMS": "0",
        "source-MAX_NUM_FORMS": "1000",
        "other_source_weight": str(other),
        "no_source_weight": str(none),
    }
    for i, (source, weight) in enumerate(rows):
        data[f"source-{i}-source"] = source
        data[f"source-{i}-weight"] = "" if weight is None else str(weight)
        if i in delete:
            data[f"source-{i}-DELETE"] = "on"
    return data


def default_weight_rows() -> list[tuple[str, int]]:
    return [(row["source"], row["weight"]) for row in DEFAULT_SOURCE_WEIGHTS]


@pytest.fixture
def maya(marketer, as_member):
    """The marketer, who tunes scoring."""
    return as_member(marketer)


@pytest.fixture
def replied(ws):
    return rule_of(ws, ActivityType.EMAIL_REPLIED)


@pytest.fixture
def theirs(other_ws):
    return ScoringRuleFactory(workspace=other_ws, activity_type=ActivityType.CALL, points=3)


# (method, url name, data) of every endpoint that takes a rule
RULE_ENDPOINTS = [
    ("get", "scoring-rule-edit", {}),
    ("post", "scoring-rule-edit", {"edit-activity_type": "email_replied", "edit-points": "7"}),
    ("post", "scoring-rule-disable", {}),
    ("post", "scoring-rule-enable", {}),
    ("post", "scoring-rule-delete", {}),
]
# (method, path, data) of every endpoint without one
PAGE_ENDPOINTS = [
    ("get", PAGE, {}),
    ("get", CARD, {}),
    ("post", CREATE, {"activity_type": "call", "points": "3"}),
    ("post", WEIGHTS, weights_data([("Webinar", 10)])),
    ("post", RECOMPUTE, {}),
]


# Who may use it ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin", "marketer"])
def test_owner_admin_and_marketer_see_the_scoring_page(persona, team, as_member, request):
    response = as_member(request.getfixturevalue(persona)).get(PAGE)

    assert response.status_code == 200
    assert "Email Replied: +10" in response.content.decode()


@pytest.mark.parametrize("persona", ["rep", "viewer"])
@pytest.mark.parametrize("method, path, data", PAGE_ENDPOINTS)
def test_rep_and_viewer_get_403_on_the_page_and_its_forms(
    persona, method, path, data, team, as_member, request
):
    client = as_member(request.getfixturevalue(persona))
    before = labels(request.getfixturevalue("ws"))

    response = getattr(client, method)(path, data)

    assert response.status_code == 403
    assert labels(request.getfixturevalue("ws")) == before
    assert not ScoringSettings.objects.exists()
    assert not ScoreRecompute.objects.exists()


@pytest.mark.parametrize("persona", ["rep", "viewer"])
@pytest.mark.parametrize("method, name, data", RULE_ENDPOINTS)
def test_rep_and_viewer_get_403_on_every_rule_endpoint(
    persona, method, name, data, team, ws, replied, as_member, request
):
    client = as_member(request.getfixturevalue(persona))

    response = getattr(client, method)(url(name, replied), data)

    assert response.status_code == 403
    assert ScoringRule.objects.get(pk=replied.pk).points == 10
    assert not AuditLog.objects.filter(action__startswith="scoring").exists()


@pytest.mark.parametrize("method, name, data", RULE_ENDPOINTS)
def test_a_rule_of_another_workspace_is_a_404(method, name, data, maya, theirs):
    response = getattr(maya, method)(url(name, theirs), data)

    assert response.status_code == 404
    assert ScoringRule.objects.filter(pk=theirs.pk, points=3, is_active=True).exists()


def test_outsider_cannot_reach_acme_rules(outsider, replied, as_member):
    response = as_member(outsider).post(url("scoring-rule-delete", replied))

    assert response.status_code == 404
    assert ScoringRule.objects.filter(pk=replied.pk).exists()


def test_anonymous_visitor_is_sent_to_log_in(client, ws):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    "path", [CREATE, WEIGHTS, RECOMPUTE, reverse("scoring-rule-disable", args=[1])]
)
def test_actions_reject_get(path, maya):
    assert maya.get(path).status_code == 405


def test_page_rejects_post(maya):
    assert maya.post(PAGE).status_code == 405


def test_home_page_links_to_scoring_for_a_marketer(maya):
    assert f'href="{PAGE}"' in maya.get(reverse("home")).content.decode()


def test_home_page_hides_scoring_from_a_rep(rep, as_member):
    response = as_member(rep).get(reverse("home"))

    assert response.status_code == 200
    assert f'href="{PAGE}"' not in response.content.decode()


# The page ---------------------------------------------------------------------------------


def test_page_lists_the_default_rules_as_a_person_reads_them(maya):
    content = maya.get(PAGE).content.decode()

    for label in DEFAULT_LABELS:
        assert label in content


def test_page_shows_the_default_source_weights_and_explains_the_quality_score(maya):
    content = maya.get(PAGE).content.decode()

    assert 'value="Referral"' in content
    assert 'value="Trade show"' in content
    assert "Contact completeness" in content
    assert "Source reliability" in content
    assert "Any other source" in content
    assert "No source" in content


def test_page_shows_no_notice_before_any_change(maya):
    assert NOTICE not in maya.get(PAGE).content.decode()


def test_page_runs_a_constant_number_of_queries(maya, ws, django_assert_max_num_queries):
    for n in range(20):
        ScoringRuleFactory(
            workspace=ws, activity_type=ActivityType.PAGE_VISITED, url_contains=f"/p{n}"
        )

    with django_assert_max_num_queries(12):
        assert maya.get(PAGE).status_code == 200


def test_htmx_get_of_the_page_answers_the_rule_list_only(maya):
    response = maya.get(PAGE, **HTMX)

    content = response.content.decode()
    assert "<html" not in content
    assert 'id="rule-list"' in content
    assert "Email Replied: +10" in content


# Adding rules -----------------------------------------------------------------------------


def test_marketer_adds_a_rule(maya, ws):
    response = maya.post(
        CREATE, {"activity_type": "page_visited", "url_contains": " /demo ", "points": "15"}
    )

    assert response.status_code == 302
    assert response["Location"] == PAGE
    rule = rule_of(ws, ActivityType.PAGE_VISITED, "/demo")
    assert (rule.points, rule.resets, rule.is_active) == (15, False, True)
    assert "Page Visited, URL contains /demo: +15" in maya.get(PAGE).content.decode()


def test_adding_a_rule_is_audited(maya, ws, marketer):
    maya.post(CREATE, {"activity_type": "call", "points": "-5"})

    entry = AuditLog.objects.get(workspace=ws, action="scoring_rule.create")
    assert entry.actor == marketer.user
    assert entry.object_repr == "Call: -5"
    assert entry.changes["points"] == [None, -5]


def test_marketer_adds_a_reset_rule(maya, ws):
    maya.post(CREATE, {"activity_type": "deal_lost", "points": "", "resets": "on"})

    rule = rule_of(ws, ActivityType.DEAL_LOST)
    assert (rule.points, rule.resets) == (0, True)
    assert "Deal Lost: reset to 0" in maya.get(PAGE).content.decode()


def test_htmx_add_answers_the_refreshed_list_and_announces_the_change(maya, ws):
    response = maya.post(CREATE, {"activity_type": "meeting", "points": "8"}, **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert "Meeting: +8" in content
    assert "scoring-changed" in response["HX-Trigger"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"activity_type": "call", "points": "0"}, "Give points from −100 to 100 other than 0"),
        ({"activity_type": "call", "points": ""}, "Give points from −100 to 100 other than 0"),
        (
            {"activity_type": "deal_lost", "points": "5", "resets": "on"},
            "A reset rule sets the score to 0 and gives no points",
        ),
        ({"activity_type": "call", "points": "101"}, "Points go from −100 to 100."),
        ({"activity_type": "call", "points": "ten"}, "Enter a whole number"),
        (
            {"activity_type": "email_replied", "points": "3"},
            "A rule for Email Replied without a condition exists already",
        ),
        (
            {"activity_type": "page_visited", "url_contains": "/PRICING", "points": "3"},
            "A rule for Page Visited with URL contains “/PRICING” exists already",
        ),
        (
            {"activity_type": "email_replied", "url_contains": "/x", "points": "3"},
            "Email Replied activities have no URL",
        ),
        (
            {"activity_type": "page_visited", "url_contains": "/" + "x" * 200, "points": "3"},
            "Use at most 200 characters.",
        ),
        ({"activity_type": "nope", "points": "3"}, "Select a valid choice"),
    ],
)
def test_invalid_rules_are_refused_with_a_message_and_change_nothing(maya, ws, data, message):
    before = labels(ws)

    response = maya.post(CREATE, data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert labels(ws) == before
    assert not AuditLog.objects.filter(action__startswith="scoring").exists()


def test_a_duplicate_of_a_disabled_rule_says_to_enable_it(maya, ws, replied):
    replied.is_active = False
    replied.save()

    response = maya.post(CREATE, {"activity_type": "email_replied", "points": "3"})

    assert response.status_code == 400
    assert "A disabled rule for Email Replied" in response.content.decode()
    assert ScoringRule.objects.filter(workspace=ws, activity_type="email_replied").count() == 1


def test_htmx_invalid_add_answers_the_list_with_the_errors(maya, ws):
    response = maya.post(CREATE, {"activity_type": "call", "points": "0"}, **HTMX)

    content = response.content.decode()
    assert response.status_code == 400
    assert "<html" not in content
    assert 'id="rule-list"' in content
    assert "other than 0" in content


# Editing rules ----------------------------------------------------------------------------


def test_edit_page_shows_the_rule(maya, replied):
    response = maya.get(url("scoring-rule-edit", replied))

    content = response.content.decode()
    assert response.status_code == 200
    assert "Edit “Email Replied: +10”" in content
    assert 'name="edit-points"' in content
    assert 'value="10"' in content


def test_htmx_edit_turns_the_row_into_a_form(maya, replied):
    response = maya.get(url("scoring-rule-edit", replied), **HTMX)

    content = response.content.decode()
    assert "<html" not in content
    assert 'id="rule-list"' in content
    assert f'hx-post="{url("scoring-rule-edit", replied)}"' in content


def test_marketer_changes_a_rules_points(maya, ws, replied, marketer):
    response = maya.post(
        url("scoring-rule-edit", replied),
        {"edit-activity_type": "email_replied", "edit-points": "15"},
    )

    assert response.status_code == 302
    replied.refresh_from_db()
    assert replied.points == 15
    content = maya.get(PAGE).content.decode()
    assert "Email Replied: +15" in content
    assert "Email Replied: +10" not in content
    entry = AuditLog.objects.get(workspace=ws, action="scoring_rule.update")
    assert entry.changes == {"points": [10, 15]}
    assert entry.actor == marketer.user


def test_marketer_turns_a_rule_into_a_reset(maya, replied):
    maya.post(
        url("scoring-rule-edit", replied),
        {"edit-activity_type": "email_replied", "edit-points": "", "edit-resets": "on"},
    )

    replied.refresh_from_db()
    assert (replied.points, replied.resets) == (0, True)


def test_htmx_edit_answers_the_refreshed_list(maya, replied):
    response = maya.post(
        url("scoring-rule-edit", replied),
        {"edit-activity_type": "email_replied", "edit-points": "12"},
        **HTMX,
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert "Email Replied: +12" in content
    assert "scoring-changed" in response["HX-Trigger"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"edit-activity_type": "email_replied", "edit-points": "0"}, "other than 0"),
        (
            {"edit-activity_type": "email_opened", "edit-points": "10"},
            "A rule for Email Opened without a condition exists already",
        ),
        (
            {"edit-activity_type": "email_replied", "edit-points": "4", "edit-resets": "on"},
            "A reset rule sets the score to 0",
        ),
    ],
)
def test_invalid_edits_change_nothing(maya, replied, data, message):
    response = maya.post(url("scoring-rule-edit", replied), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    replied.refresh_from_db()
    assert (replied.activity_type, replied.points, replied.resets) == ("email_replied", 10, False)


def test_saving_a_rule_unchanged_records_nothing(maya, replied):
    maya.post(
        url("scoring-rule-edit", replied),
        {"edit-activity_type": "email_replied", "edit-points": "10"},
    )

    assert not AuditLog.objects.filter(action__startswith="scoring").exists()
    assert NOTICE not in maya.get(PAGE).content.decode()


# Disabling, enabling, deleting ------------------------------------------------------------


def test_marketer_disables_a_rule(maya, ws, replied):
    response = maya.post(url("scoring-rule-disable", replied))

    assert response.status_code == 302
    replied.refresh_from_db()
    assert not replied.is_active
    content = maya.get(PAGE).content.decode()
    assert "Disabled" in content
    assert url("scoring-rule-enable", replied) in content
    assert AuditLog.objects.filter(workspace=ws, action="scoring_rule.disable").exists()


def test_marketer_enables_a_disabled_rule(maya, ws, replied):
    replied.is_active = False
    replied.save()

    maya.post(url("scoring-rule-enable", replied))

    replied.refresh_from_db()
    assert replied.is_active
    assert url("scoring-rule-disable", replied) in maya.get(PAGE).content.decode()
    assert AuditLog.objects.filter(workspace=ws, action="scoring_rule.enable").exists()


def test_htmx_disable_answers_the_refreshed_list(maya, replied):
    response = maya.post(url("scoring-rule-disable", replied), **HTMX)

    content = response.content.decode()
    assert "<html" not in content
    assert url("scoring-rule-enable", replied) in content
    assert "scoring-changed" in response["HX-Trigger"]


def test_marketer_deletes_a_rule(maya, ws, replied):
    response = maya.post(url("scoring-rule-delete", replied))

    assert response.status_code == 302
    assert not ScoringRule.objects.filter(pk=replied.pk).exists()
    assert f'data-rule="{replied.pk}"' not in maya.get(PAGE).content.decode()
    entry = AuditLog.objects.get(workspace=ws, action="scoring_rule.delete")
    assert entry.object_repr == "Email Replied: +10"


def test_htmx_delete_answers_the_refreshed_list(maya, replied):
    response = maya.post(url("scoring-rule-delete", replied), **HTMX)

    content = response.content.decode()
    assert "<html" not in content
    assert 'id="rule-list"' in content
    assert f'data-rule="{replied.pk}"' not in content


# Recompute --------------------------------------------------------------------------------


def test_notice_appears_after_a_rule_change(maya, replied):
    maya.post(url("scoring-rule-disable", replied))

    content = maya.get(PAGE).content.decode()
    assert NOTICE in content
    assert RECOMPUTE in content


def test_recompute_applies_changed_rules_to_every_lead(
    maya, ws, replied, marketer, django_capture_on_commit_callbacks
):
    lead = LeadFactory(workspace=ws)
    activity_record(lead=lead, type=ActivityType.EMAIL_REPLIED)
    assert Lead.objects.get(pk=lead.pk).score == 10
    maya.post(
        url("scoring-rule-edit", replied),
        {"edit-activity_type": "email_replied", "edit-points": "15"},
    )
    assert Lead.objects.get(pk=lead.pk).score == 10

    with django_capture_on_commit_callbacks(execute=True):
        response = maya.post(RECOMPUTE)

    assert response.status_code == 302
    job = ScoreRecompute.objects.get(workspace=ws)
    assert job.status == ScoreRecompute.Status.DONE
    assert job.requested_by == marketer.user
    assert job.leads_done == 1
    assert Lead.objects.get(pk=lead.pk).score == 15


def test_notice_disappears_once_the_recompute_is_done(
    maya, replied, marketer, django_capture_on_commit_callbacks
):
    maya.post(url("scoring-rule-disable", replied))

    with django_capture_on_commit_callbacks(execute=True):
        maya.post(RECOMPUTE)

    content = maya.get(PAGE).content.decode()
    assert NOTICE not in content
    assert "Last recompute finished" in content
    assert f"asked for by <bdi>{escape(marketer.user.display_name)}</bdi>" in content


def test_notice_returns_after_another_change(maya, ws, replied, django_capture_on_commit_callbacks):
    maya.post(url("scoring-rule-disable", replied))
    with django_capture_on_commit_callbacks(execute=True):
        maya.post(RECOMPUTE)

    maya.post(url("scoring-rule-enable", replied))

    assert NOTICE in maya.get(PAGE).content.decode()


def test_htmx_recompute_answers_the_progress_card(maya, ws, replied):
    maya.post(url("scoring-rule-disable", replied))

    response = maya.post(RECOMPUTE, **HTMX)  # the task waits for the commit: still queued

    content = response.content.decode()
    assert "<html" not in content
    assert 'id="recompute-card"' in content
    assert "Waiting for a worker" in content
    assert "every 2s" in content
    assert NOTICE not in content
    assert ScoreRecompute.objects.filter(workspace=ws, status="queued").count() == 1


def test_progress_card_shows_a_running_recompute_and_keeps_polling(maya, ws):
    ScoreRecompute.objects.create(
        workspace=ws,
        status=ScoreRecompute.Status.RUNNING,
        heartbeat_at=timezone.now(),
        leads_total=200,
        leads_done=50,
    )

    response = maya.get(CARD)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert "Recomputing scores" in content
    assert "<strong>50</strong> of 200 leads" in content
    assert "25%" in content
    assert 'hx-trigger="every 2s, scoring-changed from:body"' in content


def test_progress_card_stops_polling_when_the_recompute_is_done(maya, ws, owner):
    ScoreRecompute.objects.create(
        workspace=ws,
        requested_by=owner.user,
        status=ScoreRecompute.Status.DONE,
        finished_at=timezone.now(),
        leads_total=3,
        leads_done=3,
        changed=2,
    )

    content = maya.get(CARD).content.decode()

    assert "every 2s" not in content
    assert "Last recompute finished" in content
    assert "the scores of 2 of 3 leads changed" in content


def test_page_shows_the_progress_card_while_a_recompute_waits(maya, ws):
    score_recompute_request(workspace=ws, actor=None, enqueue=False)

    content = maya.get(PAGE).content.decode()

    assert "Waiting for a worker" in content
    assert "every 2s" in content


def test_a_change_during_a_running_recompute_offers_another(maya, ws, replied):
    ScoreRecompute.objects.create(
        workspace=ws,
        status=ScoreRecompute.Status.RUNNING,
        heartbeat_at=timezone.now(),
        created_at=timezone.now() - timedelta(seconds=30),
    )

    maya.post(url("scoring-rule-disable", replied))

    content = maya.get(CARD).content.decode()
    assert "Recomputing scores" in content
    assert NOTICE in content


def test_opening_the_page_resumes_a_recompute_whose_worker_died(
    maya, ws, django_capture_on_commit_callbacks
):
    LeadFactory(workspace=ws)
    job = ScoreRecompute.objects.create(
        workspace=ws,
        status=ScoreRecompute.Status.RUNNING,
        heartbeat_at=timezone.now() - timedelta(minutes=10),
    )

    with django_capture_on_commit_callbacks(execute=True):
        maya.get(PAGE)

    job.refresh_from_db()
    assert job.status == ScoreRecompute.Status.DONE
    assert job.leads_done == 1


def test_a_failed_recompute_offers_to_try_again(maya, ws):
    ScoreRecompute.objects.create(
        workspace=ws, status=ScoreRecompute.Status.FAILED, finished_at=timezone.now()
    )

    content = maya.get(PAGE).content.decode()

    assert "stopped with an error" in content
    assert "Recompute again" in content


# Source weights ---------------------------------------------------------------------------


def test_marketer_saves_source_weights(maya, ws, marketer):
    response = maya.post(
        WEIGHTS, weights_data([("Webinar", 90), ("Trade show", 10), ("", None)], other=40, none=5)
    )

    assert response.status_code == 302
    saved = ScoringSettings.objects.get(workspace=ws)
    assert saved.source_weights == [
        {"source": "Webinar", "weight": 90},
        {"source": "Trade show", "weight": 10},
    ]
    assert (saved.other_source_weight, saved.no_source_weight) == (40, 5)
    content = maya.get(PAGE).content.decode()
    assert 'value="Webinar"' in content
    assert 'value="Referral"' not in content
    entry = AuditLog.objects.get(workspace=ws, action="scoring.source_weights")
    assert entry.actor == marketer.user
    assert entry.changes["other_source_weight"] == [50, 40]


def test_remove_drops_a_source(maya, ws):
    rows = default_weight_rows()

    maya.post(WEIGHTS, weights_data(rows, initial=len(rows), delete={0}))

    sources = [row["source"] for row in scoring_settings_for(ws).source_weights]
    assert sources == [source for source, _ in rows[1:]]


def test_saving_the_weights_unchanged_records_nothing(maya, ws):
    rows = default_weight_rows()

    maya.post(WEIGHTS, weights_data(rows, initial=len(rows)))

    assert not AuditLog.objects.filter(action__startswith="scoring").exists()
    assert NOTICE not in maya.get(PAGE).content.decode()


def test_a_weights_change_shows_the_notice(maya):
    maya.post(WEIGHTS, weights_data([("Webinar", 5)]))

    assert NOTICE in maya.get(PAGE).content.decode()


@pytest.mark.parametrize(
    "data, message",
    [
        (weights_data([("Webinar", 90), ("webinar", 10)]), "“webinar” is listed twice"),
        (weights_data([("Webinar", 101)]), "Use a weight from 0 to 100."),
        (weights_data([("Webinar", -1)]), "Use a weight from 0 to 100."),
        (weights_data([("Webinar", 10)], other=120), "Use a weight from 0 to 100."),
        (weights_data([("Webinar", 10)], none=-3), "Use a weight from 0 to 100."),
        (weights_data([("Webinar", None)]), "Give “Webinar” a weight from 0 to 100."),
        (weights_data([("", 40)]), "Name the source weighted 40, or clear its row."),
        (weights_data([("W" * 101, 40)]), "Use at most 100 characters."),
        ({"other_source_weight": "1", "no_source_weight": "1"}, "ManagementForm data"),
    ],
)
def test_invalid_weights_are_refused_with_a_message_and_change_nothing(maya, data, message):
    response = maya.post(WEIGHTS, data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ScoringSettings.objects.exists()
    assert not AuditLog.objects.filter(action__startswith="scoring").exists()


def test_htmx_weights_answer_the_form_only(maya):
    saved = maya.post(WEIGHTS, weights_data([("Webinar", 5)]), **HTMX)
    refused = maya.post(WEIGHTS, weights_data([("Webinar", 500)]), **HTMX)

    assert "<html" not in saved.content.decode()
    assert 'id="source-weights"' in saved.content.decode()
    assert "scoring-changed" in saved["HX-Trigger"]
    assert refused.status_code == 400
    assert "Use a weight from 0 to 100." in refused.content.decode()


def test_new_weights_change_quality_scores_after_a_recompute(
    maya, ws, django_capture_on_commit_callbacks
):
    lead = LeadFactory(workspace=ws, source="webinar")
    job = score_recompute_request(workspace=ws, actor=None, enqueue=False)
    score_recompute_run(job.pk)
    before = Lead.objects.get(pk=lead.pk).quality_score

    maya.post(WEIGHTS, weights_data([("Webinar", 0)]))
    with django_capture_on_commit_callbacks(execute=True):
        maya.post(RECOMPUTE)

    # Webinar was 80% reliable (16 of the 20 source points), now 0%.
    assert Lead.objects.get(pk=lead.pk).quality_score == before - 16


# The services -----------------------------------------------------------------------------


def test_rule_save_refuses_a_rule_of_another_workspace(ws, theirs):
    with pytest.raises(ValueError):
        scoring_rule_save(workspace=ws, actor=None, rule=theirs, activity_type="call", points=2)


def test_rule_save_refuses_a_long_url_condition(ws):
    with pytest.raises(ValidationError) as caught:
        scoring_rule_save(
            workspace=ws, actor=None, activity_type="page_visited", url_contains="x" * 201, points=2
        )

    assert caught.value.message_dict["url_contains"] == [
        "Use at most 200 characters (this has 201)."
    ]


def test_weights_save_refuses_a_weight_out_of_range(ws):
    with pytest.raises(ValidationError) as caught:
        source_weights_save(
            workspace=ws,
            actor=None,
            source_weights=[{"source": "Webinar", "weight": 101}],
            other_source_weight=50,
            no_source_weight=0,
        )

    assert caught.value.message_dict["source_weights"] == ["Give “Webinar” a weight from 0 to 100."]
    assert not ScoringSettings.objects.exists()
