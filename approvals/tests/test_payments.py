"""Payments through approval (prepared: the payment module's confirmation is wired at merge).
No default chain: a payment goes through approval only when an admin configures a payment chain."""

from decimal import Decimal

import pytest

from approvals import selectors, services
from approvals.models import ApprovalTask, Decision, RequestStatus, StepKind
from approvals.tests.factories import make_chain
from contracts.models import ContractStatus, PaymentStatus
from contracts.services.approval import payment_approval_start
from contracts.tests.factories import ContractFactory, PaymentFactory
from crm.errors import DomainError


def payment_of(owner, amount="1000.00"):
    contract = ContractFactory(owner=owner, status=ContractStatus.APPROVED, total=Decimal("100000.00"))
    return PaymentFactory(contract=contract, amount=Decimal(amount), entered_by=owner)


def test_without_a_payment_chain_nothing_goes_to_approval(aorg):
    payment = payment_of(aorg.east_rep)
    assert payment_approval_start(user=aorg.east_rep, payment=payment) is False
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.UNCONFIRMED
    assert selectors.open_request(doc_type="payment", object_id=payment.pk) is None


def test_a_payment_chain_routes_by_department_and_amount(aorg):
    make_chain(
        "payment",
        departments=[aorg.departments["s1"]],
        min_amount=Decimal("5000.00"),
        steps=[{"kind": StepKind.USERS, "users": [aorg.north_other]}],
    )
    small = payment_of(aorg.east_rep, "5000.00")
    other_department = payment_of(aorg.north_rep, "9000.00")
    large = payment_of(aorg.east_rep, "5000.01")

    assert payment_approval_start(user=aorg.east_rep, payment=small) is False
    assert payment_approval_start(user=aorg.north_rep, payment=other_department) is False
    assert payment_approval_start(user=aorg.east_rep, payment=large) is True

    large.refresh_from_db()
    assert large.status == PaymentStatus.PENDING
    request = selectors.open_request(doc_type="payment", object_id=large.pk)
    assert request.amount == Decimal("5000.01")
    assert list(ApprovalTask.objects.filter(request=request).values_list("approver__username", flat=True)) == [
        "north_other"
    ]


def test_a_contract_chain_does_not_apply_to_payments(aorg):
    # The default chains are for contracts only.
    assert payment_approval_start(user=aorg.east_rep, payment=payment_of(aorg.east_rep, "100.00")) is False


@pytest.fixture
def payment_chain(aorg):
    return make_chain("payment", steps=[{"kind": StepKind.LEADER}])


def test_a_rejected_payment_is_rejected(aorg, payment_chain):
    payment = payment_of(aorg.east_rep)
    payment_approval_start(user=aorg.east_rep, payment=payment)
    request = selectors.open_request(doc_type="payment", object_id=payment.pk)

    services.approval_reject(user=aorg.east_manager, request=request, comment="金额不符")

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REJECTED
    request.refresh_from_db()
    assert request.status == RequestStatus.REJECTED


def test_a_withdrawn_payment_is_unconfirmed_again(aorg, payment_chain):
    payment = payment_of(aorg.east_rep)
    payment_approval_start(user=aorg.east_rep, payment=payment)
    request = selectors.open_request(doc_type="payment", object_id=payment.pk)

    services.approval_withdraw(user=aorg.east_rep, request=request)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.UNCONFIRMED
    assert ApprovalTask.objects.get(request=request).decision == Decision.CANCELLED


def test_only_an_unconfirmed_payment_goes_to_approval(aorg, payment_chain):
    payment = payment_of(aorg.east_rep)
    payment.status = PaymentStatus.CONFIRMED
    payment.save(update_fields=["status"])
    with pytest.raises(DomainError):
        payment_approval_start(user=aorg.east_rep, payment=payment)
    assert selectors.open_request(doc_type="payment", object_id=payment.pk) is None


def test_a_payment_recorded_under_a_payment_chain_is_confirmed_by_its_approval(aorg, payment_chain):
    """Wired end to end: payment_create hands the new payment to the chain (PAYMENT_CREATED_HOOKS),
    and the last approval confirms it through the payment service — the contract's paid figure
    moves only then."""
    from django.utils import timezone

    from contracts.services.payments import payment_create

    contract = ContractFactory(owner=aorg.east_rep, status=ContractStatus.APPROVED, total=Decimal("3000.00"))
    payment = payment_create(
        user=aorg.east_rep, contract=contract, amount=Decimal("1200.50"), date=timezone.localdate(), method="wire"
    )
    payment.refresh_from_db()
    contract.refresh_from_db()
    assert (payment.status, contract.paid_amount) == (PaymentStatus.PENDING, Decimal("0"))

    request = selectors.open_request(doc_type="payment", object_id=payment.pk)
    services.approval_approve(user=aorg.east_manager, request=request)  # the department's leader

    payment.refresh_from_db()
    contract.refresh_from_db()
    assert (payment.status, payment.confirmed_by) == (PaymentStatus.CONFIRMED, aorg.east_manager)
    assert contract.paid_amount == Decimal("1200.50")


def test_without_a_chain_a_recorded_payment_waits_for_a_confirmer(aorg):
    from django.utils import timezone

    from contracts.services.payments import payment_create

    contract = ContractFactory(owner=aorg.east_rep, status=ContractStatus.APPROVED, total=Decimal("3000.00"))
    payment = payment_create(
        user=aorg.east_rep, contract=contract, amount=Decimal("100.00"), date=timezone.localdate(), method="cash"
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.UNCONFIRMED
    assert selectors.open_request(doc_type="payment", object_id=payment.pk) is None
