"""Contracts and payments through the approval chains (审批流): the user-facing submit / approve /
reject / withdraw of a contract, the callbacks that move the contract when its approval ends, and
the payment approval (used when an admin configures a payment chain).

Who may do what:

- submit: anyone who can edit the contract — it is in their data scope and they hold
  ``contracts.change_contract``; the contract is a draft, rejected or withdrawn, has at least one
  line and a positive total;
- approve / reject: only an approver of the current step (found through their own approval task,
  not the contract's scope: an approver may be outside the owner's data scope);
- withdraw: the submitter or the owner, while pending.

On final approval the contract becomes 通过 (``approved_at`` set) and its customer 已成交 with the
deal date = the contract's signed date (today when it has none)."""

import datetime

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals import registry, selectors, services
from approvals.models import DocType
from contracts.models import EDITABLE_STATUSES, Contract, ContractStatus, Payment, PaymentStatus
from contracts.services.status import contract_transition
from crm.errors import ConflictError, DomainError


class ContractApprovalErrorCode:
    NO_LINES = "no_lines"
    NOT_POSITIVE = "total_not_positive"
    NOT_UNDER_APPROVAL = "not_under_approval"


def contract_link(contract_id):
    try:
        return reverse("contracts:detail", args=[contract_id])
    except NoReverseMatch:  # the contract pages are another module's; their path is fixed
        return f"/contracts/{contract_id}/"


def _check_version(contract, version):
    if version is not None and str(version) != "" and int(version) != contract.version:
        raise ConflictError(_("合同已被他人修改，请刷新后重试。"), code="version_conflict")


# --- contracts ----------------------------------------------------------------------------------


@transaction.atomic
def contract_submit(*, user, contract, version=None, comment=""):
    """Submit a draft (or rejected / withdrawn) contract for approval: status 审核中, submitted_at
    now, an approval request through the matching chain. The caller fetched ``contract`` through
    the user's scope and checked ``contracts.change_contract``. Returns the contract."""
    locked = Contract.objects.select_for_update().get(pk=contract.pk)
    _check_version(locked, version)
    if locked.status in EDITABLE_STATUSES:
        if not locked.lines.exists():
            raise DomainError(_("合同至少需要一条明细才能提交审批。"), code=ContractApprovalErrorCode.NO_LINES)
        if locked.total <= 0:
            raise DomainError(_("合同金额必须大于 0 才能提交审批。"), code=ContractApprovalErrorCode.NOT_POSITIVE)
    # Illegal from here (pending, approved, …): the status machine's clear 400.
    moved = contract_transition(contract=locked, to=ContractStatus.PENDING, submitted_at=timezone.now())
    services.approval_start(
        user=user,
        doc_type=DocType.CONTRACT,
        document=moved,
        amount=moved.total,
        department=moved.department,
        owner=moved.owner,
        title=f"{moved.number} {moved.title}",
        link=contract_link(moved.pk),
        comment=comment,
    )
    return moved


def _open_request(contract):
    request = selectors.open_request(doc_type=DocType.CONTRACT, object_id=contract.pk)
    if request is None:
        raise DomainError(_("合同不在审批中。"), code=ContractApprovalErrorCode.NOT_UNDER_APPROVAL)
    return request


@transaction.atomic
def contract_approve(*, user, contract, comment="", version=None):
    """Approve the contract's current step as one of its approvers — 404 for anyone else and for
    a contract not under approval, whatever the user's data scope (an approver may be outside
    the owner's). ``contract`` may come from outside the user's scope. Returns the contract."""
    request = selectors.open_request_for_approver(user=user, doc_type=DocType.CONTRACT, object_id=contract.pk)
    _check_version(contract, version)
    services.approval_approve(user=user, request=request, comment=comment)
    return Contract.objects.get(pk=contract.pk)


@transaction.atomic
def contract_reject(*, user, contract, comment, version=None):
    """Reject the contract as an approver of its current step (comment required; 404 for anyone
    else). The contract becomes 拒绝 and may be edited and submitted again."""
    request = selectors.open_request_for_approver(user=user, doc_type=DocType.CONTRACT, object_id=contract.pk)
    _check_version(contract, version)
    services.approval_reject(user=user, request=request, comment=comment)
    return Contract.objects.get(pk=contract.pk)


@transaction.atomic
def contract_withdraw(*, user, contract, comment="", version=None):
    """Withdraw the contract's pending approval (the submitter or the owner; the caller fetched
    the contract through the user's scope). The contract becomes 撤回."""
    _check_version(contract, version)
    services.approval_withdraw(user=user, request=_open_request(contract), comment=comment)
    return Contract.objects.get(pk=contract.pk)


