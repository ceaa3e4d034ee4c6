"""Merging two customers (合并): everything moves to the survivor in one transaction."""

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from crm.errors import ConflictError, DomainError
from customers import selectors, services
from customers.models import Contact, Customer, CustomerMerge, CustomerTeamMember
from customers.tests.factories import ContactFactory, TagFactory, make_customer


@pytest.fixture
def pair(org):
    """Two customers of east_rep: the survivor with a primary contact, tag and team member; the
    other with two contacts (one primary), two tags (one shared), team members and some history."""
    shared, own, extra = TagFactory(name="重点"), TagFactory(name="华东"), TagFactory(name="展会")
    survivor = make_customer(org.east_rep, name="华为技术有限公司", remark="保留的备注", tags=[shared.pk, own.pk])
    other = make_customer(
        org.east_rep,
        name="华为技术（上海）有限公司",
        mobile="13912345678",
        email="hw@example.com",
        tags=[shared.pk, extra.pk],
        check=False,
    )
    services.customer_update(user=org.east_rep, customer=other, version=1, data={"remark": "对方的备注"})
    other.refresh_from_db()
    ContactFactory(customer=survivor, name="甲", is_primary=True)
    ContactFactory(customer=other, name="乙", is_primary=True, mobile="13700000001")
    ContactFactory(customer=other, name="丙")
    services.customer_team_member_set(user=org.east_rep, customer=survivor, member=org.south_rep, access="read")
    services.customer_team_member_set(user=org.east_rep, customer=other, member=org.south_rep, access="write")
    services.customer_team_member_set(user=org.east_rep, customer=other, member=org.s2_rep, access="write")
    survivor.refresh_from_db()
    return survivor, other


def _merge(user, survivor, other, **values):
    return services.customer_merge(
        user=user,
        survivor=survivor,
        other=other,
        values=values,
        survivor_version=survivor.version,
        other_version=other.version,
    )


def test_merge_moves_everything(org, pair):
    survivor, other = pair
    calls = []

    def dummy_mover(*, user, survivor, other):
        # Runs inside the merge's transaction, before the other is deleted.
        calls.append((user.pk, survivor.pk, other.pk, connection.in_atomic_block, other.deleted_at))
        return 3

    # Other apps' movers (follow-ups, deals, …) have nothing to move here; their own tests move things.
    registered = {name: 0 for name in services.MERGE_MOVERS}
    services.MERGE_MOVERS["dummy"] = dummy_mover
    try:
        values = services.customer_merge_values(other=other, choices={"mobile": "other", "remark": "survivor"})
        merged = _merge(org.east_rep, survivor, other, **values)
    finally:
        del services.MERGE_MOVERS["dummy"]

    assert calls == [(org.east_rep.pk, survivor.pk, other.pk, True, None)]
    merged.refresh_from_db()
    other.refresh_from_db()
    assert merged.mobile == "13912345678" and merged.remark == "保留的备注" and merged.name == "华为技术有限公司"
    assert merged.version == survivor.version + 1
    # contacts: all three, one primary (the survivor's)
    contacts = list(Contact.objects.filter(customer=merged).order_by("name").values_list("name", "is_primary"))
    assert sorted(contacts) == sorted([("甲", True), ("乙", False), ("丙", False)])
    assert not Contact.objects.filter(customer=other).exists()
    assert "乙" in merged.search_text  # search finds the merged contacts
    # tags: the union
    assert sorted(merged.tags.values_list("name", flat=True)) == ["华东", "展会", "重点"]
    # team: s2_rep moves; south_rep (read here, read-write there) keeps the wider access
    members = {entry["user"].pk: entry["access"] for entry in selectors.customer_team_members(customer=merged)}
    assert members == {org.south_rep.pk: "write", org.s2_rep.pk: "write"}
    assert not CustomerTeamMember.objects.filter(content_object=other).exists()
    # the other: in the recycle bin, restorable, its history kept and readable from the survivor
    assert other.deleted_at is not None and other.deleted_by == org.east_rep
    merge = CustomerMerge.objects.get(survivor=merged)
    assert merge.other_id == other.pk and merge.fields_taken == ["mobile"]
    assert merge.moved == {**registered, "contacts": 2, "tags": 1, "team_members": 2, "dummy": 3}
    timeline = selectors.customer_timeline(user=org.east_rep, customer=merged)
    line = next(entry for entry in timeline if entry["kind"] == "merge")
    assert line["title"] == "合并了客户「华为技术（上海）有限公司」"
    assert line["url"] == reverse("customers:merged_history", args=[merged.pk, merge.pk])
    history = selectors.customer_merged_history(user=org.east_rep, customer=merged, merge=merge)
    assert [entry["type"] for entry in history] == ["changed", "changed", "created"]
    assert any(change["new"] == "对方的备注" for entry in history for change in entry["changes"])
    assert history[0]["reason"] == "合并到客户「华为技术有限公司」"
    # the survivor's own history says so, and the audit log too
    assert merged.history.first().history_change_reason == "合并了客户「华为技术（上海）有限公司」"
    event = AuditEvent.objects.get(action=AuditAction.MERGE)
    assert event.target_id == str(merged.pk) and event.data["other"] == other.pk


