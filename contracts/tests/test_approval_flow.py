"""Submitting, approving, rejecting and withdrawing contracts; what each does to the contract, its
customer, and who is notified."""

import datetime
from decimal import Decimal

import pytest
from django.http import Http404
from django.utils import timezone

from approvals import selectors
from approvals.models import ApprovalLog, ApprovalRequest, LogAction, RequestStatus
from approvals.services import APPROVAL_PENDING, APPROVAL_PROGRESS, APPROVAL_RESULT, APPROVAL_WITHDRAWN
from approvals.tests.factories import make_contract, setup_approvers
from contracts.models import ContractStatus
from contracts.services.approval import contract_approve, contract_reject, contract_submit, contract_withdraw
from contracts.tests.factories import ContractFactory
from crm.errors import ConflictError, DomainError
from customers.models import DealStatus
from notifications.models import Notification


@pytest.fixture
def aorg(org):
    return setup_approvers(org)


def notified(kind, request=None):
    rows = Notification.objects.filter(kind=kind)
    if request is not None:
        rows = rows.filter(target_id=request.pk)
    return sorted(rows.values_list("recipient__username", flat=True))


# --- submit -----------------------------------------------------------------------------------


def test_submit_moves_the_contract_to_pending_and_starts_the_approval(aorg):
    contract = make_contract(aorg.east_rep, "1200.00")
    before = contract.version

    submitted = contract_submit(user=aorg.east_rep, contract=contract, version=before, comment="请审批")

    assert submitted.status == ContractStatus.PENDING
    assert submitted.submitted_at is not None
    assert submitted.version == before + 1
    request = selectors.open_request(doc_type="contract", object_id=contract.pk)
    assert (request.amount, request.owner, request.submitted_by) == (Decimal("1200.00"), aorg.east_rep, aorg.east_rep)
    assert request.department == aorg.departments["east"]
    submit_log = ApprovalLog.objects.get(request=request, action=LogAction.SUBMIT)
    assert (submit_log.actor, submit_log.comment) == (aorg.east_rep, "请审批")


@pytest.mark.parametrize("status", [ContractStatus.REJECTED, ContractStatus.WITHDRAWN])
def test_a_rejected_or_withdrawn_contract_may_be_submitted_again(aorg, status):
    contract = make_contract(aorg.east_rep, status=status)
    assert contract_submit(user=aorg.east_rep, contract=contract).status == ContractStatus.PENDING


def test_a_contract_without_lines_is_refused(aorg):
    contract = ContractFactory(owner=aorg.east_rep, total=Decimal("100.00"))
    with pytest.raises(DomainError) as raised:
        contract_submit(user=aorg.east_rep, contract=contract)
    assert raised.value.code == "no_lines"
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT
    assert not ApprovalRequest.objects.exists()


def test_a_contract_with_a_zero_total_is_refused(aorg):
    contract = make_contract(aorg.east_rep, "0.00")
    from contracts.tests.factories import ContractLineFactory

    ContractLineFactory(contract=contract, unit_price=Decimal("0"), subtotal=Decimal("0"))
    with pytest.raises(DomainError) as raised:
        contract_submit(user=aorg.east_rep, contract=contract)
    assert raised.value.code == "total_not_positive"
    assert not ApprovalRequest.objects.exists()


@pytest.mark.parametrize(
    "status", [ContractStatus.PENDING, ContractStatus.APPROVED, ContractStatus.ACTIVE, ContractStatus.VOID]
)
def test_only_drafts_rejected_and_withdrawn_contracts_are_submitted(aorg, status):
    contract = make_contract(aorg.east_rep, status=status)
    with pytest.raises(DomainError) as raised:
        contract_submit(user=aorg.east_rep, contract=contract)
    assert raised.value.code == "illegal_transition"
    assert not ApprovalRequest.objects.exists()


def test_a_stale_version_is_a_conflict(aorg):
    contract = make_contract(aorg.east_rep)
    with pytest.raises(ConflictError):
        contract_submit(user=aorg.east_rep, contract=contract, version=contract.version + 1)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT


# --- approve ----------------------------------------------------------------------------------


