"""Login: by username or mobile, on the web and the API; Argon2; the same answer for unknown
users and wrong passwords; lockout after repeated failures; throttled token endpoint."""

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.urls import reverse

from staff.services import user_create
from staff.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def rep():
    return user_create(username="zhoujie", password="Zhou-jie-2026!", display_name="周杰", mobile="13800000009")


def test_passwords_are_hashed_with_argon2(rep):
    assert identify_hasher(rep.password).algorithm == "argon2"


def test_weak_passwords_are_refused():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        user_create(username="weak", password="12345678")


@pytest.mark.parametrize("login", ["zhoujie", "13800000009", "138 0000 0009", "+8613800000009"])
def test_api_login_by_username_or_mobile(api_client, rep, login):
    response = api_client.post(TOKEN_URL, {"username": login, "password": "Zhou-jie-2026!"}, format="json")
    assert response.status_code == 200, response.content
    access = response.json()["access"]
    me = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert me.json()["username"] == "zhoujie"


def test_refresh_gives_a_new_pair_and_the_old_refresh_is_spent(api_client, rep):
    pair = api_client.post(TOKEN_URL, {"username": "zhoujie", "password": "Zhou-jie-2026!"}, format="json").json()
    refreshed = api_client.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"access", "refresh"}
    again = api_client.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "token_not_valid"


def test_unknown_user_and_wrong_password_get_the_same_answer(api_client, rep):
    wrong = api_client.post(TOKEN_URL, {"username": "zhoujie", "password": "nope-nope"}, format="json")
    unknown = api_client.post(TOKEN_URL, {"username": "ghost", "password": "nope-nope"}, format="json")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"


def test_inactive_user_cannot_log_in(api_client):
    UserFactory(username="gone", is_active=False)
    response = api_client.post(TOKEN_URL, {"username": "gone", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 401


def test_repeated_failures_lock_the_login_even_with_the_right_password(api_client, rep, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api_client.post(TOKEN_URL, {"username": "zhoujie", "password": "wrong-pass"}, format="json")
    locked = api_client.post(TOKEN_URL, {"username": "zhoujie", "password": "Zhou-jie-2026!"}, format="json")
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "locked_out"
    # Switching to the mobile number does not buy more attempts: it is the same account.
    by_mobile = api_client.post(TOKEN_URL, {"username": "13800000009", "password": "Zhou-jie-2026!"}, format="json")
    assert by_mobile.status_code == 429


def test_unknown_users_lock_out_the_same_way(api_client, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api_client.post(TOKEN_URL, {"username": "ghost", "password": "wrong-pass"}, format="json")
    response = api_client.post(TOKEN_URL, {"username": "ghost", "password": "wrong-pass"}, format="json")
    assert response.status_code == 429


def test_token_endpoint_is_throttled(api_client, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    codes = [
        api_client.post(TOKEN_URL, {"username": f"u{i}", "password": "x"}, format="json").status_code for i in range(4)
    ]
    assert codes == [401, 401, 401, 429]


def test_web_login_by_mobile_then_logout(client, rep):
    page = client.get(reverse("workbench"))
    assert page.status_code == 302 and reverse("login") in page["Location"]

    response = client.post(reverse("login"), {"username": "13800000009", "password": "Zhou-jie-2026!"})
    assert response.status_code == 302
    assert client.get(reverse("workbench")).status_code == 200

    client.post(reverse("logout"))
    assert client.get(reverse("workbench")).status_code == 302


def test_web_login_same_message_for_unknown_and_wrong(client, rep):
    wrong = client.post(reverse("login"), {"username": "zhoujie", "password": "bad-pass"})
    unknown = client.post(reverse("login"), {"username": "ghost", "password": "bad-pass"})
    assert wrong.status_code == unknown.status_code == 200
    assert "用户名或密码错误" in wrong.content.decode()
    assert "用户名或密码错误" in unknown.content.decode()


def test_web_login_locks_out(client, rep, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "zhoujie", "password": "bad-pass"})
    response = client.post(reverse("login"), {"username": "zhoujie", "password": "Zhou-jie-2026!"})
    assert response.status_code == 429
    assert "锁定" in response.content.decode()


def _login(client, password, forwarded_for):
    payload = {"username": "zhoujie", "password": password}
    return client.post(TOKEN_URL, payload, format="json", HTTP_X_FORWARDED_FOR=forwarded_for)


def test_a_forged_forwarded_for_header_buys_no_attempts(api_client, rep, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(api_client, "wrong", f"10.0.0.{i}")
    assert _login(api_client, "Zhou-jie-2026!", "10.9.9.9").status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(api_client, rep, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(api_client, "wrong", "203.0.113.7")
    # The attacker's address is locked; the real user, from another address, still gets in.
    assert _login(api_client, "Zhou-jie-2026!", "203.0.113.7").status_code == 429
    assert _login(api_client, "Zhou-jie-2026!", "198.51.100.2").status_code == 200


def test_a_username_may_not_be_a_mobile_number():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        user_create(username="13911112222", password="A-long-pass-2026")
    assert "username" in error.value.message_dict


def test_a_password_change_revokes_earlier_tokens(api_client, rep):
    pair = api_client.post(TOKEN_URL, {"username": "zhoujie", "password": "Zhou-jie-2026!"}, format="json").json()
    rep.set_password("A-new-pass-2026!")
    rep.save(update_fields=["password"])

    me = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    refreshed = api_client.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert me.status_code == 401
    assert refreshed.status_code == 401


def test_a_deleted_users_refresh_token_is_a_401(api_client, rep):
    pair = api_client.post(TOKEN_URL, {"username": "zhoujie", "password": "Zhou-jie-2026!"}, format="json").json()
    rep.delete()
    refreshed = api_client.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert refreshed.status_code == 401


def test_web_login_shares_the_per_ip_rate(client, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    codes = [client.post(reverse("login"), {"username": f"u{i}", "password": "x"}).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
