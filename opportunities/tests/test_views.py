"""The deal pages as a signed-in user uses them: board (columns, totals, moves by drag with JSON
answers, load more), list, form, detail (move form), funnel page, and the customer's 360 page."""

import pytest
from django.urls import reverse

from customers.tests.factories import make_customer
from opportunities.models import Opportunity, StageHistory
from opportunities.tests.factories import LostReasonFactory, OpportunityFactory, stage

BOARD = reverse("opportunities:board")
JSON = {"HTTP_ACCEPT": "application/json"}


def url(name, *args):
    return reverse(f"opportunities:{name}", args=args)


def logged_in(client, user):
    client.force_login(user)
    return client


def text(response):
    return response.content.decode()


@pytest.fixture
def deal(org):
    return OpportunityFactory(owner=org.east_rep, title="华东 ERP 项目", amount="1200.50", stage=stage("proposal"))


def test_board_shows_columns_totals_and_only_deals_in_scope(org, client, deal):
    OpportunityFactory(owner=org.north_other, title="北方项目", stage=stage("proposal"))
    response = logged_in(client, org.east_rep).get(BOARD)
    assert response.status_code == 200
    page = text(response)
    assert "华东 ERP 项目" in page and "北方项目" not in page
    for name in ["线索", "商机", "报价", "谈判", "成交", "输单"]:
        assert f">{name}</h2>" in page
    assert ">无效</h2>" not in page
    assert '<span data-total="amount">1,200.50</span>' in page
    assert '<span data-total="weighted">600.25</span>' in page
    assert 'href="/opportunities/board/"' in page and "nav-link active" in page


def test_board_columns_load_more(org, client):
    for index in range(23):
        OpportunityFactory(owner=org.east_rep, title=f"项目{index:02d}", stage=stage("lead"))
    client = logged_in(client, org.east_rep)
    page = text(client.get(BOARD))
    assert page.count('class="card kanban-card') == 20
    more = client.get(url("board_column"), {"stage": stage("lead").pk, "after": "x"})
    assert more.status_code == 200
    import re

    link = re.search(r'hx-get="(/opportunities/board/column/[^"]+)"', page).group(1).replace("&amp;", "&")
    rest = client.get(link)
    assert text(rest).count('class="card kanban-card') == 3 and "hx-get" not in text(rest)
    assert client.get(url("board_column"), {"stage": "x"}).status_code == 404


