"""Writes on payment plans (回款计划) and payments (回款).

Rules, in one place:

- A contract's plan is replaced as a whole (``payment_plan_set``); its instalments add up to the
  contract total exactly, to the fen. An instalment with confirmed payments cannot be removed or
  lowered below what is paid on it.
- A payment is recorded only against a contract that counts as a sale (approved or later, not
  void: ``SALES_STATUSES``). It starts ``unconfirmed``; only confirmed payments count towards
  ``Contract.paid_amount`` / ``PaymentPlan.paid_amount`` and every receivable figure.
- **Overpayment.** A new payment may not exceed what is still open on the contract:
  ``total − confirmed − (unconfirmed + pending payments)`` — the payments waiting for confirmation
  or approval hold their amount, so two unconfirmed payments can never together pay more than the
  total. Linked to an instalment, it may not exceed that instalment's open amount either (computed
  the same way), so an instalment is never paid above its amount. Creation locks the contract row,
  so two concurrent entries see each other.
- Confirmation (``payment_confirm`` → ``payment_apply_confirmed``) locks the contract row and
  re-checks against the locked figures, so two confirmations racing cannot overpay either (and the
  database's ``contract_paid_within_total`` constraint backs it).

Contract and instalment figures change only here, in the same transaction as the payment's status.
"""

import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Case, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts.models import (
    MONEY,
    SALES_STATUSES,
    Contract,
    ContractStatus,
    Payment,
    PaymentMethod,
    PaymentPlan,
    PaymentStatus,
    PlanStatus,
)
from crm.errors import ConflictError, DomainError

CONFIRM_PERMISSION = "contracts.confirm_payment"
CENT = Decimal("0.01")
MAX_INSTALMENTS = 120  # 10 years of monthly instalments
MAX_REMINDER_DAYS = 365
# Payments holding part of the contract's open amount until they are confirmed, rejected or voided.
OPEN_PAYMENT_STATUSES = (PaymentStatus.UNCONFIRMED, PaymentStatus.PENDING)

# Called as hook(user=, payment=) right after a new payment is inserted, inside the creating
# transaction. The approvals app registers ``contracts.services.approval.payment_approval_start``
# here (at merge, from its AppConfig.ready()): when an admin configured a payment approval chain it
# moves the payment to ``pending`` and starts the chain; without one the payment stays
# ``unconfirmed`` for someone holding ``contracts.confirm_payment``.
PAYMENT_CREATED_HOOKS = []


class PaymentErrorCode:
    NOT_SALES = "contract_not_approved"
    OVERPAYMENT = "overpayment"
    PLAN_SUM = "plan_sum_mismatch"
    PLAN_PAID = "plan_instalment_paid"
    PLAN_MISMATCH = "plan_not_of_contract"
    NOT_CONFIRMABLE = "payment_not_confirmable"
    PERMISSION = "permission_denied"
    INVALID_AMOUNT = "invalid_amount"


# --- helpers ------------------------------------------------------------------------------------


def yuan(value):
    """``value`` formatted as yuan with thousands separators and two decimals: 12,345.60."""
    return f"{Decimal(value):,.2f}"


def parse_money(value, *, field="amount", positive=True):
    """``value`` as a Decimal with at most two decimals (to the fen), else a 400 naming ``field``.
    Never rounds silently: 0.005 is refused rather than turned into 0.01."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        amount = None
    if amount is None or not amount.is_finite():
        raise DomainError(
            _("请输入有效的金额。"), code=PaymentErrorCode.INVALID_AMOUNT, fields={field: [_("金额无效。")]}
        )
    if amount != amount.quantize(CENT):
        message = _("金额最多保留两位小数（精确到分）。")
        raise DomainError(message, code=PaymentErrorCode.INVALID_AMOUNT, fields={field: [message]})
    limit = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"])
    if abs(amount) >= limit:
        message = _("金额过大。")
        raise DomainError(message, code=PaymentErrorCode.INVALID_AMOUNT, fields={field: [message]})
    if positive and amount <= 0:
        message = _("金额必须大于 0。")
        raise DomainError(message, code=PaymentErrorCode.INVALID_AMOUNT, fields={field: [message]})
    if not positive and amount < 0:
        message = _("金额不能为负数。")
        raise DomainError(message, code=PaymentErrorCode.INVALID_AMOUNT, fields={field: [message]})
    return amount.quantize(CENT)


def _today():
    return timezone.localdate()


def _require_permission(user, permission=CONFIRM_PERMISSION):
    if not user.has_perm(permission):
        raise DomainError(_("您没有确认回款的权限。"), code=PaymentErrorCode.PERMISSION, status=403)


def _require_visible(user, payment):
    """The same 404 for a payment that is missing and one outside the user's scope."""
    if not Payment.objects.visible_to(user).filter(pk=payment.pk).exists():
        raise Http404