def test_final_approval_approves_the_contract_and_marks_the_customer_dealt_on_the_signed_date(aorg):
    signed = datetime.date(2026, 3, 15)
    contract = make_contract(aorg.east_rep, "2000.00", signed_date=signed)
    contract_submit(user=aorg.east_rep, contract=contract)

    approved = contract_approve(user=aorg.east_manager, contract=contract, comment="好")

    assert approved.status == ContractStatus.APPROVED
    assert approved.approved_at is not None
    customer = approved.customer
    customer.refresh_from_db()
    assert customer.deal_status == DealStatus.WON
    assert timezone.localtime(customer.deal_at).date() == signed


def test_without_a_signed_date_the_deal_date_is_today(aorg):
    contract = make_contract(aorg.east_rep, "2000.00", signed_date=None, start_date=None, end_date=None)
    contract_submit(user=aorg.east_rep, contract=contract)
    contract_approve(user=aorg.east_manager, contract=contract)
    contract.customer.refresh_from_db()
    assert timezone.localtime(contract.customer.deal_at).date() == timezone.localdate()


def test_a_first_step_approval_of_a_large_contract_does_not_approve_it_yet(aorg):
    contract = make_contract(aorg.east_rep, "60000.00")
    contract_submit(user=aorg.east_rep, contract=contract)

    after_leader = contract_approve(user=aorg.east_manager, contract=contract)

    assert after_leader.status == ContractStatus.PENDING
    after_leader.customer.refresh_from_db()
    assert after_leader.customer.deal_status != DealStatus.WON
    assert contract_approve(user=aorg.gm, contract=contract).status == ContractStatus.APPROVED


def test_only_a_current_approver_may_approve(aorg):
    contract = make_contract(aorg.east_rep, "60000.00")
    contract_submit(user=aorg.east_rep, contract=contract)

    for user in (aorg.east_rep, aorg.gm, aorg.ceo, aorg.east_lead):  # gm: step 2, not yet
        with pytest.raises(Http404):
            contract_approve(user=user, contract=contract)
        with pytest.raises(Http404):
            contract_reject(user=user, contract=contract, comment="不行")
    contract.refresh_from_db()
    assert contract.status == ContractStatus.PENDING
    # A contract that is not under approval answers the same.
    with pytest.raises(Http404):
        contract_approve(user=aorg.east_manager, contract=make_contract(aorg.east_rep))


def test_an_approver_cannot_approve_twice(aorg):
    contract = make_contract(aorg.east_rep, "60000.00")
    contract_submit(user=aorg.east_rep, contract=contract)
    contract_approve(user=aorg.east_manager, contract=contract)
    with pytest.raises(Http404):
        contract_approve(user=aorg.east_manager, contract=contract)


# --- reject and withdraw ----------------------------------------------------------------------


def test_rejecting_at_any_step_rejects_the_contract(aorg):
    contract = make_contract(aorg.east_rep, "60000.00")
    contract_submit(user=aorg.east_rep, contract=contract)
    contract_approve(user=aorg.east_manager, contract=contract)

    rejected = contract_reject(user=aorg.gm, contract=contract, comment="价格太低")

    assert rejected.status == ContractStatus.REJECTED
    request = selectors.latest_request(doc_type="contract", object_id=contract.pk)
    assert request.status == RequestStatus.REJECTED
    log = ApprovalLog.objects.get(request=request, action=LogAction.REJECT)
    assert (log.actor, log.comment, log.step) == (aorg.gm, "价格太低", 2)


@pytest.mark.parametrize("comment", ["", "   "])
def test_a_rejection_needs_a_comment(aorg, comment):
    contract = make_contract(aorg.east_rep)
    contract_submit(user=aorg.east_rep, contract=contract)
    with pytest.raises(DomainError) as raised:
        contract_reject(user=aorg.east_manager, contract=contract, comment=comment)
    assert raised.value.code == "comment_required"
    contract.refresh_from_db()
    assert contract.status == ContractStatus.PENDING