def test_dragging_a_card_moves_it_and_returns_both_columns_totals(org, client, deal):
    OpportunityFactory(owner=org.east_rep, amount=100, stage=stage("negotiation"))
    response = logged_in(client, org.east_rep).post(
        url("move", deal.pk), {"stage": stage("negotiation").pk, "version": 1, "filters": ""}, **JSON
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["ok"] and data["version"] == 2 and data["probability"] == 75
    assert data["columns"][str(stage("proposal").pk)] == {"count": 0, "amount": "0.00", "weighted": "0.00"}
    # 1200.50 + 100 = 1300.50; × 75% = 975.375 → 975.38
    assert data["columns"][str(stage("negotiation").pk)] == {"count": 2, "amount": "1,300.50", "weighted": "975.38"}
    assert StageHistory.objects.filter(opportunity=deal, from_stage=stage("proposal")).count() == 1


def test_a_stale_drag_is_refused_with_a_message(org, client, deal):
    client = logged_in(client, org.east_rep)
    client.post(url("move", deal.pk), {"stage": stage("negotiation").pk, "version": 1}, **JSON)
    stale = client.post(url("move", deal.pk), {"stage": stage("won").pk, "version": 1}, **JSON)
    assert stale.status_code == 409
    assert stale.json()["ok"] is False and "放回原处" in stale.json()["message"]
    deal.refresh_from_db()
    assert deal.stage.code == "negotiation"


def test_dragging_into_lost_needs_a_reason(org, client, deal):
    client = logged_in(client, org.east_rep)
    refused = client.post(url("move", deal.pk), {"stage": stage("lost").pk, "version": 1}, **JSON)
    assert refused.status_code == 400 and "输单原因" in refused.json()["message"]
    reason = LostReasonFactory(name="价格过高")
    done = client.post(
        url("move", deal.pk), {"stage": stage("lost").pk, "version": 1, "lost_reason": reason.pk}, **JSON
    )
    assert done.status_code == 200
    deal.refresh_from_db()
    assert deal.lost_reason == reason


def test_the_detail_page_move_form_writes_history(org, client, deal):
    client = logged_in(client, org.east_rep)
    response = client.post(url("move", deal.pk), {"stage": stage("won").pk, "version": 1})
    assert response.status_code == 302
    detail = text(client.get(url("detail", deal.pk)))
    assert "报价 → 成交" in detail
    assert list(StageHistory.objects.filter(opportunity=deal).values_list("to_stage__code", flat=True)) == [
        "proposal",
        "won",
    ]


def test_create_and_edit_through_the_form(org, client):
    customer = make_customer(org.east_rep, name="甲公司")
    client = logged_in(client, org.east_rep)
    form = client.get(url("create"), {"customer": customer.pk})
    assert form.status_code == 200 and "甲公司" in text(form)
    response = client.post(
        url("create"),
        {"customer": customer.pk, "title": "新项目", "amount": "5000", "stage": stage("lead").pk, "remark": ""},
    )
    assert response.status_code == 302, text(response)
    created = Opportunity.objects.get(title="新项目")
    assert StageHistory.objects.filter(opportunity=created, from_stage=None, to_stage=stage("lead")).exists()
    bad = client.post(url("create"), {"customer": customer.pk, "title": "", "stage": stage("lead").pk})
    assert bad.status_code == 200 and "请填写" in text(bad) or "必填" in text(bad)

    edited = client.post(url("edit", created.pk), {"title": "改名", "amount": "6000", "version": 1, "remark": ""})
    assert edited.status_code == 302
    stale = client.post(url("edit", created.pk), {"title": "再改", "amount": "6000", "version": 1, "remark": ""})
    assert stale.status_code == 200 and "已被他人修改" in text(stale)
    created.refresh_from_db()
    assert (created.title, str(created.amount)) == ("改名", "6000.00")


def test_list_shows_deals_in_scope_with_filters(org, client, deal):
    OpportunityFactory(owner=org.north_other, title="北方项目")
    client = logged_in(client, org.east_rep)
    page = text(client.get(url("list")))
    assert "华东 ERP 项目" in page and "北方项目" not in page and "共 1 条" in page
    assert "华东 ERP 项目" not in text(client.get(url("list"), {"stage": stage("lead").pk}))


def test_funnel_page_has_the_chart_and_the_figures(org, client, deal):
    response = logged_in(client, org.east_rep).get(url("funnel"))
    assert response.status_code == 200
    page = text(response)
    assert 'id="funnel-chart"' in page and "echarts.min.js" in page and 'id="funnel-data"' in page
    assert '"value": 1' in page and "报价" in page and 'id="forecast-table"' in page


def test_customer_360_page_shows_open_deals_and_stage_changes(org, client, deal):
    client = logged_in(client, org.east_rep)
    client.post(url("move", deal.pk), {"stage": stage("negotiation").pk, "version": 1})
    page = text(client.get(reverse("customers:detail", args=[deal.customer_id])))
    assert 'id="open-deals"' in page and "华东 ERP 项目" in page
    assert "华东 ERP 项目：报价 → 谈判" in page


PK_PAGES = [("detail", "get"), ("edit", "get"), ("edit", "post"), ("move", "post"), ("delete", "post")]


def test_every_page_with_a_record_id_is_in_the_scope_tests():
    from opportunities.urls import urlpatterns

    with_id = {pattern.name for pattern in urlpatterns if "<int:" in str(pattern.pattern)}
    assert with_id == {name for name, _method in PK_PAGES}


@pytest.mark.parametrize(("name", "method"), PK_PAGES)
def test_every_page_of_an_out_of_scope_deal_is_404(org, client, deal, name, method):
    response = getattr(logged_in(client, org.north_other), method)(
        url(name, deal.pk), {"stage": stage("won").pk, "version": 1}
    )
    assert response.status_code == 404
    assert getattr(client, method)(url(name, 999999)).status_code == 404
    deal.refresh_from_db()
    assert deal.stage.code == "proposal"


def test_pages_need_login_and_permission(org, client):
    assert client.get(BOARD).status_code == 302
    from django.contrib.auth.models import Permission

    from staff.tests.factories import RoleFactory

    role = RoleFactory(name="客户only", data_scope="self")
    role.permissions.set(Permission.objects.filter(codename="view_customer"))
    org.east_rep.roles.set([role])
    assert logged_in(client, org.east_rep).get(BOARD).status_code == 403


def test_admin_manages_stage_groups_and_refuses_deleting_a_stage_in_use(org, client, deal):
    from opportunities.models import StageGroup

    client = logged_in(client, org.admin)
    group = StageGroup.objects.get(is_default=True)
    assert client.get(reverse("admin:opportunities_stagegroup_change", args=[group.pk])).status_code == 200
    assert client.get(reverse("admin:opportunities_lostreason_changelist")).status_code == 200
    refused = client.get(reverse("admin:opportunities_stagegroup_delete", args=[group.pk]))
    assert (
        refused.status_code == 200 and "受保护" in refused.content.decode() or "protected" in refused.content.decode()
    )


def test_the_customer_list_transfer_form_can_take_open_deals_along(org, client, deal):
    page = logged_in(client, org.east_lead).get(reverse("customers:list"))
    assert 'name="opportunities"' in text(page) and 'name="tasks"' in text(page)
    response = client.post(
        reverse("customers:bulk"),
        {
            "action": "transfer",
            "ids": [deal.customer_id],
            "to_owner": org.east_intern.pk,
            "reason": "离职交接",
            "opportunities": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.owner == org.east_intern
