"""Every login attempt is audited, on the web and the API: result, IP, device and the name tried —
never the password; a locked-out attempt is a failure flagged locked_out."""

import json

import pytest
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from staff.services import user_create

pytestmark = pytest.mark.django_db
TOKEN_URL = "/api/v1/auth/token/"
PASSWORD = "Zhou-jie-2026!"
UA = "Mozilla/5.0 (Linux; Android 14) CRM-Test"


@pytest.fixture
def rep(db):
    return user_create(username="zhoujie", password=PASSWORD, display_name="周杰", mobile="13800000009")


def web_login(client, login, password):
    return client.post(reverse("login"), {"username": login, "password": password}, HTTP_USER_AGENT=UA)


def api_login(api_client, login, password):
    return api_client.post(TOKEN_URL, {"username": login, "password": password}, format="json", HTTP_USER_AGENT=UA)


def only_event():
    events = list(AuditEvent.objects.all())
    assert len(events) == 1, events
    return events[0]


@pytest.mark.parametrize(("door", "channel"), [(web_login, "web"), (api_login, "api")])
def test_successful_login_is_recorded(client, api_client, rep, door, channel):
    response = door(client if door is web_login else api_client, "138 0000 0009", PASSWORD)
    assert response.status_code in (200, 302)

    event = only_event()
    assert (event.action, event.actor, event.actor_repr) == (AuditAction.LOGIN, rep, "周杰 (zhoujie)")
    assert (event.target_type, event.target_id) == ("staff.user", str(rep.pk))
    assert event.data == {"login": "138 0000 0009", "channel": channel}
    assert (event.ip, event.user_agent) == ("127.0.0.1", UA)


@pytest.mark.parametrize(("door", "channel"), [(web_login, "web"), (api_login, "api")])
def test_failed_login_is_recorded_without_the_password(client, api_client, rep, door, channel):
    door(client if door is web_login else api_client, "zhoujie", "Secret-wrong-1")

    event = only_event()
    assert (event.action, event.actor, event.actor_repr) == (AuditAction.LOGIN_FAILED, None, "")
    assert (event.target_type, event.target_id, event.target_repr) == ("staff.user", str(rep.pk), "周杰")
    assert event.data == {"login": "zhoujie", "channel": channel, "locked_out": False}
    assert (event.ip, event.user_agent) == ("127.0.0.1", UA)
    stored = json.dumps([event.data, event.target_repr, event.actor_repr, event.user_agent])
    assert "Secret-wrong-1" not in stored and "*****" not in stored


@pytest.mark.parametrize("door", [web_login, api_login])
def test_failed_login_of_an_unknown_name_has_no_target(client, api_client, door):
    door(client if door is web_login else api_client, "ghost", "Secret-wrong-1")

    event = only_event()
    assert (event.action, event.target_type, event.target_id) == (AuditAction.LOGIN_FAILED, "", "")
    assert event.data["login"] == "ghost"


@pytest.mark.parametrize("door", [web_login, api_login])
def test_locked_out_attempts_are_failures_flagged_locked_out(client, api_client, rep, settings, door):
    http = client if door is web_login else api_client
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        door(http, "zhoujie", "wrong-pass")

    door(http, "zhoujie", "wrong-pass")  # the failure that locks
    locked = door(http, "zhoujie", PASSWORD)  # the right password, refused while locked

    assert locked.status_code == 429
    events = list(AuditEvent.objects.order_by("at", "id"))
    assert len(events) == settings.AXES_FAILURE_LIMIT + 1
    assert {event.action for event in events} == {AuditAction.LOGIN_FAILED}
    assert [event.data["locked_out"] for event in events] == [False] * (settings.AXES_FAILURE_LIMIT - 1) + [True, True]


def test_throttled_api_attempts_never_reach_authentication(api_client, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "1/min"})
    api_login(api_client, "ghost", "x")
    assert api_login(api_client, "ghost", "x").status_code == 429
    assert AuditEvent.objects.count() == 1


def test_admin_login_is_recorded_too(client, org):
    org.admin.set_password(PASSWORD)
    org.admin.save(update_fields=["password"])
    response = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
    assert response.status_code == 302
    assert only_event().data == {"login": "admin", "channel": "web"}
