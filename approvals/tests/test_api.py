"""我的审批 and the contract approval actions over the API — including the scope rules they must
not break: only a current approver approves (404 for everyone else, like a missing id), and an
approver outside the owner's data scope still can."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals import selectors
from approvals.models import Decision, RequestStatus, StepKind
from approvals.tests.factories import make_chain, make_contract
from contracts.models import ContractStatus
from contracts.services.approval import contract_approve, contract_submit
from staff.tests.factories import RoleFactory


def url(name, pk=None):
    return reverse(f"api:{name}", args=[pk] if pk is not None else [])


def submitted(owner, total="1000.00", by=None):
    contract = make_contract(owner, total)
    contract_submit(user=by or owner, contract=contract)
    return contract


def request_of(contract):
    return selectors.latest_request(doc_type="contract", object_id=contract.pk)


# --- 我的审批 ------------------------------------------------------------------------------------


def test_my_approvals_lists_exactly_my_pending_tasks(aorg, client_for):
    mine = [submitted(aorg.east_rep), submitted(aorg.east_intern, "60000.00"), submitted(aorg.east_lead)]
    decided = submitted(aorg.east_rep)
    contract_approve(user=aorg.east_manager, contract=decided, comment="ok")
    submitted(aorg.south_rep)  # s1_director's
    submitted(aorg.east_manager)  # their own: goes up to s1_director

    response = client_for(aorg.east_manager).get(url("approval-list"))

    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert sorted(row["object_id"] for row in rows) == sorted(c.pk for c in mine)
    row = next(row for row in rows if row["object_id"] == mine[1].pk)
    assert row["doc_type"] == "contract"
    assert row["title"] == f"{mine[1].number} {mine[1].title}"
    assert row["amount"] == "60000.00"
    assert row["submitter"] == {"id": aorg.east_intern.pk, "name": aorg.east_intern.get_full_name()}
    assert row["submitted_at"]
    assert row["link"] == f"/approvals/{row['id']}/"
    assert row["document_link"] == f"/contracts/{mine[1].pk}/"
    assert row["step_name"] == "部门负责人审批"
    assert row["decision"] == Decision.PENDING


def test_my_past_decisions(aorg, client_for):
    approved = submitted(aorg.east_rep)
    contract_approve(user=aorg.east_manager, contract=approved, comment="同意")
    submitted(aorg.east_rep)  # still pending

    rows = client_for(aorg.east_manager).get(url("approval-list"), {"status": "done"}).json()["results"]

    assert [(row["object_id"], row["decision"], row["comment"]) for row in rows] == [
        (approved.pk, Decision.APPROVED, "同意")
    ]
    assert rows[0]["status"] == RequestStatus.APPROVED


def test_an_unknown_status_filter_is_a_400(aorg, client_for):
    response = client_for(aorg.east_manager).get(url("approval-list"), {"status": "all"})
    assert response.status_code == 400
    assert "status" in response.json()["error"]["fields"]


def test_the_inbox_query_count_does_not_grow_with_its_rows(aorg, client_for):
    client = client_for(aorg.east_manager)
    for _ in range(3):
        submitted(aorg.east_rep)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url("approval-list")).status_code == 200
    for _ in range(22):
        submitted(aorg.east_rep)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url("approval-list"))
    assert len(response.json()["results"]) == 25
    assert len(many) == len(few)
    assert len(many) <= 4, [q["sql"] for q in many.captured_queries]


# --- one approval -----------------------------------------------------------------------------


def test_an_approval_shows_the_document_and_its_history(aorg, client_for):
    contract = submitted(aorg.east_rep, "60000.00")
    contract_approve(user=aorg.east_manager, contract=contract, comment="可以")
    approval = request_of(contract)

    response = client_for(aorg.gm).get(url("approval-detail", approval.pk))

    assert response.status_code == 200, response.content
    body = response.json()
    assert [(log["action"], log["actor"]["id"] if log["actor"] else None) for log in body["history"]] == [
        ("submit", aorg.east_rep.pk),
        ("approve", aorg.east_manager.pk),
    ]
    assert body["history"][1]["comment"] == "可以"
    assert body["current_step"] == 2
    assert body["current_step_name"] == "总经理审批"
    assert body["can"] == {"approve": True, "reject": True, "withdraw": False}
    assert {"label": "合同编号", "value": contract.number} in body["document"]["fields"]
    assert body["document"]["lines"][0]["subtotal"] == "60000.00"


@pytest.mark.parametrize("username", ["north_other", "east_lead", "gm"])
def test_an_approval_is_a_404_for_those_not_taking_part(aorg, client_for, username):
    # gm is not asked yet (step 1 of 1: a small contract); east_lead sees the contract by scope
    # (their subordinate's) but takes no part in its approval.
    approval = request_of(submitted(aorg.east_rep))
    client = client_for(aorg.users[username])
    hidden = client.get(url("approval-detail", approval.pk))
    missing = client.get(url("approval-detail", approval.pk + 1000))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


def test_generic_approve_reject_and_withdraw(aorg, client_for):
    first = request_of(submitted(aorg.east_rep))
    second = request_of(submitted(aorg.east_rep))
    third = request_of(submitted(aorg.east_rep))
    approver = client_for(aorg.east_manager)

    assert approver.post(url("approval-approve", first.pk), {"comment": "好"}).json()["status"] == "approved"
    assert approver.post(url("approval-reject", second.pk), {}).status_code == 400
    assert approver.post(url("approval-reject", second.pk), {"comment": "不行"}).json()["status"] == "rejected"
    assert approver.post(url("approval-withdraw", third.pk), {}).status_code == 403
    assert client_for(aorg.east_rep).post(url("approval-withdraw", third.pk), {}).json()["status"] == "withdrawn"
    # Someone taking no part: 404 whatever the action.
    outsider = client_for(aorg.north_other)
    for name in ("approval-approve", "approval-reject", "approval-withdraw"):
        assert outsider.post(url(name, third.pk), {"comment": "x"}).status_code == 404


# --- contract actions -------------------------------------------------------------------------


def test_submit_through_the_api(aorg, client_for):
    contract = make_contract(aorg.east_rep, "3000.00")

    response = client_for(aorg.east_rep).post(
        url("contract-submit", contract.pk), {"comment": "请审批", "version": contract.version}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["version"]) == ("pending", contract.version + 1)
    assert body["approval"]["status"] == "pending"
    assert body["approval"]["history"][0]["comment"] == "请审批"


def test_submit_is_a_404_outside_scope_and_a_403_without_the_change_permission(aorg, client_for):
    contract = make_contract(aorg.east_rep)
    assert client_for(aorg.north_rep).post(url("contract-submit", contract.pk), {}).status_code == 404
    assert client_for(aorg.east_rep).post(url("contract-submit", contract.pk + 1000), {}).status_code == 404

    reader = RoleFactory(name="只读", data_scope="department")
    reader.permissions.set(Permission.objects.filter(codename="view_contract"))
    aorg.east_manager.roles.set([reader])
    response = client_for(aorg.east_manager).post(url("contract-submit", contract.pk), {})
    assert response.status_code == 403
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT


def test_submit_refusals_are_clear_400s(aorg, client_for):
    from contracts.tests.factories import ContractFactory

    empty = ContractFactory(owner=aorg.east_rep)
    response = client_for(aorg.east_rep).post(url("contract-submit", empty.pk), {})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_lines"
    assert response.json()["error"]["message"]

    stale = make_contract(aorg.east_rep)
    response = client_for(aorg.east_rep).post(url("contract-submit", stale.pk), {"version": stale.version + 5})
    assert response.status_code == 409


def test_a_non_approver_cannot_approve_or_reject_and_gets_the_missing_answer(aorg, client_for):
    contract = submitted(aorg.east_rep)
    for username in ("east_rep", "east_lead", "ceo", "gm", "north_other"):
        client = client_for(aorg.users[username])
        for name in ("contract-approve", "contract-reject"):
            refused = client.post(url(name, contract.pk), {"comment": "x"})
            missing = client.post(url(name, contract.pk + 1000), {"comment": "x"})
            assert refused.status_code == missing.status_code == 404, (username, name)
            assert refused.json() == missing.json()
    contract.refresh_from_db()
    assert contract.status == ContractStatus.PENDING


def test_an_approver_outside_the_owners_data_scope_approves(aorg, client_for):
    # gm's scope is "self": they cannot see east_rep's contract, yet approve its second step.
    contract = submitted(aorg.east_rep, "90000.00")
    contract_approve(user=aorg.east_manager, contract=contract)
    client = client_for(aorg.gm)
    assert client.get(url("contract-approval-history", contract.pk)).status_code == 404  # scope holds

    response = client.post(url("contract-approve", contract.pk), {"comment": "同意", "version": contract.version + 1})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"
    contract.refresh_from_db()
    assert contract.status == ContractStatus.APPROVED


def test_an_approver_outside_scope_rejects(aorg, client_for):
    make_chain(steps=[{"kind": StepKind.USERS, "users": [aorg.north_other]}], priority=1)
    contract = submitted(aorg.east_rep)
    response = client_for(aorg.north_other).post(url("contract-reject", contract.pk), {"comment": "信息不全"})
    assert response.status_code == 200, response.content
    contract.refresh_from_db()
    assert contract.status == ContractStatus.REJECTED


def test_reject_without_a_comment_is_a_400_and_changes_nothing(aorg, client_for):
    contract = submitted(aorg.east_rep)
    response = client_for(aorg.east_manager).post(url("contract-reject", contract.pk), {"comment": ""})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "comment_required"
    assert "comment" in response.json()["error"]["fields"]
    contract.refresh_from_db()
    assert contract.status == ContractStatus.PENDING


def test_withdraw_through_the_api(aorg, client_for):
    contract = submitted(aorg.east_rep)
    # east_lead sees the contract (a subordinate's) but neither submitted nor owns it.
    assert client_for(aorg.east_lead).post(url("contract-withdraw", contract.pk), {}).status_code == 403
    assert client_for(aorg.north_other).post(url("contract-withdraw", contract.pk), {}).status_code == 404

    response = client_for(aorg.east_rep).post(url("contract-withdraw", contract.pk), {"comment": "改价格"})

    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"


def test_the_contracts_approval_history_follows_its_scope(aorg, client_for):
    contract = submitted(aorg.east_rep)
    contract_approve(user=aorg.east_manager, contract=contract)

    response = client_for(aorg.east_lead).get(url("contract-approval-history", contract.pk))

    assert response.status_code == 200
    [approval] = response.json()
    assert [log["action"] for log in approval["history"]] == ["submit", "approve"]
    assert approval["tasks"][0]["approver"]["id"] == aorg.east_manager.pk
    assert client_for(aorg.south_rep).get(url("contract-approval-history", contract.pk)).status_code == 404


def test_the_amount_is_money_to_the_fen(aorg, client_for):
    submitted(aorg.east_rep, "49999.99")
    [row] = client_for(aorg.east_manager).get(url("approval-list")).json()["results"]
    assert Decimal(row["amount"]) == Decimal("49999.99")
