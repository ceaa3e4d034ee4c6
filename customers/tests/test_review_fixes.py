"""Attacks and edge cases found in review: what team members may not do, guessing hidden or
masked values, filters on hidden fields, inputs that once gave a 500, and history details."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers import services
from customers.models import Customer, CustomField
from customers.tests.factories import CustomFieldFactory, TagFactory, make_customer
from staff.models import FieldPermission

LIST = reverse("api:customer-list")


def detail(customer, name="api:customer-detail"):
    return reverse(name, kwargs={"pk": customer.pk})


@pytest.fixture
def owned(org):
    return make_customer(org.east_rep, name="华东客户", mobile="13812345678", email="zhang@example.com")


def _restrict(org, scope, field, access, target="customer"):
    FieldPermission.objects.create(role=org.roles[scope], target=target, field=field, access=access)


# --- team members cannot give a customer away ------------------------------------------------------


def test_a_read_write_team_member_cannot_transfer_or_delete(org, client_for, owned):
    services.customer_team_member_set(user=org.east_rep, customer=owned, member=org.north_other, access="write")
    client = client_for(org.north_other)
    transfer = client.post(
        reverse("api:customer-transfer"),
        {"customers": [owned.pk], "to_owner": org.north_other.pk, "reason": "mine now"},
        format="json",
    )
    assert transfer.status_code == 404
    assert client.delete(detail(owned)).status_code == 403
    owned.refresh_from_db()
    assert (owned.owner, owned.deleted_at) == (org.east_rep, None)


# --- no oracle for hidden or masked values ---------------------------------------------------------


def test_a_hidden_field_is_refused_whatever_value_is_sent(org, client_for, owned):
    _restrict(org, "self", "email", "hidden")
    client = client_for(org.east_rep)
    right = client.patch(detail(owned), {"version": 1, "email": "zhang@example.com"}, format="json")
    wrong = client.patch(detail(owned), {"version": 1, "email": "li@example.com"}, format="json")
    assert right.status_code == wrong.status_code == 403
    assert right.json() == wrong.json()


def test_a_read_only_masked_value_is_ignored_not_compared(org, client_for, owned):
    _restrict(org, "department", "mobile", "readonly")
    client = client_for(org.east_manager)  # sees the mobile masked
    right = client.patch(detail(owned), {"version": 1, "mobile": "13812345678"}, format="json")
    wrong = client.patch(detail(owned), {"version": 1, "mobile": "13900000000"}, format="json")
    assert right.status_code == wrong.status_code == 200
    owned.refresh_from_db()
    assert (owned.mobile, owned.version) == ("13812345678", 1)  # nothing changed, nothing written
    assert owned.history.count() == 1


def test_an_update_that_changes_nothing_writes_nothing(org, client_for, owned):
    response = client_for(org.east_rep).patch(detail(owned), {"version": 1, "name": "华东客户"}, format="json")
    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert owned.history.count() == 1


def test_owner_name_is_hidden_with_the_owner(org, client_for, owned):
    _restrict(org, "self", "owner", "hidden")
    body = client_for(org.east_rep).get(detail(owned)).json()
    assert "owner" not in body and "owner_name" not in body


def test_filters_and_views_on_hidden_fields_are_ignored(org, client_for, owned):
    Customer.objects.filter(pk=owned.pk).update(last_follow_up_at=timezone.now() - timedelta(days=3))
    _restrict(org, "self", "last_follow_up_at", "hidden")
    _restrict(org, "self", "email", "hidden")
    client = client_for(org.east_rep)

    def ids(**params):
        return [row["id"] for row in client.get(LIST, params).json()["results"]]

    far_future = (timezone.localdate() + timedelta(days=400)).isoformat()
    assert ids(last_follow_up_after=far_future) == [owned.pk]
    assert ids(view="stale30") == [owned.pk]
    # With e-mail hidden the search box looks at names only: an address confirms nothing.
    assert ids(q="zhang@example.com") == ids(q="nobody@example.com") == []
    assert ids(q="华东") == [owned.pk]


def test_custom_range_filter_names_with_min_inside(org, client_for):
    CustomFieldFactory(key="min_order", label="起订量", type="number")
    customer = make_customer(org.east_rep, name="甲", custom_fields={"min_order": 5})
    rows = client_for(org.east_rep).get(LIST, {"cf_min_order_min": 3}).json()["results"]
    assert [row["id"] for row in rows] == [customer.pk]


# --- inputs that once gave a 500 --------------------------------------------------------------------


@pytest.mark.parametrize("birthday", [123, [1], {"a": 1}, "2026-02-30"])
def test_contact_with_a_bad_birthday_is_a_400(org, client_for, owned, birthday):
    response = client_for(org.east_rep).post(
        reverse("api:contact-list"), {"customer": owned.pk, "name": "张三", "birthday": birthday}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "birthday" in response.json()["error"]["fields"]


@pytest.mark.parametrize("value", [20260101, {"a": 1}, ["2026-01-01"]])
def test_custom_date_with_a_non_date_is_a_400(org, client_for, value):
    CustomFieldFactory(key="signed", label="签约", type="date")
    response = client_for(org.east_rep).post(LIST, {"name": "甲", "custom_fields": {"signed": value}}, format="json")
    assert response.status_code == 400, response.content
    assert "signed" in response.json()["error"]["fields"]["custom_fields"]


def test_year_one_date_time_is_a_400(org, client_for, owned):
    client = client_for(org.east_rep)
    created = client.post(LIST, {"name": "甲", "next_follow_up_at": "0001-01-01T00:00:00"}, format="json")
    team = client.post(
        detail(owned, "api:customer-team-members"),
        {"user": org.north_other.pk, "expires_at": "0001-01-01T00:00:00"},
        format="json",
    )
    assert (created.status_code, team.status_code) == (400, 400)


def test_web_pages_survive_absurd_page_numbers_and_dates(org, client, owned):
    client.force_login(org.east_rep)
    assert client.get(reverse("customers:list"), {"page": "9" * 30}).status_code == 200
    assert client.get(reverse("customers:recycle_bin"), {"page": "9" * 30}).status_code == 200
    response = client.post(
        reverse("customers:team_add", args=[owned.pk]),
        {"user": org.north_other.pk, "access": "read", "expires_at": "2026-13-45T99:99"},
    )
    assert response.status_code in (200, 302)


def test_a_custom_field_type_cannot_change_once_values_exist(org, client_for):
    field = CustomFieldFactory(key="size", label="规模", type="text")
    make_customer(org.east_rep, name="甲", custom_fields={"size": "大"})
    response = client_for(org.admin).patch(
        reverse("api:custom-field-detail", args=[field.pk]), {"type": "number"}, format="json"
    )
    assert response.status_code == 400
    assert "type" in response.json()["error"]["fields"]
    assert CustomField.objects.get(pk=field.pk).type == "text"


# --- masking in pages ------------------------------------------------------------------------------


def test_read_only_masked_field_never_renders_the_stored_number(org, client, owned):
    _restrict(org, "department", "mobile", "readonly")
    client.force_login(org.east_manager)
    page = client.get(reverse("customers:edit", args=[owned.pk])).content.decode()
    failed = client.post(
        reverse("customers:edit", args=[owned.pk]), {"version": 1, "name": "", "kind": "company"}
    ).content.decode()
    assert "13812345678" not in page
    assert "13812345678" not in failed


def test_a_hidden_field_is_not_sortable_on_the_list(org, client):
    _restrict(org, "self", "owner", "hidden")
    client.force_login(org.east_rep)
    assert client.get(reverse("customers:list"), {"sort": "owner"}).status_code == 200


# --- history ---------------------------------------------------------------------------------------


def test_transfer_keeps_tags_in_the_history(org, client_for):
    tag = TagFactory(name="VIP")
    customer = make_customer(org.east_rep, name="甲", tags=[tag.pk])
    services.customer_transfer(user=org.east_lead, customers=[customer], to_owner=org.east_intern, reason="调整")
    entries = client_for(org.east_lead).get(detail(customer, "api:customer-history")).json()
    fields = [change["field"] for change in entries[0]["changes"]]
    assert "owner" in fields and "tags" not in fields


def test_history_makes_a_fixed_number_of_queries(org, client_for, owned):
    client = client_for(org.east_rep)

    def queries():
        with CaptureQueriesContext(connection) as context:
            assert client.get(detail(owned, "api:customer-history")).status_code == 200
        return len(context.captured_queries)

    tags = [TagFactory(name=f"t{i}") for i in range(3)]
    version = 1
    for index in range(2):
        services.customer_update(
            user=org.east_rep, customer=owned, version=version, data={"remark": str(index), "tags": [tags[index].pk]}
        )
        version += 1
    few = queries()
    for index in range(10):
        services.customer_update(user=org.east_rep, customer=owned, version=version, data={"remark": f"r{index}"})
        version += 1
    assert queries() == few


def test_values_of_a_deleted_custom_field_are_not_shown(org, client_for):
    field = CustomFieldFactory(key="hotline", label="热线", type="phone")
    customer = make_customer(org.east_rep, name="甲", custom_fields={"hotline": "13900001111"})
    field.delete()
    body = client_for(org.east_lead).get(detail(customer)).json()
    assert "hotline" not in body["custom_fields"]


def test_reveal_includes_custom_phone_fields_and_logs_them(org, client_for):
    from audit.models import AuditAction, AuditEvent

    CustomFieldFactory(key="hotline", label="热线", type="phone")
    customer = make_customer(org.east_rep, name="甲", custom_fields={"hotline": "13900001111"})
    masked = client_for(org.east_lead).get(detail(customer)).json()
    assert masked["custom_fields"]["hotline"] == "139****1111"
    revealed = client_for(org.east_lead).post(detail(customer, "api:customer-reveal")).json()
    assert revealed["custom_fields"] == {"hotline": "13900001111"}
    assert "cf.hotline" in AuditEvent.objects.get(action=AuditAction.REVEAL).data["fields"]
