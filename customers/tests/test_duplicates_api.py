"""客户查重 through the API and the pages: the check endpoint, 409 on create/update and forcing."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from audit.models import AuditEvent
from customers.models import Customer
from customers.tests.factories import ContactFactory, CustomerFactory, make_customer
from staff.models import DataScope
from staff.tests.factories import RoleFactory, UserFactory

CHECK = reverse("api:customer-check-duplicates")
CREATE = reverse("api:customer-list")


@pytest.fixture
def theirs(org):
    """A customer of 华北组, outside east_rep's scope."""
    customer = make_customer(org.north_other, name="华为技术（上海）有限公司", mobile="13912345678")
    ContactFactory(customer=customer, name="王五", mobile="13700001111", email="wang@hw.example", is_primary=True)
    return customer


@pytest.fixture
def no_force(org):
    """East rep's twin without the permission to force a duplicate."""
    permissions = Permission.objects.exclude(codename="force_duplicate_customer")
    role = RoleFactory(name="no-force", data_scope=DataScope.SELF, permissions=list(permissions))
    return UserFactory(username="no_force", department=org.departments["east"], roles=[role])


def test_check_endpoint_finds_across_company_without_revealing(org, client_for, theirs):
    response = client_for(org.east_rep).post(CHECK, {"name": "上海华为技术有限公司"}, format="json")
    assert response.status_code == 200
    [candidate] = response.json()
    assert candidate["in_scope"] is False
    assert candidate["name"] == theirs.name
    assert candidate["owner_name"] == str(org.north_other)
    assert candidate["reasons"] == [{"field": "name", "label": "客户名称相似", "similarity": 1.0}]
    assert "id" not in candidate and "mobile" not in candidate and "primary_contact" not in candidate
    body = response.content.decode()
    assert "13912345678" not in body and "13700001111" not in body and "wang@" not in body

    # The owner sees the full card, with a link.
    [own] = client_for(org.north_other).post(CHECK, {"mobile": "13700001111"}, format="json").json()
    assert own["in_scope"] is True and own["id"] == theirs.pk
    assert own["mobile"] == "13912345678"
    assert own["primary_contact"] == {"name": "王五", "mobile": "13700001111", "email": "wang@hw.example"}
    assert own["reasons"][0]["field"] == "contact_mobile"


def test_check_endpoint_input(org, client_for, theirs):
    client = client_for(org.east_rep)
    bad = client.post(CHECK, {"mobile": "12345", "credit_code": "abc"}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"mobile", "credit_code"}
    assert client.post(CHECK, {}, format="json").status_code == 400
    # Editing the customer itself: excluded.
    assert client_for(org.north_other).post(CHECK, {"mobile": "13912345678", "exclude": theirs.pk}).json() == []
    assert client.post(CHECK, {"name": "完全不同的公司"}, format="json").json() == []


def test_create_duplicate_is_409_with_candidates(org, client_for, theirs):
    response = client_for(org.east_rep).post(CREATE, {"name": "华为技术有限公司"}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "duplicate"
    assert error["can_force"] is True
    assert [c["name"] for c in error["candidates"]] == [theirs.name]
    assert "13912345678" not in response.content.decode()
    assert Customer.objects.count() == 1


def test_force_with_the_permission_creates_and_is_audited(org, client_for, theirs):
    response = client_for(org.east_rep).post(CREATE, {"name": "华为技术有限公司", "force": True}, format="json")
    assert response.status_code == 201
    created = Customer.objects.get(pk=response.json()["id"])
    assert created.name_key == "华为技术"
    event = AuditEvent.objects.get(target_id=str(created.pk))
    assert event.data == {"duplicate_forced": [theirs.pk]}


def test_force_without_the_permission_is_still_409(no_force, client_for, theirs):
    response = client_for(no_force).post(
        CREATE, {"name": "另一家", "mobile": "13912345678", "force": True}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["can_force"] is False
    assert Customer.objects.count() == 1


def test_update_checks_only_changed_keys(org, client_for, theirs):
    mine = make_customer(org.east_rep, name="东方明珠有限公司", mobile="13800000001")
    client = client_for(org.east_rep)
    detail = reverse("api:customer-detail", args=[mine.pk])
    clash = client.patch(detail, {"version": mine.version, "mobile": "13912345678"}, format="json")
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "duplicate"
    mine.refresh_from_db()
    assert mine.mobile == "13800000001" and mine.version == 1
    forced = client.patch(detail, {"version": 1, "mobile": "13912345678", "force": True}, format="json")
    assert forced.status_code == 200
    # Already a (forced) duplicate: other edits are not blocked.
    assert client.patch(detail, {"version": 2, "remark": "备注"}, format="json").status_code == 200
    # Its own values never count against it.
    renamed = client.patch(detail, {"version": 3, "name": "东方明珠（上海）有限公司"}, format="json")
    assert renamed.status_code == 200, renamed.json()


def test_stale_version_still_wins_over_duplicate(org, client_for, theirs):
    mine = make_customer(org.east_rep, name="东方明珠有限公司")
    response = client_for(org.east_rep).patch(
        reverse("api:customer-detail", args=[mine.pk]), {"version": 7, "name": theirs.name}, format="json"
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "stale_version"


def test_deleted_and_person_customers_do_not_count(org, client_for):
    from customers import services

    gone = make_customer(org.east_rep, name="华夏幸福基业股份有限公司")
    services.customer_delete(user=org.east_rep, customer=gone)
    CustomerFactory(name="华夏幸福", kind="person", owner=org.east_rep)
    response = client_for(org.east_rep).post(CREATE, {"name": "华夏幸福基业有限公司"}, format="json")
    assert response.status_code == 201


# --- pages -----------------------------------------------------------------------------------------


def test_create_page_shows_candidates_and_force_checkbox(org, client, theirs):
    client.force_login(org.east_rep)
    response = client.post(reverse("customers:create"), {"name": "上海华为技术有限公司", "kind": "company"})
    assert response.status_code == 409
    page = response.content.decode()
    assert 'id="duplicate-candidates"' in page and theirs.name in page
    assert "不在你的数据范围内" in page and "13912345678" not in page
    assert 'name="force"' in page
    forced = client.post(reverse("customers:create"), {"name": "上海华为技术有限公司", "kind": "company", "force": "1"})
    assert forced.status_code == 302
    assert Customer.objects.count() == 2


def test_create_page_without_force_permission_has_no_checkbox(no_force, client, theirs):
    client.force_login(no_force)
    response = client.post(
        reverse("customers:create"), {"name": "上海华为技术有限公司", "kind": "company", "force": "1"}
    )
    assert response.status_code == 409
    assert 'name="force"' not in response.content.decode()
    assert Customer.objects.count() == 1


def test_edit_page_offers_merge_for_in_scope_candidates(org, client):
    first = make_customer(org.east_rep, name="东方明珠有限公司")
    second = make_customer(org.east_rep, name="远洋渔业有限公司")
    client.force_login(org.east_rep)
    response = client.post(
        reverse("customers:edit", args=[second.pk]),
        {"name": "东方明珠（上海）有限公司", "kind": "company", "version": 1},
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert f"/customers/{second.pk}/merge/?other={first.pk}" in page
