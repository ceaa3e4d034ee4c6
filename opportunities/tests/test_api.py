"""The deal API as the mini-program uses it: create, PATCH, move (history, 409, lost reason),
the board (totals, first pages, per-column pages, a fixed number of queries) and configuration."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.tests.factories import make_customer
from opportunities.models import StageHistory
from opportunities.tests.factories import LostReasonFactory, OpportunityFactory, stage

LIST = reverse("api:opportunity-list")
BOARD = reverse("api:opportunity-board")


def detail(pk):
    return reverse("api:opportunity-detail", args=[pk])


def move(pk):
    return reverse("api:opportunity-move", args=[pk])


@pytest.fixture
def customer(org):
    return make_customer(org.east_rep, name="华东客户有限公司")


def test_create_returns_the_issue_field_names_and_writes_history(org, client_for, customer):
    response = client_for(org.east_rep).post(
        LIST,
        {"customer": customer.pk, "title": "年度框架", "amount": "8800.80", "stage": stage("proposal").pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    for name in [
        "id", "customer", "title", "amount", "stage", "probability", "expected_close_date", "owner", "department",
        "source", "lost_reason", "won_at", "lost_at", "version",
    ]:  # fmt: skip
        assert name in data, name
    assert (data["amount"], data["probability"], data["owner"], data["version"]) == ("8800.80", 50, org.east_rep.pk, 1)
    assert StageHistory.objects.filter(opportunity_id=data["id"], from_stage=None).count() == 1


def test_create_errors_use_the_shared_shape(org, client_for, customer):
    response = client_for(org.east_rep).post(LIST, {"title": "缺客户"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"customer", "stage"}
    response = client_for(org.east_rep).post(
        LIST, {"customer": customer.pk, "title": "x", "stage": stage("lead").pk, "amount": "-5"}, format="json"
    )
    assert response.status_code == 400 and "amount" in response.json()["error"]["fields"]


def test_patch_needs_the_version_and_409s_when_stale(org, client_for):
    deal = OpportunityFactory(owner=org.east_rep)
    client = client_for(org.east_rep)
    assert client.patch(detail(deal.pk), {"title": "新"}, format="json").status_code == 400
    assert client.patch(detail(deal.pk), {"title": "新", "version": 1}, format="json").status_code == 200
    stale = client.patch(detail(deal.pk), {"title": "再改", "version": 1}, format="json")
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale_version" and stale.json()["error"]["current_version"] == 2
    refused = client.patch(detail(deal.pk), {"stage": stage("won").pk, "version": 2}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "use_move"


def test_move_writes_history_and_a_stale_move_is_409(org, client_for):
    deal = OpportunityFactory(owner=org.east_rep, stage=stage("proposal"))
    client = client_for(org.east_rep)
    moved = client.post(move(deal.pk), {"stage": stage("negotiation").pk, "version": 1}, format="json")
    assert moved.status_code == 200, moved.content
    assert (moved.json()["stage"], moved.json()["version"], moved.json()["probability"]) == (
        stage("negotiation").pk,
        2,
        75,
    )
    stale = client.post(move(deal.pk), {"stage": stage("won").pk, "version": 1}, format="json")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_version"
    rows = list(
        StageHistory.objects.filter(opportunity=deal).order_by("id").values_list("from_stage__code", "to_stage__code")
    )
    assert rows == [(None, "proposal"), ("proposal", "negotiation")]
    history = client.get(reverse("api:opportunity-history", args=[deal.pk])).json()
    assert [(row["from_stage_name"], row["to_stage_name"]) for row in history] == [("报价", "谈判"), (None, "报价")]


def test_move_to_lost_requires_a_reason(org, client_for):
    deal = OpportunityFactory(owner=org.east_rep)
    client = client_for(org.east_rep)
    refused = client.post(move(deal.pk), {"stage": stage("lost").pk, "version": 1}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "lost_reason_required"
    assert "lost_reason" in refused.json()["error"]["fields"]
    reason = LostReasonFactory(name="预算不足")
    lost = client.post(
        move(deal.pk), {"stage": stage("lost").pk, "version": 1, "lost_reason": reason.pk}, format="json"
    )
    assert lost.status_code == 200 and lost.json()["lost_reason"] == reason.pk and lost.json()["lost_at"]


def test_move_of_an_out_of_scope_deal_is_404_and_changes_nothing(org, client_for):
    deal = OpportunityFactory(owner=org.north_other)
    response = client_for(org.east_rep).post(move(deal.pk), {"stage": stage("won").pk, "version": 1}, format="json")
    assert response.status_code == 404
    deal.refresh_from_db()
    assert deal.stage.code == "proposal" and deal.version == 1


def test_move_needs_the_change_permission(org, client_for):
    from django.contrib.auth.models import Permission

    from staff.tests.factories import RoleFactory

    reader = RoleFactory(name="只读商机", data_scope="self")
    reader.permissions.set(Permission.objects.filter(codename="view_opportunity"))
    org.east_rep.roles.set([reader])
    deal = OpportunityFactory(owner=org.east_rep)
    response = client_for(org.east_rep).post(move(deal.pk), {"stage": stage("won").pk, "version": 1}, format="json")
    assert response.status_code == 403


def test_list_filters(org, client_for):
    rep = org.east_rep
    small = OpportunityFactory(owner=rep, amount=100, stage=stage("lead"), expected_close_date="2026-04-01")
    big = OpportunityFactory(owner=rep, amount=90000, stage=stage("proposal"), expected_close_date="2026-06-01")
    client = client_for(rep)

    def ids(**params):
        response = client.get(LIST, params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(stage=stage("lead").pk) == {small.pk}
    assert ids(amount_min=1000) == {big.pk}
    assert ids(amount_max=1000) == {small.pk}
    assert ids(expected_close_after="2026-05-01") == {big.pk}
    assert ids(expected_close_before="2026-05-01") == {small.pk}
    assert ids(owner=rep.pk) == {small.pk, big.pk}
    assert ids(department=org.departments["s1"].pk) == {small.pk, big.pk}
    assert ids(department=org.departments["north"].pk) == set()


def test_board_columns_totals_and_first_pages(org, client_for):
    rep = org.east_rep
    for amount in (100, 200, 300):
        OpportunityFactory(owner=rep, stage=stage("proposal"), amount=amount)
    OpportunityFactory(owner=rep, stage=stage("negotiation"), amount="1000.10")
    OpportunityFactory(owner=rep, stage=stage("negotiation"), amount=5, probability=33)  # overridden
    OpportunityFactory(owner=rep, stage=stage("invalid"))  # no column
    OpportunityFactory(owner=org.north_other, stage=stage("proposal"), amount=99999)  # outside scope

    response = client_for(rep).get(BOARD, {"page_size": 2})
    assert response.status_code == 200, response.content
    columns = {column["stage"]["code"]: column for column in response.json()["columns"]}
    assert list(columns) == ["lead", "opportunity", "proposal", "negotiation", "won", "lost"]
    proposal, negotiation = columns["proposal"], columns["negotiation"]
    assert (proposal["count"], proposal["amount"], proposal["weighted_amount"]) == (3, "600.00", "300.00")
    # 1000.10 × 75% = 750.075, 5 × 33% = 1.65 → 751.725 → 751.73
    assert (negotiation["count"], negotiation["amount"], negotiation["weighted_amount"]) == (2, "1005.10", "751.73")
    assert len(proposal["cards"]) == 2 and proposal["next"]
    assert negotiation["next"] is None and columns["lead"]["cards"] == []

    # the next page of one column
    rest = client_for(rep).get(BOARD, {"stage": stage("proposal").pk, "after": proposal["next"], "page_size": 2})
    assert rest.status_code == 200
    seen = {card["id"] for card in proposal["cards"]} | {card["id"] for card in rest.json()["cards"]}
    assert len(seen) == 3 and rest.json()["next"] is None
    assert {card["amount"] for card in proposal["cards"] + rest.json()["cards"]} == {"100.00", "200.00", "300.00"}


def test_board_filters_and_bad_parameters(org, client_for):
    rep = org.east_rep
    OpportunityFactory(owner=rep, stage=stage("proposal"), expected_close_date="2026-04-01")
    OpportunityFactory(owner=rep, stage=stage("proposal"), expected_close_date="2026-07-01")
    client = client_for(rep)
    columns = client.get(BOARD, {"expected_close_after": "2026-06-01"}).json()["columns"]
    assert {c["stage"]["code"]: c["count"] for c in columns}["proposal"] == 1
    assert client.get(BOARD, {"page_size": 0}).status_code == 400
    assert client.get(BOARD, {"page_size": "x"}).status_code == 400
    assert client.get(BOARD, {"stage": "x"}).status_code == 400
    assert client.get(BOARD, {"stage": stage("proposal").pk, "after": "garbage"}).status_code == 200


def test_board_runs_a_fixed_number_of_queries(org, client_for):
    client = client_for(org.ceo)
    client.get(BOARD)  # warm-up (permissions, content types)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(BOARD).status_code == 200
        return len(captured)

    for code in ("lead", "proposal", "won"):
        for _ in range(3):
            OpportunityFactory(owner=org.east_rep, stage=stage(code))
    few = queries()
    for code in ("lead", "opportunity", "proposal", "negotiation", "won", "lost"):
        for index in range(25):
            OpportunityFactory(owner=[org.east_rep, org.north_other][index % 2], stage=stage(code))
    many = queries()
    # 5 for the token user, permissions and scope; group (2), stages, totals, cards
    assert few == many <= 10, (few, many)


def test_list_runs_a_fixed_number_of_queries(org, client_for):
    client = client_for(org.ceo)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(LIST)
        return len(captured), len(response.json()["results"])

    for index in range(20):
        OpportunityFactory(owner=[org.east_rep, org.north_other][index % 2])
    client.get(LIST)
    few = queries()
    for index in range(20):
        OpportunityFactory(owner=[org.east_rep, org.north_other][index % 2])
    many = queries()
    assert (few[1], many[1]) == (20, 40)
    assert few[0] == many[0]


def test_configuration_is_read_by_everyone_and_written_by_admins(org, client_for):
    from django.contrib.auth.models import Permission

    from staff.tests.factories import RoleFactory

    role = RoleFactory(name="销售", data_scope="self")
    role.permissions.set(
        Permission.objects.filter(content_type__app_label="opportunities", codename__startswith="view")
    )
    org.east_rep.roles.set([role])
    rep = client_for(org.east_rep)
    groups = rep.get(reverse("api:stage-group-list")).json()
    assert [s["name"] for s in groups[0]["stages"]][:4] == ["线索", "商机", "报价", "谈判"]
    assert set(groups[0]["stages"][0]) == {"id", "group", "code", "name", "probability", "order", "color", "kind"}
    assert rep.post(reverse("api:stage-list"), {"name": "x"}, format="json").status_code == 403
    assert rep.get(reverse("api:lost-reason-list")).status_code == 200

    admin = client_for(org.admin)
    group = admin.post(reverse("api:stage-group-list"), {"name": "大客户流程"}, format="json")
    assert group.status_code == 201, group.content
    created = admin.post(
        reverse("api:stage-list"),
        {"group": group.json()["id"], "code": "poc", "name": "试用", "probability": 40, "order": 10, "kind": "open"},
        format="json",
    )
    assert created.status_code == 201, created.content
    bad = admin.post(
        reverse("api:stage-list"),
        {"group": group.json()["id"], "code": "big", "name": "x", "probability": 140},
        format="json",
    )
    assert bad.status_code == 400
    OpportunityFactory(owner=org.east_rep, stage=stage("lead"))
    in_use = admin.delete(reverse("api:stage-detail", args=[stage("lead").pk]))
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "stage_in_use"
    assert admin.delete(reverse("api:stage-detail", args=[created.json()["id"]])).status_code == 204


@pytest.mark.parametrize("follow", [False, True])
def test_customer_transfer_takes_open_deals_and_tasks_when_asked(org, client_for, customer, follow):
    """The API's transfer passes its options to what follows a transfer (SPEC §2: open deals and
    tasks can follow); the list page's transfer form does the same (test_views)."""
    from activities.tests.factories import TaskFactory

    deal = OpportunityFactory(customer=customer, owner=org.east_rep, stage=stage("proposal"))
    won = OpportunityFactory(customer=customer, owner=org.east_rep, stage=stage("won"))
    task = TaskFactory(assignee=org.east_rep, customer=customer)
    response = client_for(org.east_lead).post(
        reverse("api:customer-transfer"),
        {"customers": [customer.pk], "to_owner": org.east_intern.pk, "reason": "离职交接"}
        | ({"opportunities": True, "tasks": True} if follow else {}),
        format="json",
    )
    assert response.status_code == 200, response.content
    deal.refresh_from_db()
    won.refresh_from_db()
    task.refresh_from_db()
    expected = org.east_intern if follow else org.east_rep
    assert (deal.owner, task.assignee) == (expected, expected)
    assert won.owner == org.east_rep  # a closed deal stays with who closed it


def test_a_transfer_takes_only_deals_and_tasks_in_the_transferrers_scope(org, client_for, customer):
    """A read-write team member elsewhere in the company keeps their own deal and task."""
    from activities.tests.factories import TaskFactory
    from customers import services as customer_services

    customer_services.customer_team_member_set(
        user=org.east_rep, customer=customer, member=org.north_other, access="write"
    )
    theirs = OpportunityFactory(customer=customer, owner=org.north_other, stage=stage("proposal"))
    their_task = TaskFactory(assignee=org.north_other, customer=customer)
    ours = OpportunityFactory(customer=customer, owner=org.east_rep, stage=stage("proposal"))
    response = client_for(org.east_lead).post(
        reverse("api:customer-transfer"),
        {
            "customers": [customer.pk],
            "to_owner": org.east_intern.pk,
            "reason": "调整",
            "opportunities": True,
            "tasks": True,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    for row in (theirs, their_task, ours):
        row.refresh_from_db()
    assert (theirs.owner, their_task.assignee, ours.owner) == (org.north_other, org.north_other, org.east_intern)
