"""The pages: 我的审批 (tabs, approve / reject in place via htmx, phone-friendly buttons), one
approval's page, the navbar badge, and the contract page's approval panel with its actions."""

from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals import selectors
from approvals.models import Decision, RequestStatus
from approvals.tests.factories import make_contract
from approvals.views import contract_approval_panel
from contracts.models import ContractStatus
from contracts.services.approval import contract_approve, contract_submit

HTMX = {"HX-Request": "true"}


def logged_in(client, user):
    client.force_login(user)
    return client


def text(response):
    return response.content.decode()


def submitted(owner, total="1000.00", **kwargs):
    contract = make_contract(owner, total, **kwargs)
    contract_submit(user=owner, contract=contract)
    return contract


def task_of(user, contract):
    request = selectors.latest_request(doc_type="contract", object_id=contract.pk)
    return request, request.tasks.get(approver=user)


# --- 我的审批 ------------------------------------------------------------------------------------


def test_the_inbox_shows_my_pending_approvals_with_buttons(aorg, client):
    mine = submitted(aorg.east_rep, "1234.50", title="华东大单")
    submitted(aorg.south_rep, title="华南小单")  # s1_director's

    response = logged_in(client, aorg.east_manager).get(reverse("approvals:inbox"))

    assert response.status_code == 200
    page = text(response)
    assert "华东大单" in page and "华南小单" not in page
    assert "¥1,234.50" in page
    request, task = task_of(aorg.east_manager, mine)
    assert f'hx-post="{reverse("approvals:approve", args=[request.pk])}"' in page
    assert f'hx-post="{reverse("approvals:reject", args=[request.pk])}"' in page
    assert 'name="viewport"' in page  # phone width: the layout's viewport, stacked rows


def test_the_done_tab_lists_my_decisions(aorg, client):
    contract = submitted(aorg.east_rep, title="已批合同")
    submitted(aorg.east_rep, title="待批合同")
    contract_approve(user=aorg.east_manager, contract=contract, comment="没问题")

    page = text(logged_in(client, aorg.east_manager).get(reverse("approvals:inbox"), {"tab": "done"}))

    assert "已批合同" in page and "待批合同" not in page
    assert "没问题" in page and "已同意" in page


def test_approving_in_place_with_htmx_answers_the_decided_row(aorg, client):
    contract = submitted(aorg.east_rep)
    request, task = task_of(aorg.east_manager, contract)

    response = logged_in(client, aorg.east_manager).post(
        reverse("approvals:approve", args=[request.pk]), {"task": task.pk, "comment": "好"}, headers=HTMX
    )

    assert response.status_code == 200
    page = text(response)
    assert f'id="approval-task-{task.pk}"' in page and "已同意" in page and "hx-post" not in page
    contract.refresh_from_db()
    assert contract.status == ContractStatus.APPROVED


def test_rejecting_without_a_comment_keeps_the_row_with_the_message(aorg, client):
    contract = submitted(aorg.east_rep)
    request, task = task_of(aorg.east_manager, contract)

    response = logged_in(client, aorg.east_manager).post(
        reverse("approvals:reject", args=[request.pk]), {"task": task.pk, "comment": ""}, headers=HTMX
    )

    assert response.status_code == 200
    assert "请填写拒绝理由" in text(response)
    task.refresh_from_db()
    assert task.decision == Decision.PENDING


def test_rejecting_with_a_comment_without_htmx_redirects(aorg, client):
    contract = submitted(aorg.east_rep)
    request, task = task_of(aorg.east_manager, contract)

    response = logged_in(client, aorg.east_manager).post(
        reverse("approvals:reject", args=[request.pk]), {"comment": "不行", "next": reverse("approvals:inbox")}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("approvals:inbox")
    contract.refresh_from_db()
    assert contract.status == ContractStatus.REJECTED


def test_someone_else_cannot_decide_from_the_pages(aorg, client):
    contract = submitted(aorg.east_rep)
    request, _ = task_of(aorg.east_manager, contract)
    logged_in(client, aorg.east_lead)
    assert client.post(reverse("approvals:approve", args=[request.pk])).status_code == 404
    assert client.get(reverse("approvals:detail", args=[request.pk])).status_code == 404
    # The submitter sees the page but may not approve their own.
    logged_in(client, aorg.east_rep)
    assert client.get(reverse("approvals:detail", args=[request.pk])).status_code == 200
    assert client.post(reverse("approvals:approve", args=[request.pk])).status_code == 404
    contract.refresh_from_db()
    assert contract.status == ContractStatus.PENDING


def test_the_inbox_page_query_count_does_not_grow_with_its_rows(aorg, client):
    logged_in(client, aorg.east_manager)
    for _ in range(2):
        submitted(aorg.east_rep)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("approvals:inbox"))
    for _ in range(23):
        submitted(aorg.east_rep)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("approvals:inbox"))
    assert text(response).count('class="list-group-item approval-row"') == 25
    assert len(many) == len(few)
    assert len(many) <= 6, [q["sql"] for q in many.captured_queries]