def _deal_at(contract):
    day = contract.signed_date or timezone.localdate()
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _contract_approved(contract, actor):
    from customers.services import customer_dealt

    approved = contract_transition(contract=contract, to=ContractStatus.APPROVED, approved_at=timezone.now())
    customer_dealt(customer_id=approved.customer_id, at=_deal_at(approved))


def _contract_rejected(contract, actor, comment):
    contract_transition(contract=contract, to=ContractStatus.REJECTED)


def _contract_withdrawn(contract, actor):
    contract_transition(contract=contract, to=ContractStatus.WITHDRAWN)


def _load_contract(object_id):
    return Contract.objects.select_related("customer").filter(pk=object_id).first()


def _describe_contract(contract):
    """What an approver sees of the contract (they may be outside its scope): the essentials and
    the lines — not the customer's contacts."""
    lines = [
        {
            "product": str(line.product),
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount_rate": line.discount_rate,
            "subtotal": line.subtotal,
        }
        for line in contract.lines.select_related("product").order_by("order", "id")
    ]
    return {
        "rows": [
            (_("合同编号"), contract.number),
            (_("合同名称"), contract.title),
            (_("客户"), contract.customer.name),
            (_("合同金额（元）"), contract.total),
            (_("签约日期"), contract.signed_date),
            (_("开始日期"), contract.start_date),
            (_("结束日期"), contract.end_date),
            (_("状态"), contract.get_status_display()),
        ],
        "lines": lines,
    }


# --- payments -----------------------------------------------------------------------------------


def payment_approval_start(*, user, payment):
    """Send a payment through approval when an active payment chain matches its contract's
    department and the payment's amount: the payment becomes 审核中 and True is returned. False
    (nothing written) when no payment chain matches — the payment is then confirmed by a holder
    of ``contracts.confirm_payment``."""
    contract = payment.contract
    chain = selectors.approval_chain_for(
        doc_type=DocType.PAYMENT, department=contract.department, amount=payment.amount
    )
    if chain is None:
        return False
    with transaction.atomic():
        updated = Payment.objects.filter(pk=payment.pk, status=PaymentStatus.UNCONFIRMED).update(
            status=PaymentStatus.PENDING, updated_at=timezone.now()
        )
        if not updated:
            raise DomainError(_("只有待确认的回款可以提交审批。"), code="payment_not_unconfirmed")
        payment.status = PaymentStatus.PENDING
        services.approval_start(
            user=user,
            doc_type=DocType.PAYMENT,
            document=payment,
            amount=payment.amount,
            department=contract.department,
            owner=contract.owner,
            title=_("回款 %(amount)s 元 · %(number)s") % {"amount": payment.amount, "number": contract.number},
            link=contract_link(contract.pk),
        )
    return True


def _payment_approved(payment, actor):
    from contracts.services.payments import payment_apply_confirmed  # the payments module's

    payment_apply_confirmed(payment=payment, confirmed_by=actor)


def _payment_rejected(payment, actor, comment):
    Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
        status=PaymentStatus.REJECTED, updated_at=timezone.now()
    )


def _payment_withdrawn(payment, actor):
    Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
        status=PaymentStatus.UNCONFIRMED, updated_at=timezone.now()
    )


def _load_payment(object_id):
    return Payment.objects.select_related("contract__customer").filter(pk=object_id).first()


def _describe_payment(payment):
    return {
        "rows": [
            (_("合同编号"), payment.contract.number),
            (_("客户"), payment.contract.customer.name),
            (_("合同金额（元）"), payment.contract.total),
            (_("回款金额（元）"), payment.amount),
            (_("回款日期"), payment.date),
            (_("回款方式"), payment.get_method_display()),
        ],
        "lines": [],
    }


def register_document_types():
    registry.register(
        registry.DocumentType(
            key=DocType.CONTRACT,
            load=_load_contract,
            on_approved=_contract_approved,
            on_rejected=_contract_rejected,
            on_withdrawn=_contract_withdrawn,
            describe=_describe_contract,
        )
    )
    registry.register(
        registry.DocumentType(
            key=DocType.PAYMENT,
            load=_load_payment,
            on_approved=_payment_approved,
            on_rejected=_payment_rejected,
            on_withdrawn=_payment_withdrawn,
            describe=_describe_payment,
        )
    )