def test_merged_history_survives_the_recycle_bin_purge(org, pair):
    survivor, other = pair
    _merge(org.east_rep, survivor, other)
    Customer.objects.filter(pk=other.pk).update(deleted_at=timezone.now() - timezone.timedelta(days=400))
    services.customer_purge_recycle_bin()
    assert not Customer.objects.filter(pk=other.pk).exists()
    merge = CustomerMerge.objects.get(survivor=survivor)
    history = selectors.customer_merged_history(user=org.east_rep, customer=survivor, merge=merge)
    assert history and history[-1]["type"] == "created"
    assert Contact.objects.filter(customer=survivor).count() == 3  # moved contacts untouched


def test_a_failing_mover_rolls_everything_back(org, pair):
    survivor, other = pair

    def broken(**kwargs):
        raise DomainError("无法转移商机")

    services.MERGE_MOVERS["broken"] = broken
    try:
        with pytest.raises(DomainError):
            _merge(org.east_rep, survivor, other, mobile="13912345678")
    finally:
        del services.MERGE_MOVERS["broken"]
    other.refresh_from_db()
    survivor.refresh_from_db()
    assert other.deleted_at is None and other.contacts.count() == 2
    assert survivor.mobile == "" and not CustomerMerge.objects.exists()


def test_merge_refused_out_of_scope_or_for_team_members(org, pair):
    survivor, other = pair
    theirs = make_customer(org.north_other, name="北方客户")
    with pytest.raises(DomainError) as refused:
        _merge(org.east_rep, survivor, theirs)
    assert refused.value.status == 403
    # south_rep is a read-write team member of the other, but manages neither.
    with pytest.raises(DomainError) as member:
        _merge(org.south_rep, survivor, other)
    assert member.value.status == 403
    # the manager above (department scope) may
    _merge(org.east_manager, survivor, other)


def test_merge_refused_on_stale_version_or_itself(org, pair):
    survivor, other = pair
    with pytest.raises(ConflictError) as stale:
        services.customer_merge(
            user=org.east_rep, survivor=survivor, other=other, values={}, survivor_version=survivor.version,
            other_version=other.version - 1,
        )  # fmt: skip
    assert stale.value.code == "stale_version"
    with pytest.raises(DomainError):
        _merge(org.east_rep, survivor, survivor)
    other.refresh_from_db()
    assert other.deleted_at is None


def test_a_later_merge_carries_earlier_ones(org, pair):
    survivor, other = pair
    _merge(org.east_rep, survivor, other)
    survivor.refresh_from_db()
    third = make_customer(org.east_rep, name="第三家公司")
    services.customer_merge(
        user=org.east_rep, survivor=third, other=survivor, values={}, survivor_version=1,
        other_version=survivor.version,
    )  # fmt: skip
    assert set(CustomerMerge.objects.filter(survivor=third).values_list("other_id", flat=True)) == {
        other.pk,
        survivor.pk,
    }


# --- API -------------------------------------------------------------------------------------------