# --- one approval, the badge ------------------------------------------------------------------


def test_the_approval_page_shows_the_document_history_and_the_decision_form(aorg, client):
    contract = submitted(aorg.east_rep, "80000.00")
    contract_approve(user=aorg.east_manager, contract=contract, comment="部门同意")
    request = selectors.latest_request(doc_type="contract", object_id=contract.pk)

    page = text(logged_in(client, aorg.gm).get(reverse("approvals:detail", args=[request.pk])))

    assert contract.number in page and "部门同意" in page and "总经理审批" in page
    assert reverse("approvals:approve", args=[request.pk]) in page
    assert reverse("approvals:withdraw", args=[request.pk]) not in page


def test_the_submitter_withdraws_from_the_approval_page(aorg, client):
    contract = submitted(aorg.east_rep)
    request = selectors.latest_request(doc_type="contract", object_id=contract.pk)
    logged_in(client, aorg.east_rep)
    assert reverse("approvals:withdraw", args=[request.pk]) in text(
        client.get(reverse("approvals:detail", args=[request.pk]))
    )
    assert client.post(reverse("approvals:withdraw", args=[request.pk])).status_code == 302
    request.refresh_from_db()
    assert request.status == RequestStatus.WITHDRAWN


def test_the_badge_counts_my_pending_approvals(aorg, client):
    submitted(aorg.east_rep)
    submitted(aorg.east_intern)
    assert ">2</span>" in text(logged_in(client, aorg.east_manager).get(reverse("approvals:badge")))
    assert text(logged_in(client, aorg.east_rep).get(reverse("approvals:badge"))) == ""


def test_the_navbar_links_the_inbox_and_loads_the_badge_lazily(aorg, client):
    page = text(logged_in(client, aorg.east_rep).get(reverse("approvals:inbox")))
    assert 'id="nav-approvals"' in page and reverse("approvals:badge") in page


# --- the contract page's panel ----------------------------------------------------------------


def panel_html(user, contract):
    request = RequestFactory().get(f"/contracts/{contract.pk}/")
    request.user = user
    panel = contract_approval_panel(request, contract)
    if panel is None:
        return None, None
    return panel, render_to_string(panel["template"], {"panel": panel}, request=request)


def test_the_panel_offers_submit_on_a_draft(aorg):
    contract = make_contract(aorg.east_rep)
    panel, html = panel_html(aorg.east_rep, contract)
    assert panel["can_submit"] and not panel["can_withdraw"] and not panel["can_decide"]
    assert reverse("approvals:contract_submit", args=[contract.pk]) in html
    assert "尚未提交审批" in html


def test_the_panel_is_absent_when_there_is_nothing_to_show_or_do(aorg):
    contract = make_contract(aorg.east_rep, status=ContractStatus.VOID)
    assert panel_html(aorg.east_rep, contract) == (None, None)


def test_the_panel_shows_the_history_and_the_buttons_each_viewer_may_use(aorg):
    contract = submitted(aorg.east_rep, "70000.00")
    contract = contract_approve(user=aorg.east_manager, contract=contract, comment="部门同意")

    panel, html = panel_html(aorg.east_rep, contract)
    assert panel["can_withdraw"] and not panel["can_decide"] and not panel["can_submit"]
    assert "部门同意" in html and reverse("approvals:contract_withdraw", args=[contract.pk]) in html
    assert [person.username for person in panel["waiting"]] == ["gm"]

    panel, html = panel_html(aorg.gm, contract)
    assert panel["can_decide"] and not panel["can_withdraw"]
    assert reverse("approvals:contract_approve", args=[contract.pk]) in html
    assert reverse("approvals:contract_reject", args=[contract.pk]) in html

    panel, html = panel_html(aorg.east_lead, contract)  # sees the contract, takes no part
    assert not (panel["can_decide"] or panel["can_withdraw"] or panel["can_submit"])


def test_the_panel_actions(aorg, client):
    contract = make_contract(aorg.east_rep)
    back = f"/contracts/{contract.pk}/"
    logged_in(client, aorg.east_rep)
    response = client.post(
        reverse("approvals:contract_submit", args=[contract.pk]), {"version": contract.version, "next": back}
    )
    assert (response.status_code, response["Location"]) == (302, back)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.PENDING

    # Not theirs to approve: 404; the approver's approval goes through.
    assert client.post(reverse("approvals:contract_approve", args=[contract.pk])).status_code == 404
    logged_in(client, aorg.east_manager)
    assert client.post(reverse("approvals:contract_reject", args=[contract.pk]), {"comment": "改"}).status_code == 302
    contract.refresh_from_db()
    assert contract.status == ContractStatus.REJECTED

    # Someone outside the contract's scope cannot submit it.
    logged_in(client, aorg.north_rep)
    assert client.post(reverse("approvals:contract_submit", args=[contract.pk])).status_code == 404