def _lock_contract(contract_id):
    return Contract.objects.select_for_update().get(pk=contract_id)


def _require_sales_contract(contract):
    if contract.status not in SALES_STATUSES:
        raise DomainError(
            _("合同当前状态为“%(status)s”，只有审批通过后（且未作废）的合同才能登记回款。")
            % {"status": ContractStatus(contract.status).label},
            code=PaymentErrorCode.NOT_SALES,
        )


def plan_status_case(today):
    """The status an instalment of a non-void contract should have on ``today``, as one SQL
    expression over its own columns — the single rule the payment services and the nightly task
    share: paid in full → 回款完成; else past its due date → 逾期; else partly paid → 部分回款;
    else 待回款."""
    return Case(
        When(Q(paid_amount__gte=F("amount")), then=Value(PlanStatus.PAID)),
        When(Q(due_date__lt=today), then=Value(PlanStatus.OVERDUE)),
        When(Q(paid_amount__gt=0), then=Value(PlanStatus.PARTIAL)),
        default=Value(PlanStatus.PENDING),
    )


def plans_refresh_statuses(*, plans, today=None):
    """Bring the statuses of ``plans`` (a PaymentPlan queryset) up to date on ``today``: void for
    a void contract, else ``plan_status_case``. Two set-based UPDATEs, only rows that change.
    Returns the number of rows changed."""
    today = today or _today()
    voided = plans.filter(contract__status=ContractStatus.VOID).exclude(status=PlanStatus.VOID)
    changed = voided.update(status=PlanStatus.VOID, updated_at=timezone.now())
    live = plans.exclude(contract__status=ContractStatus.VOID).alias(target=plan_status_case(today))
    changed += live.exclude(status=F("target")).update(status=plan_status_case(today), updated_at=timezone.now())
    return changed


def _open_payments_sum(*, contract_id, plan_id=None, exclude_id=None):
    payments = Payment.objects.filter(contract_id=contract_id, status__in=OPEN_PAYMENT_STATUSES)
    if plan_id is not None:
        payments = payments.filter(plan_id=plan_id)
    if exclude_id is not None:
        payments = payments.exclude(pk=exclude_id)
    return payments.aggregate(total=Coalesce(Sum("amount"), Value(Decimal(0))))["total"]


# --- payment plan -------------------------------------------------------------------------------


def _clean_instalments(instalments):
    """Validated copies of the submitted instalments (number?, due_date, amount, reminder_days,
    remark), or a 400 naming every bad one (``instalments[i].field``)."""
    if not isinstance(instalments, list | tuple):
        raise DomainError(_("请提供回款计划分期列表。"), fields={"instalments": [_("应为列表。")]})
    if len(instalments) > MAX_INSTALMENTS:
        raise DomainError(
            _("回款计划最多 %(max)s 期。") % {"max": MAX_INSTALMENTS},
            fields={"instalments": [_("分期过多。")]},
        )
    cleaned, errors = [], {}
    for index, raw in enumerate(instalments):
        prefix = f"instalments[{index}]"
        if not isinstance(raw, dict):
            errors[prefix] = [_("每一期应为对象。")]
            continue
        item = {"index": index}
        number = raw.get("number")
        if number in (None, ""):
            item["number"] = None
        else:
            try:
                item["number"] = int(number)
            except (TypeError, ValueError):
                errors[f"{prefix}.number"] = [_("期次应为整数。")]
        due_date = raw.get("due_date")
        if isinstance(due_date, datetime.datetime):
            due_date = due_date.date()
        if isinstance(due_date, str):
            try:
                due_date = datetime.date.fromisoformat(due_date.strip())
            except ValueError:
                due_date = None
        if not isinstance(due_date, datetime.date):
            errors[f"{prefix}.due_date"] = [_("请填写有效的计划回款日期（YYYY-MM-DD）。")]
        item["due_date"] = due_date
        try:
            item["amount"] = parse_money(raw.get("amount"), field=f"{prefix}.amount")
        except DomainError as error:
            errors.update(error.fields)
        reminder_days = raw.get("reminder_days")
        if reminder_days in (None, ""):
            item["reminder_days"] = 3
        else:
            try:
                item["reminder_days"] = int(reminder_days)
            except (TypeError, ValueError):
                item["reminder_days"] = -1
            if not 0 <= item["reminder_days"] <= MAX_REMINDER_DAYS:
                errors[f"{prefix}.reminder_days"] = [
                    _("提前提醒天数应为 0 到 %(max)s 之间的整数。") % {"max": MAX_REMINDER_DAYS}
                ]
        remark = raw.get("remark") or ""
        if not isinstance(remark, str) or len(remark) > 200:
            errors[f"{prefix}.remark"] = [_("备注最多 200 个字符。")]
        item["remark"] = remark.strip() if isinstance(remark, str) else ""
        cleaned.append(item)
    if errors:
        raise DomainError(_("回款计划有误，请检查后重试。"), fields=errors)
    numbers = [item["number"] for item in cleaned if item["number"] is not None]
    if len(numbers) != len(set(numbers)):
        raise DomainError(_("回款计划中的期次重复。"), fields={"instalments": [_("期次重复。")]})
    return cleaned


