"""The customers API as the mini-program uses it: validation, custom fields, masking, field
permissions, team members, optimistic locking, history, recycle bin, transfer, search."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from customers import services
from customers.models import Contact, Customer, CustomerLevel, CustomerTeamMember
from customers.tests.factories import (
    ContactFactory,
    CustomerFactory,
    CustomFieldFactory,
    TagFactory,
    make_customer,
)
from staff.models import FieldPermission
from staff.teams import TeamAccess

LIST = reverse("api:customer-list")
VALID_USCC = "91350100M000100Y43"


def detail(customer, name="api:customer-detail", **kwargs):
    return reverse(name, kwargs={"pk": customer.pk, **kwargs})


def error_fields(response):
    return response.json()["error"]["fields"]


# --- defaults and validation ----------------------------------------------------------------------


@pytest.mark.django_db
def test_default_levels_come_from_the_data_migration():
    rows = list(CustomerLevel.objects.values_list("code", "name", "color", "priority"))
    assert rows == [("A", "重点客户", "#ff0000", 1), ("B", "普通客户", "#00ff00", 2), ("C", "潜力客户", "#0000ff", 3)]


def test_create_normalises_numbers_and_codes(org, client_for):
    payload = {
        "name": "上海华为技术有限公司",
        "mobile": "+86 138-0013-8000",
        "phone": "(021) 6888 1234",
        "email": "Zhang@Example.COM",
        "credit_code": VALID_USCC.lower(),
        "province": "440000",
        "city": "440300",
        "district": "440305",
    }
    response = client_for(org.east_rep).post(LIST, payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mobile"] == "13800138000"
    assert body["phone"] == "021-68881234"
    assert body["email"] == "Zhang@example.com"
    assert body["credit_code"] == VALID_USCC
    assert body["owner"] == org.east_rep.pk
    assert body["department"] == org.east_rep.department_id
    assert body["version"] == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mobile", "1380013800"),
        ("mobile", "23800138000"),
        ("phone", "12345"),
        ("email", "not-an-email"),
        ("credit_code", "91350100M000100Y44"),  # wrong check digit
        ("credit_code", "9135010"),
        ("website", "ftp//x"),
        ("province", "990000"),
    ],
)
def test_bad_values_are_refused_with_a_field_message_and_nothing_written(org, client_for, field, value):
    response = client_for(org.east_rep).post(LIST, {"name": "某公司", field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in error_fields(response)
    assert all(message for message in error_fields(response)[field])
    assert not Customer.objects.exists()


def test_district_must_belong_to_its_city(org, client_for):
    response = client_for(org.east_rep).post(
        LIST, {"name": "某公司", "province": "440000", "city": "440300", "district": "110101"}, format="json"
    )
    assert response.status_code == 400
    assert "district" in error_fields(response)


def test_messages_follow_the_request_language(org, client_for):
    client = client_for(org.east_rep)
    zh = client.post(LIST, {"name": "某公司", "mobile": "123"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    en = client.post(LIST, {"name": "某公司", "mobile": "123"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert "手机" in error_fields(zh)["mobile"][0]
    assert "mobile" in error_fields(en)["mobile"][0].lower()


def test_name_is_required(org, client_for):
    response = client_for(org.east_rep).post(LIST, {"mobile": "13800138000"}, format="json")
    assert response.status_code == 400
    assert "name" in error_fields(response)


# --- custom fields --------------------------------------------------------------------------------


@pytest.fixture
def custom_fields(db):
    return {
        "budget": CustomFieldFactory(key="budget", label="预算", type="number", required=True),
        "grade": CustomFieldFactory(key="grade", label="评级", type="choice", choices=["甲", "乙"]),
        "areas": CustomFieldFactory(key="areas", label="区域", type="multi_choice", choices=["华东", "华南"]),
        "code": CustomFieldFactory(key="code", label="编码", type="text", regex=r"[A-Z]{2}\d{3}"),
        "since": CustomFieldFactory(key="since", label="合作开始", type="date"),
        "vip": CustomFieldFactory(key="vip", label="VIP", type="boolean"),
        "hotline": CustomFieldFactory(key="hotline", label="热线", type="phone"),
        "billing": CustomFieldFactory(key="billing", label="账单邮箱", type="email"),
    }


def test_custom_fields_are_validated_and_normalised_like_built_in_ones(org, client_for, custom_fields):
    payload = {
        "name": "某公司",
        "custom_fields": {
            "budget": "12000.50",
            "grade": "甲",
            "areas": ["华东", "华南"],
            "code": "AB123",
            "since": "2026-01-02",
            "vip": True,
            "hotline": "+86 139 0013 9000",
            "billing": "Bill@Example.com",
        },
    }
    response = client_for(org.east_rep).post(LIST, payload, format="json")
    assert response.status_code == 201, response.content
    stored = Customer.objects.get().custom_fields
    assert stored == {
        "budget": 12000.5,
        "grade": "甲",
        "areas": ["华东", "华南"],
        "code": "AB123",
        "since": "2026-01-02",
        "vip": True,
        "hotline": "13900139000",
        "billing": "Bill@example.com",
    }


@pytest.mark.parametrize(
    ("values", "bad"),
    [
        ({}, "budget"),  # required
        ({"budget": "abc"}, "budget"),
        ({"budget": 1, "grade": "丙"}, "grade"),
        ({"budget": 1, "areas": ["华北"]}, "areas"),
        ({"budget": 1, "code": "ab123"}, "code"),
        ({"budget": 1, "since": "2026-13-01"}, "since"),
        ({"budget": 1, "hotline": "12345"}, "hotline"),
        ({"budget": 1, "billing": "nope"}, "billing"),
        ({"budget": 1, "unknown": "x"}, "unknown"),
    ],
)
def test_bad_custom_values_are_refused(org, client_for, custom_fields, values, bad):
    response = client_for(org.east_rep).post(LIST, {"name": "某公司", "custom_fields": values}, format="json")
    assert response.status_code == 400, response.content
    assert bad in error_fields(response)["custom_fields"]
    assert not Customer.objects.exists()


def test_partial_update_keeps_other_custom_values(org, client_for, custom_fields):
    client = client_for(org.east_rep)
    created = client.post(LIST, {"name": "某公司", "custom_fields": {"budget": 5, "grade": "乙"}}, format="json")
    customer = Customer.objects.get(pk=created.json()["id"])
    response = client.patch(detail(customer), {"version": 1, "custom_fields": {"grade": "甲"}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["custom_fields"] == {"budget": 5, "grade": "甲"}


def test_custom_field_definitions_are_checked(org, client_for):
    client = client_for(org.admin)
    url = reverse("api:custom-field-list")
    no_choices = client.post(url, {"target": "customer", "key": "k", "label": "K", "type": "choice"}, format="json")
    bad_regex = client.post(url, {"target": "customer", "key": "k", "label": "K", "regex": "("}, format="json")
    clash = client.post(url, {"target": "customer", "key": "name", "label": "K"}, format="json")
    ok = client.post(url, {"target": "customer", "key": "k", "label": "K", "type": "text"}, format="json")
    assert (no_choices.status_code, bad_regex.status_code, clash.status_code, ok.status_code) == (400, 400, 400, 201)
    assert "choices" in error_fields(no_choices)
    assert "regex" in error_fields(bad_regex)
    assert "key" in error_fields(clash)


def test_config_lists_are_readable_by_everyone_but_written_only_with_permission(org, client_for):
    from staff.tests.factories import RoleFactory, UserFactory

    reader = UserFactory(username="reader", department=org.departments["east"], roles=[RoleFactory(name="bare")])
    client = client_for(reader)
    assert client.get(reverse("api:customer-level-list")).status_code == 200
    assert client.post(reverse("api:tag-list"), {"name": "x"}, format="json").status_code == 403
    assert client_for(org.admin).post(reverse("api:tag-list"), {"name": "x"}, format="json").status_code == 201


# --- masking and reveal ---------------------------------------------------------------------------


@pytest.fixture
def owned(org):
    customer = make_customer(org.east_rep, name="华东客户", mobile="13812345678", email="zhang@example.com")
    ContactFactory(customer=customer, name="张三", mobile="13987654321", email="san@example.com")
    return customer


def test_owner_sees_full_contact_details_others_see_them_masked(org, client_for, owned):
    mine = client_for(org.east_rep).get(detail(owned)).json()
    boss = client_for(org.east_lead).get(detail(owned)).json()
    assert (mine["mobile"], mine["email"], mine["contact_masked"]) == ("13812345678", "zhang@example.com", False)
    assert (boss["mobile"], boss["email"], boss["contact_masked"]) == ("138****5678", "zh***@example.com", True)
    listed = client_for(org.east_lead).get(LIST).json()["results"][0]
    assert listed["mobile"] == "138****5678"
    contacts = client_for(org.east_lead).get(reverse("api:contact-list")).json()["results"]
    assert (contacts[0]["mobile"], contacts[0]["email"]) == ("139****4321", "sa***@example.com")


def test_reveal_returns_full_values_and_is_audited(org, client_for, owned):
    response = client_for(org.east_lead).post(detail(owned, "api:customer-reveal"))
    assert response.status_code == 200, response.content
    assert response.json()["mobile"] == "13812345678"
    assert response.json()["contacts"][0]["mobile"] == "13987654321"
    event = AuditEvent.objects.get(action=AuditAction.REVEAL)
    assert (event.actor, event.target_id) == (org.east_lead, str(owned.pk))


def test_reveal_needs_the_permission(org, client_for, owned):
    from django.contrib.auth.models import Permission

    from staff.tests.factories import RoleFactory, UserFactory

    role = RoleFactory(
        name="no-reveal",
        data_scope="department",
        permissions=list(Permission.objects.exclude(codename="view_full_contact")),
    )
    viewer = UserFactory(username="viewer", department=org.departments["east"], roles=[role])
    assert client_for(viewer).get(detail(owned)).json()["mobile"] == "138****5678"
    response = client_for(viewer).post(detail(owned, "api:customer-reveal"))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()


def test_without_reveal_requirement_permission_holders_see_full_values(org, client_for, owned, settings):
    settings.CONTACT_REVEAL_REQUIRED = False
    assert client_for(org.east_lead).get(detail(owned)).json()["mobile"] == "13812345678"


def test_history_values_are_masked_too(org, client_for, owned):
    services.customer_update(user=org.east_rep, customer=owned, version=1, data={"mobile": "13800001111"})
    entries = client_for(org.east_lead).get(detail(owned, "api:customer-history")).json()
    change = next(c for e in entries for c in e["changes"] if c["field"] == "mobile")
    assert (change["old"], change["new"]) == ("138****5678", "138****1111")


# --- field permissions ----------------------------------------------------------------------------


def _restrict(org, scope, field, access, target="customer"):
    FieldPermission.objects.create(role=org.roles[scope], target=target, field=field, access=access)


def test_hidden_fields_are_absent_from_output_and_cannot_be_written(org, client_for, owned, custom_fields):
    _restrict(org, "self", "mobile", "hidden")
    _restrict(org, "self", "cf.grade", "hidden")
    client = client_for(org.east_rep)
    body = client.get(detail(owned)).json()
    assert "mobile" not in body
    assert "grade" not in body["custom_fields"]
    response = client.patch(detail(owned), {"version": 1, "mobile": "13900000000"}, format="json")
    assert response.status_code == 403
    assert "mobile" in error_fields(response)
    owned.refresh_from_db()
    assert owned.mobile == "13812345678"


def test_read_only_fields_show_but_cannot_change(org, client_for, owned):
    _restrict(org, "self", "name", "readonly")
    client = client_for(org.east_rep)
    assert client.get(detail(owned)).json()["name"] == "华东客户"
    refused = client.patch(detail(owned), {"version": 1, "name": "改名"}, format="json")
    same = client.patch(detail(owned), {"version": 1, "name": "华东客户", "remark": "ok"}, format="json")
    assert refused.status_code == 403
    assert same.status_code == 200, same.content


def test_field_rules_of_several_roles_take_the_most_permissive(org, client_for):
    # north_rep holds "self" and "department": hidden by one role, editable through the other.
    _restrict(org, "self", "mobile", "hidden")
    customer = make_customer(org.north_rep, name="北方", mobile="13812345678")
    assert client_for(org.north_rep).get(detail(customer)).json()["mobile"] == "13812345678"


def test_hidden_field_cannot_be_filtered_on(org, client_for, owned):
    _restrict(org, "department", "mobile", "hidden")
    rows = client_for(org.east_manager).get(LIST, {"mobile": "99999"}).json()["results"]
    assert [row["id"] for row in rows] == [owned.pk]  # the filter is ignored, not answered


# --- team members ---------------------------------------------------------------------------------


def test_team_member_read_only_sees_but_cannot_edit(org, client_for, owned):
    outsider = org.north_other
    assert client_for(outsider).get(detail(owned)).status_code == 404
    response = client_for(org.east_rep).post(
        detail(owned, "api:customer-team-members"), {"user": outsider.pk, "access": "read"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()[0]["access"] == "read"
    body = client_for(outsider).get(detail(owned)).json()
    assert body["mobile"] == "13812345678"  # team members see full details
    assert client_for(outsider).patch(detail(owned), {"version": 1, "name": "x"}, format="json").status_code == 403
    assert AuditEvent.objects.filter(action=AuditAction.TEAM_MEMBER_ADD, target_id=str(owned.pk)).exists()


def test_team_member_read_write_can_edit(org, client_for, owned):
    services.customer_team_member_set(
        user=org.east_rep, customer=owned, member=org.north_other, access=TeamAccess.WRITE
    )
    response = client_for(org.north_other).patch(detail(owned), {"version": 1, "remark": "协作"}, format="json")
    assert response.status_code == 200, response.content
    # …but cannot share it further.
    again = client_for(org.north_other).post(
        detail(owned, "api:customer-team-members"), {"user": org.s2_rep.pk}, format="json"
    )
    assert again.status_code == 403


def test_team_membership_expires(org, client_for, owned):
    services.customer_team_member_set(
        user=org.east_rep,
        customer=owned,
        member=org.north_other,
        access=TeamAccess.READ,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    assert client_for(org.north_other).get(detail(owned)).status_code == 200
    CustomerTeamMember.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client_for(org.north_other).get(detail(owned)).status_code == 404
    assert owned.pk not in {row["id"] for row in client_for(org.north_other).get(LIST).json()["results"]}


def test_removing_a_team_member_ends_access(org, client_for, owned):
    services.customer_team_member_set(user=org.east_rep, customer=owned, member=org.north_other, access="read")
    url = reverse("api:customer-team-member-remove", kwargs={"pk": owned.pk, "member_id": org.north_other.pk})
    assert client_for(org.east_rep).delete(url).status_code == 204
    assert client_for(org.north_other).get(detail(owned)).status_code == 404
    assert AuditEvent.objects.filter(action=AuditAction.TEAM_MEMBER_REMOVE).count() == 1


def test_team_member_expiry_in_the_past_is_refused(org, client_for, owned):
    response = client_for(org.east_rep).post(
        detail(owned, "api:customer-team-members"),
        {"user": org.north_other.pk, "expires_at": "2020-01-01T00:00:00+08:00"},
        format="json",
    )
    assert response.status_code == 400
    assert not CustomerTeamMember.objects.exists()


# --- optimistic locking and history ---------------------------------------------------------------


def test_stale_update_gets_409_with_the_current_version_and_writes_nothing(org, client_for, owned):
    first = client_for(org.east_rep).patch(detail(owned), {"version": 1, "remark": "first"}, format="json")
    assert first.status_code == 200
    stale = client_for(org.east_manager).patch(detail(owned), {"version": 1, "remark": "second"}, format="json")
    assert stale.status_code == 409
    assert stale.json()["error"]["current_version"] == 2
    owned.refresh_from_db()
    assert (owned.remark, owned.version) == ("first", 2)


def test_update_without_version_is_refused(org, client_for, owned):
    response = client_for(org.east_rep).patch(detail(owned), {"remark": "x"}, format="json")
    assert response.status_code == 400
    assert "version" in error_fields(response)


def test_put_is_not_offered(org, client_for, owned):
    assert client_for(org.east_rep).put(detail(owned), {"name": "x"}, format="json").status_code == 405


def test_history_records_who_when_old_and_new(org, client_for, owned):
    tag = TagFactory(name="VIP")
    client = client_for(org.east_rep)
    client.patch(detail(owned), {"version": 1, "name": "新名称", "tags": [tag.pk]}, format="json")
    entries = client.get(detail(owned, "api:customer-history")).json()
    assert [entry["type"] for entry in entries] == ["changed", "created"]
    latest = entries[0]
    assert latest["user"] == org.east_rep.pk
    changes = {change["field"]: (change["old"], change["new"]) for change in latest["changes"]}
    assert changes["name"] == ("华东客户", "新名称")
    assert changes["tags"] == ([], [tag.pk])


# --- recycle bin ----------------------------------------------------------------------------------


def test_delete_moves_to_recycle_bin_and_restore_brings_it_back(org, client_for, owned):
    client = client_for(org.east_rep)
    assert client.delete(detail(owned)).status_code == 204
    assert client.get(detail(owned)).status_code == 404
    assert client.get(LIST).json()["results"] == []
    binned = client.get(reverse("api:customer-recycle-bin")).json()["results"]
    assert [row["id"] for row in binned] == [owned.pk]
    assert client.post(detail(owned, "api:customer-restore")).status_code == 200
    assert client.get(detail(owned)).status_code == 200
    actions = list(AuditEvent.objects.order_by("at").values_list("action", flat=True))
    assert actions == [AuditAction.DELETE, AuditAction.RESTORE]


def test_recycle_bin_is_scoped(org, client_for, owned):
    services.customer_delete(user=org.east_rep, customer=owned)
    assert client_for(org.north_other).get(reverse("api:customer-recycle-bin")).json()["results"] == []
    assert client_for(org.north_other).post(detail(owned, "api:customer-restore")).status_code == 404


def test_purge_removes_customers_deleted_more_than_30_days_ago(org, owned):
    fresh = make_customer(org.east_rep, name="刚删除")
    services.customer_delete(user=org.east_rep, customer=owned)
    services.customer_delete(user=org.east_rep, customer=fresh)
    Customer.objects.filter(pk=owned.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    result = services.customer_purge_recycle_bin()
    assert result["purged"] == 1
    assert list(Customer.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not Contact.objects.filter(customer_id=owned.pk).exists()
    assert not Customer.history.filter(id=owned.pk).exists()
    assert AuditEvent.objects.filter(action=AuditAction.PURGE, target_id=str(owned.pk)).exists()


def test_purge_removes_the_purged_contacts_history_and_keeps_a_moved_contacts(org, owned):
    """The contacts deleted with the customer write a "deleted" history row each: those go too
    (NOT EXISTS against the contacts still there); a contact that moved to another customer keeps
    its history, rows from its time at the purged customer included."""
    [stayed] = Contact.objects.filter(customer=owned)
    moved = ContactFactory(customer=owned, name="李四")
    elsewhere = make_customer(org.east_rep, name="另一家客户")
    moved.customer = elsewhere
    moved.save()
    moved_history = set(Contact.history.filter(id=moved.pk).values_list("history_id", flat=True))
    assert Contact.history.filter(id=moved.pk, customer_id=owned.pk).exists()
    services.customer_delete(user=org.east_rep, customer=owned)
    Customer.objects.filter(pk=owned.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    assert services.customer_purge_recycle_bin()["purged"] == 1
    assert not Contact.history.filter(id=stayed.pk).exists()
    assert set(Contact.history.filter(id=moved.pk).values_list("history_id", flat=True)) == moved_history
    assert Contact.objects.filter(pk=moved.pk, customer=elsewhere).exists()


def test_purge_task_runs_once_a_day(org, owned):
    from customers.tasks import customer_purge_recycle_bin_task

    services.customer_delete(user=org.east_rep, customer=owned)
    Customer.objects.filter(pk=owned.pk).update(deleted_at=timezone.now() - timedelta(days=40))
    assert customer_purge_recycle_bin_task()["purged"] == 1
    assert customer_purge_recycle_bin_task()["purged"] == 1  # the stored result, not a second run


# --- transfer -------------------------------------------------------------------------------------


def test_batch_transfer_moves_owner_and_department_with_a_reason(org, client_for):
    a = make_customer(org.east_rep, name="甲")
    b = make_customer(org.east_intern, name="乙")
    response = client_for(org.east_lead).post(
        reverse("api:customer-transfer"),
        {"customers": [a.pk, b.pk], "to_owner": org.south_rep.pk, "reason": "调岗"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"transferred": 2}
    for customer in (a, b):
        customer.refresh_from_db()
        assert (customer.owner, customer.department) == (org.south_rep, org.departments["south"])
        assert customer.version == 2
        assert "调岗" in customer.history.first().history_change_reason
    events = AuditEvent.objects.filter(action=AuditAction.TRANSFER)
    assert events.count() == 2
    assert events.first().data["reason"] == "调岗"


def test_transfer_of_an_out_of_scope_customer_moves_nothing(org, client_for):
    mine = make_customer(org.east_rep, name="甲")
    theirs = make_customer(org.north_other, name="乙")
    response = client_for(org.east_rep).post(
        reverse("api:customer-transfer"),
        {"customers": [mine.pk, theirs.pk], "to_owner": org.east_lead.pk, "reason": "x"},
        format="json",
    )
    assert response.status_code == 404
    mine.refresh_from_db()
    assert mine.owner == org.east_rep


def test_transfer_needs_a_reason_and_the_permission(org, client_for):
    from django.contrib.auth.models import Permission

    from staff.tests.factories import RoleFactory, UserFactory

    mine = make_customer(org.east_rep, name="甲")
    no_reason = client_for(org.east_rep).post(
        reverse("api:customer-transfer"), {"customers": [mine.pk], "to_owner": org.east_lead.pk}, format="json"
    )
    assert no_reason.status_code == 400
    role = RoleFactory(name="no-transfer", permissions=list(Permission.objects.exclude(codename="transfer_customer")))
    rep = UserFactory(username="rep2", department=org.departments["east"], roles=[role])
    theirs = make_customer(rep, name="乙")
    refused = client_for(rep).post(
        reverse("api:customer-transfer"),
        {"customers": [theirs.pk], "to_owner": org.east_lead.pk, "reason": "x"},
        format="json",
    )
    assert refused.status_code == 403


# --- search, filters, counts ----------------------------------------------------------------------


def test_search_finds_chinese_substrings_phone_digits_and_typos(org, client_for):
    huawei = make_customer(org.east_rep, name="华为技术（上海）有限公司", mobile="13800138000")
    other = make_customer(org.east_rep, name="华夏银行", email="hx@example.com")
    ContactFactory(customer=other, name="李四", mobile="13911112222")
    services.customer_search_refresh(customer_ids=[other.pk])
    client = client_for(org.east_rep)

    def ids(q):
        return [row["id"] for row in client.get(LIST, {"q": q}).json()["results"]]

    assert ids("华为") == [huawei.pk]
    assert ids("1380013") == [huawei.pk]
    assert ids("138-0013 8000") == [huawei.pk]
    assert ids("李四") == [other.pk]
    assert ids("1111222") == [other.pk]
    assert ids("hx@example") == [other.pk]
    assert ids("华为技木（上海）有限公司") == [huawei.pk]  # a typo
    assert ids("华为技术") == [huawei.pk]
    assert ids("HX@Example") == [other.pk]  # case does not matter
    one_character = client.get(LIST, {"q": "华"})
    assert one_character.status_code == 400
    assert "q" in one_character.json()["error"]["fields"]


def test_search_ranks_name_matches_first(org, client_for):
    contact_only = make_customer(org.east_rep, name="甲公司")
    ContactFactory(customer=contact_only, name="王华为")
    services.customer_search_refresh(customer_ids=[contact_only.pk])
    exact = make_customer(org.east_rep, name="华为")
    prefix = make_customer(org.east_rep, name="华为技术有限公司")
    rows = client_for(org.east_rep).get(LIST, {"q": "华为"}).json()["results"]
    assert [row["id"] for row in rows] == [exact.pk, prefix.pk, contact_only.pk]


def test_search_counts_its_matches_on_every_page_capped_alike(org, client_for, settings):
    for index in range(3):
        make_customer(org.east_rep, name=f"华为{index}号")
    make_customer(org.north_other, name="华为北方")  # out of scope
    client = client_for(org.east_rep)
    first = client.get(LIST, {"q": "华为", "page_size": 2}).json()
    second = client.get(first["next"]).json()
    assert (first["count"], first["count_capped"]) == (second["count"], second["count_capped"]) == (3, False)
    settings.LIST_COUNT_LIMIT = 2
    body = client.get(LIST, {"q": "华为", "page_size": 2}).json()
    assert (body["count"], body["count_capped"]) == (2, True)
    assert client.get(LIST, {"q": "没有这个"}).json()["count"] == 0


def test_search_is_scoped(org, client_for):
    make_customer(org.north_other, name="华为北方")
    assert client_for(org.east_rep).get(LIST, {"q": "华为"}).json()["results"] == []


def test_filters_tags_any_and_all_custom_fields_and_views(org, client_for, custom_fields):
    vip, big = TagFactory(name="VIP"), TagFactory(name="大客户")
    a = make_customer(org.east_rep, name="甲", tags=[vip.pk, big.pk], custom_fields={"budget": 100, "grade": "甲"})
    b = make_customer(org.east_rep, name="乙", tags=[vip.pk], custom_fields={"budget": 5000})
    c = make_customer(
        org.east_rep, name="丙", custom_fields={"budget": 50}, level=CustomerLevel.objects.get(code="A").pk
    )
    client = client_for(org.east_rep)

    def ids(**params):
        response = client.get(LIST, params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(tags=[vip.pk, big.pk]) == {a.pk, b.pk}
    assert ids(tags_all=[vip.pk, big.pk]) == {a.pk}
    assert ids(cf_budget_min=60, cf_budget_max=1000) == {a.pk}
    assert ids(cf_grade="甲") == {a.pk}
    assert ids(view="key") == {c.pk}
    assert ids(view="mine") == {a.pk, b.pk, c.pk}
    assert ids(created_after=timezone.localdate().isoformat()) == {a.pk, b.pk, c.pk}
    assert ids(no_follow_up_days=0) == {a.pk, b.pk, c.pk}
    assert ids(no_follow_up_days=10**12) == set()  # absurd input is clamped, not a 500
    Customer.objects.filter(pk=b.pk).update(address="科技路8号", remark="老客户介绍")
    assert ids(address="科技路") == ids(remark="介绍") == {b.pk}


def test_saved_views(org, client_for):
    client = client_for(org.east_rep)
    url = reverse("api:customer-view-list")
    created = client.post(url, {"name": "我的VIP", "params": {"tags": [1]}}, format="json")
    assert created.status_code == 201, created.content
    assert [row["name"] for row in client.get(url).json()] == ["我的VIP"]
    assert client_for(org.east_lead).get(url).json() == []  # one's own only
    builtin = client.get(reverse("api:customer-view-builtin")).json()
    assert {row["key"] for row in builtin} >= {"mine", "subordinates", "today", "stale30", "key"}


def test_count_is_exact_up_to_the_limit_then_capped(org, client_for, settings):
    settings.LIST_COUNT_LIMIT = 3
    for index in range(3):
        CustomerFactory(owner=org.east_rep, name=f"客户{index}")
    client = client_for(org.east_rep)
    body = client.get(LIST).json()
    assert (body["count"], body["count_capped"]) == (3, False)
    CustomerFactory(owner=org.east_rep)
    body = client.get(LIST).json()
    assert (body["count"], body["count_capped"]) == (3, True)


def test_list_makes_a_fixed_number_of_queries(org, client_for, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    tags = [TagFactory(name=f"t{i}") for i in range(3)]
    client = client_for(org.east_lead)

    def queries_for(rows):
        Customer.objects.all().delete()
        for index in range(rows):
            customer = CustomerFactory(owner=org.east_rep, name=f"客户{index}", level=CustomerLevel.objects.first())
            customer.tags.set(tags)
        with CaptureQueriesContext(connection) as context:
            response = client.get(LIST, {"page_size": 100})
        assert len(response.json()["results"]) == rows
        return len(context.captured_queries)

    assert queries_for(5) == queries_for(30)
    assert queries_for(30) <= 12


def test_history_has_readable_values_beside_raw_ones(org, client_for, owned, custom_fields):
    level = CustomerLevel.objects.get(code="A")
    client = client_for(org.east_rep)
    client.patch(
        detail(owned), {"version": 1, "level": level.pk, "custom_fields": {"budget": 9, "vip": True}}, format="json"
    )
    changes = {c["field"]: c for c in client.get(detail(owned, "api:customer-history")).json()[0]["changes"]}
    assert (changes["level"]["new"], changes["level"]["new_display"]) == (level.pk, "A 重点客户")
    assert changes["custom_fields.vip"]["new_display"] == "是"
    assert changes["custom_fields.budget"]["label"] == "预算"


def test_pages_walked_rule_by_rule_are_the_scope_in_order(org, client_for):
    # given: a department manager's own, department's and shared customers (and others'), with
    # equal update times among them, so pages break ties by id
    manager = org.east_manager
    mine = [CustomerFactory(owner=manager) for _ in range(3)]
    department = [CustomerFactory(owner=org.east_rep) for _ in range(4)]
    elsewhere = CustomerFactory(owner=org.north_rep)
    shared = CustomerFactory(owner=org.s2_rep)
    CustomerTeamMember.objects.create(
        content_object=shared,
        user=manager,
        permission=Permission.objects.get(codename="view_customer", content_type__app_label="customers"),
    )
    moment = timezone.now()
    for index, customer in enumerate([*mine, *department, elsewhere, shared]):
        Customer.objects.filter(pk=customer.pk).update(updated_at=moment - timedelta(minutes=index // 2))
    expected = sorted(
        Customer.objects.filter(pk__in=[c.pk for c in [*mine, *department, shared]]).values_list("updated_at", "pk"),
        reverse=True,
    )
    client = client_for(manager)

    # when: the list is read forward two rows at a time, then back from the last page
    forward, url, counts = [], LIST + "?page_size=2", set()
    while url:
        body = client.get(url).json()
        forward.extend(row["id"] for row in body["results"])
        counts.add(body["count"])
        last, url = body, body["next"]
    backward, url = [], last["previous"]
    while url:
        body = client.get(url).json()
        backward[:0] = [row["id"] for row in body["results"]]
        url = body["previous"]

    # then
    assert forward == [pk for _at, pk in expected]
    assert backward + [row["id"] for row in last["results"]] == forward
    assert counts == {len(expected)}


def test_a_list_without_filters_skips_the_filter_set_but_keeps_ordering_and_filters_when_asked(org, client_for):
    older, newer = CustomerFactory(owner=org.east_rep), CustomerFactory(owner=org.east_rep)
    Customer.objects.filter(pk=older.pk).update(updated_at=timezone.now() - timedelta(days=2))
    client = client_for(org.east_rep)
    assert [row["id"] for row in client.get(LIST).json()["results"]] == [newer.pk, older.pk]
    assert [row["id"] for row in client.get(LIST, {"ordering": "id"}).json()["results"]] == [older.pk, newer.pk]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert [row["id"] for row in client.get(LIST, {"updated_since": since}).json()["results"]] == [newer.pk]
    assert client.get(LIST, {"level": 999999}).status_code == 400  # a filter's input is still validated