def test_the_submitter_withdraws(aorg):
    contract = make_contract(aorg.east_rep)
    contract_submit(user=aorg.east_rep, contract=contract)

    withdrawn = contract_withdraw(user=aorg.east_rep, contract=contract, comment="再改改")

    assert withdrawn.status == ContractStatus.WITHDRAWN
    request = selectors.latest_request(doc_type="contract", object_id=contract.pk)
    assert request.status == RequestStatus.WITHDRAWN
    assert selectors.approval_inbox(user=aorg.east_manager).count() == 0
    with pytest.raises(Http404):
        contract_approve(user=aorg.east_manager, contract=contract)


def test_the_owner_withdraws_what_someone_else_submitted(aorg):
    contract = make_contract(aorg.east_rep)
    contract_submit(user=aorg.east_lead, contract=contract)
    assert contract_withdraw(user=aorg.east_rep, contract=contract).status == ContractStatus.WITHDRAWN


def test_nobody_else_withdraws(aorg):
    contract = make_contract(aorg.east_rep)
    contract_submit(user=aorg.east_rep, contract=contract)
    for user in (aorg.east_manager, aorg.east_lead, aorg.ceo):
        with pytest.raises(DomainError) as raised:
            contract_withdraw(user=user, contract=contract)
        assert raised.value.status == 403
    contract.refresh_from_db()
    assert contract.status == ContractStatus.PENDING


def test_withdrawing_a_contract_not_under_approval_is_refused(aorg):
    contract = make_contract(aorg.east_rep)
    with pytest.raises(DomainError) as raised:
        contract_withdraw(user=aorg.east_rep, contract=contract)
    assert raised.value.code == "not_under_approval"


def test_resubmitting_after_a_rejection_starts_a_new_approval_and_notifies_again(aorg):
    contract = make_contract(aorg.east_rep)
    contract_submit(user=aorg.east_rep, contract=contract)
    contract_reject(user=aorg.east_manager, contract=contract, comment="补充附件")
    contract_submit(user=aorg.east_rep, contract=contract)

    requests = list(ApprovalRequest.objects.filter(object_id=contract.pk).order_by("id"))
    assert [r.status for r in requests] == [RequestStatus.REJECTED, RequestStatus.PENDING]
    assert notified(APPROVAL_PENDING) == ["east_manager", "east_manager"]
    # The whole history of the document, both rounds.
    history = list(selectors.document_history(doc_type="contract", object_id=contract.pk))
    assert [[log.action for log in r.logs.all()] for r in history] == [["submit"], ["submit", "reject"]]


# --- notifications ----------------------------------------------------------------------------


def test_each_step_and_the_submitter_are_notified(aorg):
    contract = make_contract(aorg.east_intern, "70000.00")
    contract_submit(user=aorg.east_lead, contract=contract)  # submitted by a colleague of the owner
    request = selectors.open_request(doc_type="contract", object_id=contract.pk)
    assert notified(APPROVAL_PENDING, request) == ["east_manager"]

    contract_approve(user=aorg.east_manager, contract=contract)
    assert notified(APPROVAL_PENDING, request) == ["east_manager", "gm"]
    assert notified(APPROVAL_PROGRESS, request) == ["east_intern", "east_lead"]

    contract_approve(user=aorg.gm, contract=contract)
    assert notified(APPROVAL_RESULT, request) == ["east_intern", "east_lead"]
    pending = Notification.objects.get(kind=APPROVAL_PENDING, recipient=aorg.gm)
    assert pending.link == f"/approvals/{request.pk}/"
    assert contract.number in pending.title


def test_a_rejection_notifies_the_submitter_with_the_comment(aorg):
    contract = make_contract(aorg.east_rep)
    contract_submit(user=aorg.east_rep, contract=contract)
    contract_reject(user=aorg.east_manager, contract=contract, comment="金额有误")
    result = Notification.objects.get(kind=APPROVAL_RESULT)
    assert result.recipient == aorg.east_rep
    assert "金额有误" in result.body


def test_a_withdrawal_notifies_the_waiting_approvers(aorg):
    contract = make_contract(aorg.east_rep)
    contract_submit(user=aorg.east_rep, contract=contract)
    contract_withdraw(user=aorg.east_rep, contract=contract)
    assert notified(APPROVAL_WITHDRAWN) == ["east_manager"]
