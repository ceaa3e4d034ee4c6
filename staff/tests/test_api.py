import pytest

pytestmark = pytest.mark.django_db


def test_me_shows_department_roles_scope_and_permissions(org, client_for):
    data = client_for(org.north_rep).get("/api/v1/me/").json()
    assert data["username"] == "north_rep"
    assert data["department"]["name"] == "华北组"
    assert {role["data_scope"] for role in data["roles"]} == {"self", "department"}
    assert data["data_scope"] == "department"  # the widest of the union
    assert data["data_scopes"] == ["department", "self"]
    assert "scopeapp.view_note" in data["permissions"]


def test_me_requires_authentication(api_client):
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_department_tree_is_nested(org, client_for):
    tree = client_for(org.east_rep).get("/api/v1/staff/departments/").json()
    assert [node["name"] for node in tree] == ["总公司"]
    s1 = next(node for node in tree[0]["children"] if node["name"] == "销售一部")
    assert {child["name"] for child in s1["children"]} == {"华东组", "华南组"}


def test_staff_directory_masks_colleagues_contact_fields(org, client_for):
    org.north_other.mobile = "13900000001"
    org.north_other.save(update_fields=["mobile"])
    from django.contrib.auth.models import Permission

    # A role without staff.view_user sees names only.
    org.east_rep.roles.first().permissions.remove(Permission.objects.get(codename="view_user"))
    rows = client_for(org.east_rep).get("/api/v1/staff/users/", {"page_size": 200}).json()["results"]
    other = next(row for row in rows if row["username"] == "north_other")
    me = next(row for row in rows if row["username"] == "east_rep")
    assert other["mobile"] is None and other["email"] is None
    assert me["email"] == "east_rep@example.com"

    manager_rows = client_for(org.ceo).get("/api/v1/staff/users/", {"page_size": 200}).json()["results"]
    assert next(row for row in manager_rows if row["username"] == "north_other")["mobile"] == "13900000001"


def test_staff_directory_query_count_does_not_grow_with_rows(org, client_for, django_assert_max_num_queries):
    client = client_for(org.ceo)
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/staff/users/", {"page_size": 200})
    assert len(response.json()["results"]) == len(org.users)


def test_cursor_pagination_walks_every_row_once(org, client_for):
    client = client_for(org.ceo)
    seen, url, params = [], "/api/v1/staff/users/", {"page_size": 5}
    while url:
        page = client.get(url, params).json()
        seen += [row["id"] for row in page["results"]]
        url, params = page["next"], None
    assert sorted(seen) == sorted(user.pk for user in org.users.values())
    assert len(seen) == len(set(seen))


def test_updated_since_returns_only_rows_changed_since(org, client_for):
    from django.utils import timezone

    cutoff = timezone.now()
    org.s2_rep.display_name = "改名"
    org.s2_rep.save(update_fields=["display_name", "updated_at"])
    rows = client_for(org.ceo).get("/api/v1/staff/users/", {"updated_since": cutoff.isoformat()}).json()["results"]
    assert [row["username"] for row in rows] == ["s2_rep"]


def test_updated_since_takes_any_offset_and_refuses_times_off_the_calendar(org, client_for):
    """PostgreSQL takes offsets up to ±15:59 only; Python parses up to ±23:59 (found by schemathesis)."""
    from datetime import UTC, datetime, timedelta, timezone

    cutoff = datetime.now(UTC)
    org.s2_rep.display_name = "改名"
    org.s2_rep.save(update_fields=["display_name", "updated_at"])
    far_east = cutoff.astimezone(timezone(timedelta(hours=21, minutes=52))).isoformat()
    rows = client_for(org.ceo).get("/api/v1/staff/users/", {"updated_since": far_east}).json()["results"]
    assert [row["username"] for row in rows] == ["s2_rep"]
    response = client_for(org.ceo).get("/api/v1/staff/users/", {"updated_since": "0001-01-01T01:00:00+21:52"})
    assert response.status_code == 400
    assert "updated_since" in response.json()["error"]["fields"]


def test_bad_filter_input_is_a_400_in_the_error_shape(org, client_for):
    response = client_for(org.ceo).get("/api/v1/staff/users/", {"updated_since": "yesterday"})
    assert response.status_code == 400
    assert "updated_since" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh-hans", "用户名或密码错误。"), ("en", "Incorrect username or password.")],
)
def test_error_messages_follow_the_request_language(api_client, language, expected):
    response = api_client.post(
        "/api/v1/auth/token/", {"username": "x", "password": "y"}, format="json", HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.json()["error"]["message"] == expected


def test_validation_errors_list_fields_in_the_request_language(api_client):
    zh = api_client.post("/api/v1/auth/token/", {}, format="json").json()["error"]
    en = api_client.post("/api/v1/auth/token/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en").json()["error"]
    assert zh["code"] == en["code"] == "invalid"
    assert zh["fields"]["username"] == ["该字段是必填项。"]
    assert en["fields"]["username"] == ["This field is required."]


def test_unknown_api_path_is_json_404(api_client):
    response = api_client.get("/api/v1/does-not-exist/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_openapi_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    for marker in ("cdn.", "unpkg.com", "jsdelivr"):
        assert marker not in docs


def test_a_crafted_cursor_is_a_404_not_a_500(org, client_for):
    import base64

    cursor = base64.b64encode(b"p=not-a-number").decode()
    response = client_for(org.ceo).get("/api/v1/staff/users/", {"ordering": "id", "cursor": cursor})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_directory_search_does_not_match_masked_mobiles(org, client_for):
    org.north_other.mobile = "13900000001"
    org.north_other.save(update_fields=["mobile"])
    rows = client_for(org.east_rep).get("/api/v1/staff/users/", {"search": "1390000"}).json()["results"]
    assert rows == []
