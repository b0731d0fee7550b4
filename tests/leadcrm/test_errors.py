"""Error pages: a styled page for a browser, one plain sentence for htmx (shown as a toast)."""

from django.test import RequestFactory

from leadcrm.errors import server_error

HTMX = {"HX-Request": "true"}


def _is_one_plain_sentence(response) -> bool:
    text = response.content.decode().strip()
    return (
        response["Content-Type"].startswith("text/plain")
        and "\n" not in text
        and "<" not in text
        and text.endswith(".")
    )


def test_unknown_url_renders_the_styled_404_page(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"<html" in response.content
    assert b"Nothing here" in response.content


def test_unknown_url_for_a_member_renders_the_styled_404_page(as_member, rep):
    response = as_member(rep).get("/no/such/page/")
    assert response.status_code == 404
    assert b"<html" in response.content
    assert b"Nothing here" in response.content


def test_htmx_unknown_url_gets_a_plain_text_404(as_member, rep):
    response = as_member(rep).get("/no/such/page/", headers=HTMX)
    assert response.status_code == 404
    assert _is_one_plain_sentence(response)
    assert b"<html" not in response.content


def test_htmx_request_for_another_workspaces_member_gets_a_plain_text_404(
    as_member, admin, outsider
):
    response = as_member(admin).post(
        f"/settings/members/{outsider.pk}/remove/", headers=HTMX, data={}
    )
    assert response.status_code == 404
    assert _is_one_plain_sentence(response)


def test_refused_request_renders_the_styled_403_page_with_the_reason(as_member, viewer):
    response = as_member(viewer).get("/settings/members/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert b"<html" in response.content
    assert b"Your role does not allow this." in response.content


def test_htmx_refused_request_gets_a_plain_text_403(as_member, viewer):
    response = as_member(viewer).get("/settings/members/", headers=HTMX)
    assert response.status_code == 403
    assert _is_one_plain_sentence(response)
    assert b"<html" not in response.content


def test_htmx_refused_request_says_why(as_member, viewer):
    response = as_member(viewer).get("/settings/members/", headers=HTMX)
    assert response.content.decode() == "Your role does not allow this."


def test_server_error_renders_the_styled_500_page(db):
    request = RequestFactory().get("/")
    request.htmx = False
    response = server_error(request)
    assert response.status_code == 500
    assert b"<html" in response.content


def test_htmx_server_error_gets_a_plain_text_500(db):
    request = RequestFactory().get("/", headers=HTMX)
    request.htmx = True
    response = server_error(request)
    assert response.status_code == 500
    assert _is_one_plain_sentence(response)