@transaction.atomic
def payment_plan_set(*, user, contract, instalments):
    """Replace the payment plan of ``contract`` as a whole and return its instalments.

    ``instalments``: [{number?, due_date, amount, reminder_days?, remark?}]. An item with a
    ``number`` updates the current instalment of that number (keeping its payments); one without
    is new; current instalments not named are removed. The instalments are renumbered 1..n in
    due-date order (ties keep the submitted order). Their amounts must add up to the contract total
    exactly, to the fen (a 400 names the difference); an instalment with confirmed payments cannot
    be removed nor lowered below what is paid on it, nor can one with payments awaiting
    confirmation be removed. An empty list clears the plan of a contract without payments
    against instalments. A void contract's plan cannot be changed."""
    locked = _lock_contract(contract.pk)
    if locked.status == ContractStatus.VOID:
        raise DomainError(_("合同已作废，不能修改回款计划。"), code="contract_void")
    cleaned = _clean_instalments(instalments)
    current = {plan.number: plan for plan in PaymentPlan.objects.select_for_update().filter(contract=locked)}

    unknown = [item["number"] for item in cleaned if item["number"] is not None and item["number"] not in current]
    if unknown:
        raise DomainError(
            _("第 %(numbers)s 期不存在；新增的分期请不要填写期次。") % {"numbers": "、".join(map(str, unknown))},
            fields={"instalments": [_("期次不存在。")]},
        )
    if cleaned:
        total = sum((item["amount"] for item in cleaned), Decimal(0))
        if total != locked.total:
            difference = total - locked.total
            if difference > 0:
                template = _("各期金额合计 %(sum)s 元，比合同金额 %(total)s 元多 %(diff)s 元，请调整。")
            else:
                template = _("各期金额合计 %(sum)s 元，比合同金额 %(total)s 元少 %(diff)s 元，请调整。")
            message = template % {"sum": yuan(total), "total": yuan(locked.total), "diff": yuan(abs(difference))}
            raise DomainError(
                message,
                code=PaymentErrorCode.PLAN_SUM,
                fields={"instalments": [message]},
                extra={"difference": str(difference), "contract_total": str(locked.total), "sum": str(total)},
            )

    kept = {item["number"] for item in cleaned if item["number"] is not None}
    removed = [plan for number, plan in current.items() if number not in kept]
    open_by_plan = dict(
        Payment.objects.filter(plan__in=removed, status__in=OPEN_PAYMENT_STATUSES)
        .values_list("plan_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    errors = []
    for plan in removed:
        if plan.paid_amount > 0:
            errors.append(
                _("第 %(number)s 期已回款 %(paid)s 元，不能删除。")
                % {"number": plan.number, "paid": yuan(plan.paid_amount)}
            )
        elif plan.pk in open_by_plan:
            errors.append(_("第 %(number)s 期有待确认的回款，不能删除。") % {"number": plan.number})
    for item in cleaned:
        plan = current.get(item["number"])
        if plan is not None and item["amount"] < plan.paid_amount:
            errors.append(
                _("第 %(number)s 期已回款 %(paid)s 元，金额不能低于已回款金额。")
                % {"number": plan.number, "paid": yuan(plan.paid_amount)}
            )
    if errors:
        raise DomainError(
            " ".join(str(e) for e in errors), code=PaymentErrorCode.PLAN_PAID, fields={"instalments": errors}
        )

    PaymentPlan.objects.filter(pk__in=[plan.pk for plan in removed]).delete()
    # Renumbering in place would collide on (contract, number): park the kept rows out of range first.
    PaymentPlan.objects.filter(contract=locked).update(number=F("number") + 20000)
    ordered = sorted(cleaned, key=lambda item: (item["due_date"], item["index"]))
    now = timezone.now()
    new_rows = []
    for number, item in enumerate(ordered, start=1):
        values = {
            "number": number,
            "due_date": item["due_date"],
            "amount": item["amount"],
            "reminder_days": item["reminder_days"],
            "remark": item["remark"],
        }
        plan = current.get(item["number"])
        if plan is None:
            new_rows.append(PaymentPlan(contract=locked, **values))
            continue
        for name, value in values.items():
            setattr(plan, name, value)
        plan.updated_at = now
        plan.save(update_fields=[*values, "updated_at"])
    PaymentPlan.objects.bulk_create(new_rows)
    plans = PaymentPlan.objects.filter(contract=locked)
    plans_refresh_statuses(plans=plans)
    return list(plans.order_by("number"))


# --- payments -----------------------------------------------------------------------------------


@transaction.atomic
def payment_create(*, user, contract, amount, date, method, plan=None, remark=""):
    """Record a payment received against ``contract`` (status 待确认, entered by ``user``).

    Refused with a 400: a contract not approved-or-later or void; an amount not above 0 or with
    more than two decimals; an unknown method; an instalment of another contract; an amount above
    what is open on the contract (total − confirmed − payments awaiting confirmation or approval;
    the message shows the open amount) or on the linked instalment."""
    amount = parse_money(amount)
    if method not in PaymentMethod.values:
        raise DomainError(_("回款方式无效。"), fields={"method": [_("回款方式无效。")]})
    if not isinstance(date, datetime.date):
        raise DomainError(_("请填写回款日期。"), fields={"date": [_("请填写有效的回款日期。")]})
    remark = (remark or "").strip()
    if len(remark) > 200:
        raise DomainError(_("备注最多 200 个字符。"), fields={"remark": [_("备注最多 200 个字符。")]})
    locked = _lock_contract(contract.pk)
    _require_sales_contract(locked)
    if plan is not None and plan.contract_id != locked.pk:
        raise DomainError(
            _("所选回款计划不属于该合同。"),
            code=PaymentErrorCode.PLAN_MISMATCH,
            fields={"plan": [_("回款计划不属于该合同。")]},
        )
    open_amount = locked.total - locked.paid_amount - _open_payments_sum(contract_id=locked.pk)
    if amount > open_amount:
        message = _("回款金额 %(amount)s 元超过合同未回款金额 %(open)s 元（合同金额减已确认及待确认的回款）。") % {
            "amount": yuan(amount),
            "open": yuan(max(open_amount, Decimal(0))),
        }
        raise DomainError(
            message,
            code=PaymentErrorCode.OVERPAYMENT,
            fields={"amount": [message]},
            extra={"outstanding": str(max(open_amount, Decimal(0)))},
        )
    if plan is not None:
        plan = PaymentPlan.objects.select_for_update().get(pk=plan.pk)
        plan_open = plan.amount - plan.paid_amount - _open_payments_sum(contract_id=locked.pk, plan_id=plan.pk)
        if amount > plan_open:
            message = _("回款金额 %(amount)s 元超过第 %(number)s 期未回款金额 %(open)s 元。") % {
                "amount": yuan(amount),
                "number": plan.number,
                "open": yuan(max(plan_open, Decimal(0))),
            }
            raise DomainError(
                message,
                code=PaymentErrorCode.OVERPAYMENT,
                fields={"amount": [message]},
                extra={"outstanding": str(max(plan_open, Decimal(0)))},
            )
    payment = Payment.objects.create(
        contract=locked,
        plan=plan,
        amount=amount,
        date=date,
        method=method,
        remark=remark,
        status=PaymentStatus.UNCONFIRMED,
        entered_by=user,
    )
    for hook in PAYMENT_CREATED_HOOKS:  # the approvals app: payment_approval_start(user=, payment=)
        hook(user=user, payment=payment)
    return payment


@transaction.atomic
def payment_apply_confirmed(*, payment, confirmed_by):
    """Confirm ``payment`` and add it to its contract's and instalment's paid figures, in one
    transaction. Locks the contract row first (then the payment and the instalment), re-reads the
    payment's status and re-checks it against the locked contract, so two confirmations racing
    cannot overpay nor confirm the same payment twice. Permission and scope are the caller's (the
    confirm service; the approval chain's last step). Returns the payment."""
    locked = _lock_contract(payment.contract_id)
    current = Payment.objects.select_for_update().get(pk=payment.pk)
    if current.status not in OPEN_PAYMENT_STATUSES:
        raise ConflictError(
            _("该回款当前状态为“%(status)s”，不能确认。") % {"status": PaymentStatus(current.status).label},
            code=PaymentErrorCode.NOT_CONFIRMABLE,
        )
    _require_sales_contract(locked)
    outstanding = locked.total - locked.paid_amount
    if current.amount > outstanding:
        message = _("确认后回款将超过合同金额：合同未回款金额为 %(open)s 元，本笔 %(amount)s 元。") % {
            "open": yuan(outstanding),
            "amount": yuan(current.amount),
        }
        raise DomainError(message, code=PaymentErrorCode.OVERPAYMENT, extra={"outstanding": str(outstanding)})
    plan = None
    if current.plan_id is not None:
        plan = PaymentPlan.objects.select_for_update().get(pk=current.plan_id)
        if current.amount > plan.amount - plan.paid_amount:
            message = _("确认后第 %(number)s 期回款将超过该期金额：该期未回款金额为 %(open)s 元。") % {
                "number": plan.number,
                "open": yuan(plan.amount - plan.paid_amount),
            }
            raise DomainError(message, code=PaymentErrorCode.OVERPAYMENT)
    now = timezone.now()
    current.status = PaymentStatus.CONFIRMED
    current.confirmed_by = confirmed_by
    current.confirmed_at = now
    current.save(update_fields=["status", "confirmed_by", "confirmed_at", "updated_at"])
    Contract.objects.filter(pk=locked.pk).update(paid_amount=F("paid_amount") + current.amount, updated_at=now)
    if plan is not None:
        PaymentPlan.objects.filter(pk=plan.pk).update(paid_amount=F("paid_amount") + current.amount, updated_at=now)
        plans_refresh_statuses(plans=PaymentPlan.objects.filter(pk=plan.pk))
    return current


def payment_confirm(*, user, payment):
    """Confirm an unconfirmed payment: needs ``contracts.confirm_payment`` (a role carries it) and
    the payment in the user's scope (404 otherwise). A payment in an approval chain (待审批) is
    confirmed by the chain, not here."""
    _require_permission(user)
    _require_visible(user, payment)
    if payment.status == PaymentStatus.PENDING:
        raise ConflictError(_("该回款正在审批中，请通过审批流程处理。"), code=PaymentErrorCode.NOT_CONFIRMABLE)
    return payment_apply_confirmed(payment=payment, confirmed_by=user)


@transaction.atomic
def payment_reject(*, user, payment, remark=""):
    """Refuse an unconfirmed payment (wrong amount, never arrived): it no longer holds part of the
    contract's open amount. Same permission and scope as confirming."""
    _require_permission(user)
    _require_visible(user, payment)
    _lock_contract(payment.contract_id)
    current = Payment.objects.select_for_update().get(pk=payment.pk)
    if current.status != PaymentStatus.UNCONFIRMED:
        raise ConflictError(
            _("该回款当前状态为“%(status)s”，不能拒绝。") % {"status": PaymentStatus(current.status).label},
            code=PaymentErrorCode.NOT_CONFIRMABLE,
        )
    current.status = PaymentStatus.REJECTED
    fields = ["status", "updated_at"]
    if remark:
        current.remark = (f"{current.remark} {remark}".strip())[:200]
        fields.append("remark")
    current.save(update_fields=fields)
    return current


@transaction.atomic
def payment_void(*, user, payment):
    """Void a payment (录错了). A confirmed one is taken off its contract's and instalment's paid
    figures again, in the same transaction. Same permission and scope as confirming; a voided or
    rejected payment stays as it is (409)."""
    _require_permission(user)
    _require_visible(user, payment)
    locked = _lock_contract(payment.contract_id)
    current = Payment.objects.select_for_update().get(pk=payment.pk)
    if current.status in (PaymentStatus.VOID, PaymentStatus.REJECTED):
        raise ConflictError(
            _("该回款当前状态为“%(status)s”，不能作废。") % {"status": PaymentStatus(current.status).label},
            code=PaymentErrorCode.NOT_CONFIRMABLE,
        )
    was_confirmed = current.status == PaymentStatus.CONFIRMED
    now = timezone.now()
    current.status = PaymentStatus.VOID
    current.save(update_fields=["status", "updated_at"])
    if was_confirmed:
        Contract.objects.filter(pk=locked.pk).update(paid_amount=F("paid_amount") - current.amount, updated_at=now)
        if current.plan_id is not None:
            plans = PaymentPlan.objects.filter(pk=current.plan_id)
            plans.update(paid_amount=F("paid_amount") - current.amount, updated_at=now)
            plans_refresh_statuses(plans=plans)
    return current