def test_merge_api(org, client_for, pair):
    survivor, other = pair
    url = reverse("api:customer-merge", args=[survivor.pk])
    body = {"other": other.pk, "version": survivor.version, "other_version": other.version}
    client = client_for(org.east_rep)
    stale = client.post(url, {**body, "version": survivor.version + 5}, format="json")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_version"
    response = client.post(url, {**body, "choices": {"mobile": "other", "email": "other"}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["mobile"] == "13912345678" and response.json()["email"] == "hw@example.com"
    merges = client.get(reverse("api:customer-merges", args=[survivor.pk])).json()
    assert [m["other_name"] for m in merges] == [other.name]
    assert merges[0]["history"][0]["reason"] == "合并到客户「华为技术有限公司」"
    assert client.get(reverse("api:customer-detail", args=[other.pk])).status_code == 404


def test_merge_api_out_of_scope_is_404(org, client_for, pair):
    survivor, other = pair
    theirs = make_customer(org.north_other, name="北方客户")
    client = client_for(org.east_rep)
    hidden_other = client.post(
        reverse("api:customer-merge", args=[survivor.pk]),
        {"other": theirs.pk, "version": survivor.version, "other_version": 1},
        format="json",
    )
    assert hidden_other.status_code == 404
    hidden_survivor = client.post(
        reverse("api:customer-merge", args=[theirs.pk]),
        {"other": other.pk, "version": 1, "other_version": other.version},
        format="json",
    )
    assert hidden_survivor.status_code == 404
    other.refresh_from_db()
    assert other.deleted_at is None and not AuditEvent.objects.filter(action=AuditAction.MERGE).exists()


# --- pages -----------------------------------------------------------------------------------------


def test_merge_page_side_by_side_and_merge(org, client, pair):
    survivor, other = pair
    client.force_login(org.east_rep)
    detail = client.get(reverse("customers:detail", args=[survivor.pk])).content.decode()
    assert reverse("customers:merge", args=[survivor.pk]) in detail
    picker = client.get(reverse("customers:merge", args=[survivor.pk])).content.decode()
    assert f"?other={other.pk}" in picker  # suggested as a duplicate
    page = client.get(reverse("customers:merge", args=[survivor.pk]), {"other": other.pk}).content.decode()
    assert 'name="choice:mobile"' in page and 'name="choice:remark"' in page
    assert 'name="choice:name"' in page
    response = client.post(
        reverse("customers:merge", args=[survivor.pk]),
        {
            "other": other.pk,
            "version": survivor.version,
            "other_version": other.version,
            "choice:mobile": "other",
            "choice:remark": "other",
        },
    )
    assert response.status_code == 302
    survivor.refresh_from_db()
    assert survivor.mobile == "13912345678" and survivor.remark == "对方的备注"
    merge = CustomerMerge.objects.get()
    detail = client.get(reverse("customers:detail", args=[survivor.pk])).content.decode()
    assert reverse("customers:merged_history", args=[survivor.pk, merge.pk]) in detail
    history = client.get(reverse("customers:merged_history", args=[survivor.pk, merge.pk]))
    assert history.status_code == 200 and "对方的备注" in history.content.decode()


def test_merge_page_stale_shows_error(org, client, pair):
    survivor, other = pair
    client.force_login(org.east_rep)
    response = client.post(
        reverse("customers:merge", args=[survivor.pk]),
        {"other": other.pk, "version": survivor.version, "other_version": other.version + 1},
    )
    assert response.status_code == 409
    assert "已被他人修改" in response.content.decode()


def test_merged_history_page_out_of_scope_is_404(org, client, pair):
    survivor, other = pair
    _merge(org.east_rep, survivor, other)
    merge = CustomerMerge.objects.get()
    client.force_login(org.north_other)
    assert client.get(reverse("customers:merged_history", args=[survivor.pk, merge.pk])).status_code == 404
    client.force_login(org.east_rep)
    theirs = make_customer(org.north_other, name="北方客户")
    assert client.get(reverse("customers:merged_history", args=[theirs.pk, merge.pk])).status_code == 404
    assert client.get(reverse("customers:merge", args=[survivor.pk]), {"other": theirs.pk}).status_code == 404


def test_merge_page_search_looks_at_names_only_when_numbers_are_hidden(org, client, pair):
    """Typing a mobile into the merge page's search must not tell who has it when the viewer's
    role hides mobiles (the list's search follows the same rule)."""
    from staff.models import FieldPermission

    survivor, other = pair
    client.force_login(org.east_rep)
    url = reverse("customers:merge", args=[survivor.pk])
    assert f"?other={other.pk}" in client.get(url, {"q": "13912345678"}).content.decode().split("search-results")[-1]
    FieldPermission.objects.create(role=org.roles["self"], target="customer", field="mobile", access="hidden")
    by_number = client.get(url, {"q": "13912345678"}).content.decode()
    by_name = client.get(url, {"q": "华为技术"}).content.decode()
    assert f"?other={other.pk}" not in by_number.split("search-results")[-1]
    assert f"?other={other.pk}" in by_name.split("search-results")[-1]
