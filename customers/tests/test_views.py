"""The customer pages as a signed-in user uses them: list (scope, masking, search, filters, sorting,
counts, bulk actions, saved views), create/edit forms, the 360 page, contacts, team, recycle bin."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from customers import services
from customers.models import Contact, Customer, CustomerLevel, CustomerTeamMember
from customers.tests.factories import ContactFactory, CustomerFactory, CustomFieldFactory, TagFactory, make_customer
from staff.models import FieldPermission
from staff.teams import TeamAccess

LIST = reverse("customers:list")
CREATE = reverse("customers:create")
VALID_USCC = "91350100M000100Y43"


def url(name, *args):
    return reverse(f"customers:{name}", args=args)


def logged_in(client, user):
    client.force_login(user)
    return client


def page_text(response):
    return response.content.decode()


def messages_of(response):
    return [str(message) for message in response.context["messages"]] if response.context else []


@pytest.fixture
def budget():
    return CustomFieldFactory(key="budget", label="年度预算", type="number")


@pytest.fixture
def owned(org):
    """A customer of east_rep with numbers, seen masked by their lead (east_lead)."""
    return make_customer(org.east_rep, name="华为技术（上海）有限公司", mobile="13800138000", email="zhang@example.com")


# --- list -----------------------------------------------------------------------------------------


def test_list_shows_only_in_scope_customers_and_masks_numbers_for_non_owners(org, client, owned):
    make_customer(org.north_other, name="北方客户", mobile="13911112222")

    own = page_text(logged_in(client, org.east_rep).get(LIST))
    assert "华为技术（上海）有限公司" in own
    assert "13800138000" in own
    assert "北方客户" not in own

    lead = page_text(logged_in(client, org.east_lead).get(LIST))
    assert "华为技术（上海）有限公司" in lead
    assert "138****8000" in lead
    assert "13800138000" not in lead
    assert "北方客户" not in lead and "13911112222" not in lead


def test_list_is_linked_from_the_navbar(org, client):
    response = logged_in(client, org.east_rep).get(LIST)
    assert response.status_code == 200
    assert re.search(
        r'<a class="nav-link active" href="/customers/"\s+aria-current="page">客户</a>', page_text(response)
    )


def test_list_needs_login(client):
    response = client.get(LIST)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_search_filters_and_sorting(org, client, budget):
    vip = TagFactory(name="VIP")
    make_customer(org.east_rep, name="甲华为", tags=[vip.pk], custom_fields={"budget": 500})
    make_customer(org.east_rep, name="乙华为", level=CustomerLevel.objects.get(code="A").pk)
    make_customer(org.east_rep, name="丙公司", mobile="13800138000")
    client = logged_in(client, org.east_rep)

    def names(**params):
        response = client.get(LIST, params)
        assert response.status_code == 200
        return [row["name"] for row in response.context["rows"]]

    assert set(names(q="华为")) == {"甲华为", "乙华为"}
    assert names(q="1380013") == ["丙公司"]
    assert names(tags=vip.pk) == ["甲华为"]
    assert names(cf_budget_min=100) == ["甲华为"]
    assert names(view="key") == ["乙华为"]
    assert names(sort="name") == sorted(["甲华为", "乙华为", "丙公司"])
    assert names(sort="-name") == sorted(["甲华为", "乙华为", "丙公司"], reverse=True)
    # level ascending puts A first and customers without a level last, either way round
    assert names(sort="level")[0] == "乙华为"
    assert names(sort="-level")[0] == "乙华为"


def test_pages_fetch_one_row_more_instead_of_counting(org, client, settings):
    settings.LIST_COUNT_LIMIT = 3
    for index in range(4):
        CustomerFactory(owner=org.east_rep, name=f"客户{index}")
    client = logged_in(client, org.east_rep)

    first = client.get(LIST, {"per_page": 20})
    assert "共 3+ 条" in page_text(first)  # capped: "10,000+" with the real limit
    assert first.context["has_next"] is False

    settings.LIST_COUNT_LIMIT = 10_000
    for index in range(4, 21):
        CustomerFactory(owner=org.east_rep, name=f"客户{index}")
    first = client.get(LIST)
    assert "共 21 条" in page_text(first)
    assert first.context["has_next"] is True and len(first.context["rows"]) == 20
    second = client.get(LIST, {"page": 2})
    assert second.context["has_next"] is False and len(second.context["rows"]) == 1


def test_list_makes_a_fixed_number_of_queries(org, client):
    tags = [TagFactory(name=f"t{index}") for index in range(3)]
    level = CustomerLevel.objects.first()
    client = logged_in(client, org.east_lead)
    client.get(LIST)  # warm caches (content types, sessions) outside the measurement

    def queries_for(rows):
        Customer.objects.all().delete()
        for index in range(rows):
            customer = CustomerFactory(owner=org.east_rep, name=f"客户{index}", level=level, mobile="13800138000")
            customer.tags.set(tags)
        with CaptureQueriesContext(connection) as context:
            response = client.get(LIST, {"per_page": 50})
        assert len(response.context["rows"]) == rows
        return len(context.captured_queries)

    assert queries_for(5) == queries_for(25)


def test_saved_view_save_and_delete(org, client):
    client = logged_in(client, org.east_rep)
    response = client.post(url("view_save"), {"name": "我的VIP", "params": "tags=1&tags=2&q=华为&page=3"}, follow=True)
    assert "已保存视图「我的VIP」" in messages_of(response)
    view = org.east_rep.saved_views.get()
    assert view.params == {"q": "华为", "tags": ["1", "2"]}
    listed = client.get(LIST)
    assert "我的VIP" in page_text(listed)
    active = client.get(LIST, {"q": "华为", "tags": ["1", "2"]})
    assert [item["active"] for item in active.context["saved_views"]] == [True]

    assert logged_in(client, org.east_lead).post(url("view_delete", view.pk)).status_code == 404
    client.force_login(org.east_rep)
    client.post(url("view_delete", view.pk))
    assert not org.east_rep.saved_views.exists()


# --- bulk actions and the recycle bin --------------------------------------------------------------


def test_bulk_transfer_moves_owner_with_a_reason(org, client):
    first = make_customer(org.east_rep, name="甲")
    second = make_customer(org.east_rep, name="乙")
    client = logged_in(client, org.east_lead)

    refused = client.post(
        url("bulk"), {"action": "transfer", "ids": [first.pk, second.pk], "to_owner": org.east_intern.pk}, follow=True
    )
    assert "请填写转移原因。" in messages_of(refused)
    assert set(Customer.objects.values_list("owner", flat=True)) == {org.east_rep.pk}

    response = client.post(
        url("bulk"),
        {"action": "transfer", "ids": [first.pk, second.pk], "to_owner": org.east_intern.pk, "reason": "离职交接"},
        follow=True,
    )
    assert "已转移 2 个客户" in messages_of(response)
    assert set(Customer.objects.values_list("owner", flat=True)) == {org.east_intern.pk}
    assert AuditEvent.objects.filter(action=AuditAction.TRANSFER).count() == 2


def test_bulk_action_with_an_out_of_scope_customer_does_nothing(org, client):
    mine = make_customer(org.east_rep, name="甲")
    theirs = make_customer(org.north_other, name="乙")
    response = logged_in(client, org.east_rep).post(
        url("bulk"), {"action": "delete", "ids": [mine.pk, theirs.pk]}, follow=True
    )
    assert "部分客户不存在或您无权操作。" in messages_of(response)
    assert Customer.objects.in_recycle_bin().count() == 0


def test_bulk_tag_adds_the_tag_and_keeps_the_others(org, client):
    old, new = TagFactory(name="老"), TagFactory(name="新")
    first = make_customer(org.east_rep, name="甲", tags=[old.pk])
    second = make_customer(org.east_rep, name="乙")
    response = logged_in(client, org.east_rep).post(
        url("bulk"), {"action": "tag", "ids": [first.pk, second.pk], "tag": new.pk}, follow=True
    )
    assert "已为 2 个客户添加标签「新」" in messages_of(response)
    assert set(first.tags.values_list("name", flat=True)) == {"老", "新"}
    assert set(second.tags.values_list("name", flat=True)) == {"新"}


def test_bulk_delete_then_restore_from_the_recycle_bin(org, client):
    first = make_customer(org.east_rep, name="甲客户")
    second = make_customer(org.east_rep, name="乙客户")
    client = logged_in(client, org.east_rep)

    response = client.post(url("bulk"), {"action": "delete", "ids": [first.pk, second.pk], "next": LIST}, follow=True)
    assert "已删除 2 个客户到回收站" in messages_of(response)
    assert "甲客户" not in page_text(client.get(LIST))
    assert client.get(url("detail", first.pk)).status_code == 404

    bin_page = client.get(url("recycle_bin"))
    assert "甲客户" in page_text(bin_page) and "乙客户" in page_text(bin_page)
    assert logged_in(client, org.north_other).get(url("recycle_bin")).context["rows"] == []
    assert client.post(url("restore", first.pk)).status_code == 404  # not theirs

    client.force_login(org.east_rep)
    response = client.post(url("restore", first.pk), follow=True)
    assert "已恢复客户「甲客户」" in messages_of(response)
    assert "甲客户" in page_text(client.get(LIST))
    assert client.get(url("detail", first.pk)).status_code == 200


def test_bulk_actions_need_their_permissions(org, client):
    from django.contrib.auth.models import Permission

    from staff.tests.factories import RoleFactory, UserFactory

    role = RoleFactory(name="no-transfer", permissions=list(Permission.objects.exclude(codename="transfer_customer")))
    rep = UserFactory(username="rep2", department=org.departments["east"], roles=[role])
    customer = make_customer(rep, name="甲")
    response = logged_in(client, rep).post(
        url("bulk"), {"action": "transfer", "ids": [customer.pk], "to_owner": org.east_lead.pk, "reason": "x"}
    )
    assert response.status_code == 403
    assert "确认转移" not in page_text(client.get(LIST))


# --- create and edit ------------------------------------------------------------------------------


def test_create_with_a_custom_field(org, client, budget):
    response = logged_in(client, org.east_rep).post(
        CREATE,
        {
            "name": "深圳腾云科技有限公司",
            "kind": "company",
            "mobile": "138 0013 8000",
            "credit_code": VALID_USCC,
            "province": "440000",
            "city": "440300",
            "district": "440305",
            "cf_budget": "12000",
        },
        follow=True,
    )
    customer = Customer.objects.get()
    assert response.redirect_chain[-1][0] == url("detail", customer.pk)
    assert "已保存" in messages_of(response)
    assert customer.mobile == "13800138000"
    assert customer.custom_fields == {"budget": 12000}
    assert customer.owner == org.east_rep
    text = page_text(response)
    assert "年度预算" in text and "12000" in text
    assert "广东省 深圳市 南山区" in text


def test_create_form_shows_custom_fields_and_region_selects(org, client, budget):
    text = page_text(logged_in(client, org.east_rep).get(CREATE))
    assert 'name="cf_budget"' in text
    assert '<select name="province"' in text and "广东省" in text
    assert 'hx-get="/customers/regions/"' in text


def test_create_errors_show_inline_and_nothing_is_written(org, client, budget):
    response = logged_in(client, org.east_rep).post(
        CREATE, {"name": "坏数据公司", "kind": "company", "mobile": "1380013800", "credit_code": "91350100M000100Y44"}
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) >= {"mobile", "credit_code"}
    text = page_text(response)
    assert text.count("invalid-feedback") >= 2
    assert 'value="坏数据公司"' in text  # what was typed stays
    assert Customer.objects.count() == 0


def test_bad_custom_value_is_shown_next_to_its_field(org, client, budget):
    response = logged_in(client, org.east_rep).post(CREATE, {"name": "甲", "kind": "company", "cf_budget": "很多"})
    assert response.status_code == 400
    assert "cf_budget" in response.context["form"].errors
    assert Customer.objects.count() == 0


def test_edit_saves_and_bumps_the_version(org, client, owned):
    client = logged_in(client, org.east_rep)
    page = client.get(url("edit", owned.pk))
    assert 'name="version" value="1"' in page_text(page)
    response = client.post(
        url("edit", owned.pk),
        {
            "version": 1,
            "name": "华为技术有限公司",
            "kind": "company",
            "mobile": "13800138000",
            "email": "zhang@example.com",
        },
        follow=True,
    )
    assert "已保存" in messages_of(response)
    owned.refresh_from_db()
    assert (owned.name, owned.version) == ("华为技术有限公司", 2)


def test_edit_with_a_stale_version_shows_the_conflict_and_changes_nothing(org, client, owned):
    client = logged_in(client, org.east_rep)
    client.get(url("edit", owned.pk))  # the form is opened at version 1 …
    services.customer_update(user=org.east_lead, customer=owned, version=1, data={"remark": "领导的修改"})  # … then

    response = client.post(url("edit", owned.pk), {"version": 1, "name": "我的修改", "kind": "company"})

    assert response.status_code == 409
    text = page_text(response)
    assert "该客户已被他人修改" in text
    assert f'href="{url("edit", owned.pk)}"' in text  # reload link
    owned.refresh_from_db()
    assert (owned.name, owned.remark, owned.version) == ("华为技术（上海）有限公司", "领导的修改", 2)


def test_edit_form_never_shows_full_numbers_to_a_masked_editor(org, client, owned):
    client = logged_in(client, org.east_lead)
    text = page_text(client.get(url("edit", owned.pk)))
    assert "13800138000" not in text and "zhang@example.com" not in text
    assert 'placeholder="138****8000"' in text

    # left blank, the numbers stay; a retyped one replaces the old
    client.post(url("edit", owned.pk), {"version": 1, "name": owned.name, "kind": "company", "phone": "021-68881234"})
    owned.refresh_from_db()
    assert (owned.mobile, owned.email, owned.phone, owned.version) == (
        "13800138000",
        "zhang@example.com",
        "021-68881234",
        2,
    )

    # an invalid save re-renders what was typed, never the stored full values
    response = client.post(url("edit", owned.pk), {"version": 2, "name": owned.name, "kind": "company", "email": "x"})
    assert response.status_code == 400
    assert "13800138000" not in page_text(response)


def test_read_only_team_member_cannot_open_the_edit_form(org, client, owned):
    services.customer_team_member_set(user=org.east_rep, customer=owned, member=org.north_other, access=TeamAccess.READ)
    client = logged_in(client, org.north_other)
    assert client.get(url("detail", owned.pk)).status_code == 200
    assert client.get(url("edit", owned.pk)).status_code == 403


def test_hidden_fields_are_not_in_the_form_list_or_details(org, client, owned):
    FieldPermission.objects.create(
        role=org.roles["self_and_subordinates"], target="customer", field="mobile", access="hidden"
    )
    client = logged_in(client, org.east_lead)
    assert 'name="mobile"' not in page_text(client.get(url("edit", owned.pk)))
    assert "138****8000" not in page_text(client.get(LIST))
    assert 'data-field="mobile"' not in page_text(client.get(url("detail", owned.pk)))


# --- the 360 page ---------------------------------------------------------------------------------


PK_PAGES = [
    ("detail", "get"),
    ("edit", "get"),
    ("edit", "post"),
    ("delete", "post"),
    ("reveal", "post"),
    ("contact_create", "get"),
    ("contact_create", "post"),
    ("team_add", "post"),
    ("merge", "get"),
    ("merge", "post"),
]
# Pages with a second id, tested below; the recycle bin's restore is tested with the bulk delete.
OTHER_PK_PAGES = {"contact_edit", "contact_delete", "team_remove", "restore", "view_delete", "merged_history"}


def test_every_page_with_a_record_id_is_in_the_scope_tests():
    """Like the API route registry: a new customers page that takes an id must be added to
    PK_PAGES (or OTHER_PK_PAGES with its own test), or this fails."""
    from customers.urls import urlpatterns

    with_id = {pattern.name for pattern in urlpatterns if "<int:" in str(pattern.pattern)}
    assert with_id == {name for name, _method in PK_PAGES} | OTHER_PK_PAGES


def test_team_remove_and_restore_of_out_of_scope_customers_are_404(org, client, owned):
    from customers import services

    services.customer_team_member_set(user=org.east_rep, customer=owned, member=org.south_rep, access="read")
    outsider = logged_in(client, org.north_other)
    assert outsider.post(url("team_remove", owned.pk, org.south_rep.pk)).status_code == 404
    services.customer_delete(user=org.east_rep, customer=owned)
    assert outsider.post(url("restore", owned.pk)).status_code == 404
    owned.refresh_from_db()
    assert owned.deleted_at is not None


@pytest.mark.parametrize(("name", "method"), PK_PAGES)
def test_every_page_of_an_out_of_scope_customer_is_404(org, client, owned, name, method):
    response = getattr(logged_in(client, org.north_other), method)(url(name, owned.pk))
    assert response.status_code == 404
    assert getattr(client, method)(url(name, 999999)).status_code == 404


def test_contact_pages_of_an_out_of_scope_customer_are_404(org, client, owned):
    contact = ContactFactory(customer=owned, name="张三")
    client = logged_in(client, org.north_other)
    assert client.get(url("contact_edit", owned.pk, contact.pk)).status_code == 404
    assert client.post(url("contact_delete", owned.pk, contact.pk)).status_code == 404
    # a contact of another customer through this customer's URL
    other = make_customer(org.north_other, name="乙")
    assert client.get(url("contact_edit", other.pk, contact.pk)).status_code == 404
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_detail_shows_card_custom_fields_and_the_timeline(org, client, budget):
    customer = make_customer(org.east_rep, name="甲公司", mobile="13800138000", custom_fields={"budget": 300})
    services.customer_update(
        user=org.east_rep,
        customer=customer,
        version=1,
        data={"level": CustomerLevel.objects.get(code="A").pk, "custom_fields": {"budget": 500}},
    )
    response = logged_in(client, org.east_rep).get(url("detail", customer.pk))
    text = page_text(response)
    assert "甲公司" in text and "13800138000" in text
    assert "年度预算" in text and "500" in text
    timeline = response.context["timeline"]
    assert [entry["type"] for entry in timeline] == ["changed", "created"]
    changes = {change["label"]: (change["old_display"], change["new_display"]) for change in timeline[0]["changes"]}
    assert changes["等级"] == ("", "A 重点客户")
    assert changes["年度预算"] == ("300", "500")
    assert "创建了客户" in text and "修改了客户" in text


def test_masked_viewer_reveals_numbers_with_htmx_and_it_is_audited(org, client, owned):
    ContactFactory(customer=owned, name="张三", mobile="13911112222")
    client = logged_in(client, org.east_lead)
    text = page_text(client.get(url("detail", owned.pk)))
    assert "138****8000" in text and "139****2222" in text
    assert "查看完整号码" in text

    response = client.post(url("reveal", owned.pk), headers={"HX-Request": "true"})

    assert response.status_code == 200
    text = page_text(response)
    assert 'id="contact-values"' in text and "13800138000" in text and "zhang@example.com" in text
    assert 'hx-swap-oob="true"' in text and "13911112222" in text
    assert "<html" not in text  # a fragment
    assert AuditEvent.objects.filter(action=AuditAction.REVEAL, target_id=str(owned.pk)).count() == 1


def test_reveal_without_the_permission_is_refused(org, client, owned):
    from django.contrib.auth.models import Permission

    from staff.tests.factories import RoleFactory, UserFactory

    role = RoleFactory(
        name="no-reveal",
        data_scope="department",
        permissions=list(Permission.objects.exclude(codename="view_full_contact")),
    )
    colleague = UserFactory(username="colleague", department=org.departments["east"], roles=[role])
    client = logged_in(client, colleague)
    assert "查看完整号码" not in page_text(client.get(url("detail", owned.pk)))
    assert client.post(url("reveal", owned.pk)).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()


def test_contacts_add_edit_delete(org, client, owned):
    client = logged_in(client, org.east_rep)
    bad = client.post(url("contact_create", owned.pk), {"name": "张三", "mobile": "123"})
    assert bad.status_code == 400 and "mobile" in bad.context["form"].errors

    response = client.post(
        url("contact_create", owned.pk),
        {"name": "张三", "title": "采购经理", "mobile": "13911112222", "is_primary": "on"},
        follow=True,
    )
    assert "已添加联系人" in messages_of(response)
    contact = owned.contacts.get()
    assert (contact.mobile, contact.is_primary) == ("13911112222", True)
    assert "采购经理" in page_text(response)

    client.post(url("contact_edit", owned.pk, contact.pk), {"name": "张三丰", "mobile": "13911112222"})
    contact.refresh_from_db()
    assert (contact.name, contact.is_primary) == ("张三丰", False)  # an unticked box is a "no"

    response = client.post(url("contact_delete", owned.pk, contact.pk), follow=True)
    assert "已删除联系人「张三丰」" in messages_of(response)
    assert not owned.contacts.exists()


def test_team_members_add_and_remove(org, client, owned):
    client = logged_in(client, org.east_rep)
    response = client.post(
        url("team_add", owned.pk),
        {"user": org.north_other.pk, "access": "write", "expires_at": "2099-12-31T18:00"},
        follow=True,
    )
    assert any("加入团队" in message for message in messages_of(response))
    members = response.context["members"]
    assert [(entry["user"], entry["access"]) for entry in members] == [(org.north_other, TeamAccess.WRITE)]
    assert members[0]["expires_at"].year == 2099
    assert logged_in(client, org.north_other).get(url("detail", owned.pk)).status_code == 200
    # the member sees the team but may not manage it
    assert "添加成员" not in page_text(client.get(url("detail", owned.pk)))

    client.force_login(org.east_rep)
    client.post(url("team_remove", owned.pk, org.north_other.pk))
    assert not CustomerTeamMember.objects.exists()


def test_single_delete_from_the_360_page(org, client, owned):
    response = logged_in(client, org.east_rep).post(url("delete", owned.pk), follow=True)
    assert response.redirect_chain[-1][0] == LIST
    owned.refresh_from_db()
    assert owned.deleted_at is not None


def test_region_options_cascade(org, client):
    client = logged_in(client, org.east_rep)
    cities = page_text(client.get(url("regions"), {"province": "440000"}))
    assert '<option value="440300">深圳市</option>' in cities
    assert 'id="id_district" hx-swap-oob="innerHTML"' in cities
    districts = page_text(client.get(url("regions"), {"city": "440300"}))
    assert '<option value="440305">南山区</option>' in districts
    assert "hx-swap-oob" not in districts
