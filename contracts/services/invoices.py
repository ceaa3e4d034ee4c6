"""Writes on invoice titles (开票信息) and invoices (发票).

- A customer's titles: at most one default (the first title becomes it; making another the default
  takes it from the old one). 纳税人识别号 of 18 characters must be a valid 统一社会信用代码 (GB
  32100 check digit, python-stdnum); the older 15/17/20-character numbers are letters and digits.
- An application copies the title's details, so editing the title later never rewrites it. The
  invoices of a contract (applied or issued, not void) never add up to more than its total.
- Issuing records the number and date and adds the amount to ``Contract.invoiced_amount`` in the
  same transaction; voiding an issued invoice takes it off again.
"""

import datetime
import re

from django.db import transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts.models import (
    SALES_STATUSES,
    Contract,
    ContractStatus,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    InvoiceTitle,
)
from contracts.services.payments import parse_money, yuan
from crm.errors import ConflictError, DomainError
from crm.validators import CREDIT_CODE_MESSAGE, normalize_credit_code

TITLE_FIELDS = ("title", "tax_number", "bank", "account", "address", "phone")
TITLE_LIMITS = {"title": 200, "tax_number": 20, "bank": 100, "account": 50, "address": 200, "phone": 30}
# Taxpayer numbers from before the 统一社会信用代码 (2015): 15, 17 or 20 letters and digits.
_OLD_TAX_NUMBER = re.compile(r"^[0-9A-Z]{15}$|^[0-9A-Z]{17}$|^[0-9A-Z]{20}$")


class InvoiceErrorCode:
    OVER_TOTAL = "invoice_over_total"
    NOT_SALES = "contract_not_approved"
    WRONG_STATUS = "invoice_wrong_status"
    TITLE_MISMATCH = "title_not_of_customer"
    DUPLICATE_NUMBER = "duplicate_invoice_number"


def normalize_tax_number(value):
    """The 纳税人识别号 as stored (upper case, no spaces), "" for blank; a 400 when it is not one:
    18 characters must be a valid 统一社会信用代码, other lengths 15/17/20 letters and digits."""
    text = re.sub(r"[\s-]", "", str(value or "")).upper()
    if not text:
        return ""
    if len(text) == 18:
        code = normalize_credit_code(text)
        if code is None:
            raise DomainError(CREDIT_CODE_MESSAGE, fields={"tax_number": [CREDIT_CODE_MESSAGE]})
        return code
    if not _OLD_TAX_NUMBER.match(text):
        message = _("纳税人识别号应为 18 位统一社会信用代码（或 15、17、20 位的旧税号）。")
        raise DomainError(message, fields={"tax_number": [message]})
    return text


def _clean_title_data(data, *, partial):
    cleaned, errors = {}, {}
    for name in TITLE_FIELDS:
        if name not in data:
            continue
        value = str(data[name] or "").strip()
        if len(value) > TITLE_LIMITS[name]:
            errors[name] = [_("最多 %(max)s 个字符。") % {"max": TITLE_LIMITS[name]}]
        cleaned[name] = value
    if not partial and not cleaned.get("title"):
        errors["title"] = [_("请填写发票抬头。")]
    if partial and "title" in cleaned and not cleaned["title"]:
        errors["title"] = [_("请填写发票抬头。")]
    if errors:
        raise DomainError(_("开票信息有误，请检查后重试。"), fields=errors)
    if "tax_number" in cleaned:
        cleaned["tax_number"] = normalize_tax_number(cleaned["tax_number"])
    if "is_default" in data:
        cleaned["is_default"] = bool(data["is_default"])
    return cleaned


def _take_default(customer_id, keep_pk=None):
    others = InvoiceTitle.objects.filter(customer_id=customer_id, is_default=True)
    if keep_pk is not None:
        others = others.exclude(pk=keep_pk)
    others.update(is_default=False, updated_at=timezone.now())


def _lock_customer_titles(customer_id):
    # Serialises default changes per customer (the partial unique constraint backs it).
    list(InvoiceTitle.objects.select_for_update().filter(customer_id=customer_id).values_list("pk", flat=True))


@transaction.atomic
def invoice_title_create(*, user, customer, data):
    """A new invoice title for ``customer`` (the caller fetched it through the user's scope). The
    customer's first title is its default; ``is_default`` makes it the default."""
    cleaned = _clean_title_data(data, partial=False)
    _lock_customer_titles(customer.pk)
    first = not InvoiceTitle.objects.filter(customer=customer).exists()
    is_default = cleaned.pop("is_default", False) or first
    if is_default:
        _take_default(customer.pk)
    return InvoiceTitle.objects.create(customer=customer, is_default=is_default, **cleaned)


@transaction.atomic
def invoice_title_update(*, user, invoice_title, data):
    """Change a title's details (never its customer). Setting ``is_default`` takes the default
    from the customer's other title; the default cannot be unset (make another the default)."""
    cleaned = _clean_title_data(data, partial=True)
    _lock_customer_titles(invoice_title.customer_id)
    current = InvoiceTitle.objects.get(pk=invoice_title.pk)
    if "is_default" in cleaned:
        if cleaned["is_default"]:
            _take_default(current.customer_id, keep_pk=current.pk)
        elif current.is_default:
            raise DomainError(
                _("请将其他开票信息设为默认，而不是取消默认。"), fields={"is_default": [_("不能取消默认。")]}
            )
    for name, value in cleaned.items():
        setattr(current, name, value)
    current.save(update_fields=[*cleaned, "updated_at"])
    return current


@transaction.atomic
def invoice_title_delete(*, user, invoice_title):
    """Delete a title; invoices keep the details they copied. Deleting the default makes the
    customer's oldest remaining title the default."""
    _lock_customer_titles(invoice_title.customer_id)
    was_default = InvoiceTitle.objects.filter(pk=invoice_title.pk, is_default=True).exists()
    customer_id = invoice_title.customer_id
    InvoiceTitle.objects.filter(pk=invoice_title.pk).delete()
    if was_default:
        successor = InvoiceTitle.objects.filter(customer_id=customer_id).order_by("id").first()
        if successor is not None:
            InvoiceTitle.objects.filter(pk=successor.pk).update(is_default=True, updated_at=timezone.now())


def _lock_contract(contract_id):
    return Contract.objects.select_for_update().get(pk=contract_id)


def _invoiced_or_applied(contract_id, exclude_pk=None):
    invoices = Invoice.objects.filter(contract_id=contract_id, status__in=(InvoiceStatus.APPLIED, InvoiceStatus.ISSUED))
    if exclude_pk is not None:
        invoices = invoices.exclude(pk=exclude_pk)
    return invoices.aggregate(total=Coalesce(Sum("amount"), Value(0), output_field=Invoice._meta.get_field("amount")))[
        "total"
    ]


@transaction.atomic
def invoice_apply(*, user, contract, amount, invoice_title, kind=InvoiceKind.NORMAL, remark=""):
    """Apply for an invoice on ``contract`` (approved or later, not void) with ``invoice_title``
    (one of the contract customer's titles), copying its details. Refused when the contract's
    applied and issued invoices would exceed its total (the message shows what is left)."""
    amount = parse_money(amount)
    if kind not in InvoiceKind.values:
        raise DomainError(_("发票类型无效。"), fields={"kind": [_("发票类型无效。")]})
    remark = (remark or "").strip()
    if len(remark) > 200:
        raise DomainError(_("备注最多 200 个字符。"), fields={"remark": [_("备注最多 200 个字符。")]})
    locked = _lock_contract(contract.pk)
    if locked.status not in SALES_STATUSES:
        raise DomainError(
            _("合同当前状态为“%(status)s”，只有审批通过后（且未作废）的合同才能申请开票。")
            % {"status": ContractStatus(locked.status).label},
            code=InvoiceErrorCode.NOT_SALES,
        )
    if invoice_title.customer_id != locked.customer_id:
        message = _("开票信息不属于该合同的客户。")
        raise DomainError(message, code=InvoiceErrorCode.TITLE_MISMATCH, fields={"invoice_title": [message]})
    left = locked.total - _invoiced_or_applied(locked.pk)
    if amount > left:
        message = _("开票金额 %(amount)s 元超过合同可开票金额 %(left)s 元（合同金额减已开票及申请中的发票）。") % {
            "amount": yuan(amount),
            "left": yuan(max(left, 0)),
        }
        raise DomainError(
            message, code=InvoiceErrorCode.OVER_TOTAL, fields={"amount": [message]}, extra={"available": str(left)}
        )
    return Invoice.objects.create(
        contract=locked,
        invoice_title=invoice_title,
        **{name: getattr(invoice_title, name) for name in TITLE_FIELDS},
        kind=kind,
        amount=amount,
        remark=remark,
        applied_by=user,
    )


def _wrong_status(invoice, action):
    return ConflictError(
        _("发票当前状态为“%(status)s”，不能%(action)s。")
        % {"status": InvoiceStatus(invoice.status).label, "action": action},
        code=InvoiceErrorCode.WRONG_STATUS,
    )


@transaction.atomic
def invoice_issue(*, user, invoice, number, issued_date):
    """Record an applied invoice as issued (发票号码, 开票日期) and add it to the contract's
    invoiced amount. A number already on another live invoice is a 409."""
    number = str(number or "").strip()
    if not number or len(number) > 40:
        raise DomainError(_("请填写发票号码（最多 40 个字符）。"), fields={"number": [_("请填写发票号码。")]})
    if not isinstance(issued_date, datetime.date):
        raise DomainError(_("请填写开票日期。"), fields={"issued_date": [_("请填写有效的开票日期。")]})
    locked = _lock_contract(invoice.contract_id)
    current = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if current.status != InvoiceStatus.APPLIED:
        raise _wrong_status(current, _("开票"))
    if Invoice.objects.filter(number=number).exclude(status=InvoiceStatus.VOID).exclude(pk=current.pk).exists():
        raise ConflictError(
            _("发票号码 %(number)s 已登记。") % {"number": number}, code=InvoiceErrorCode.DUPLICATE_NUMBER
        )
    if locked.invoiced_amount + current.amount > locked.total:
        raise DomainError(_("开票后已开票金额将超过合同金额。"), code=InvoiceErrorCode.OVER_TOTAL)
    current.status = InvoiceStatus.ISSUED
    current.number = number
    current.issued_date = issued_date
    current.save(update_fields=["status", "number", "issued_date", "updated_at"])
    Contract.objects.filter(pk=locked.pk).update(
        invoiced_amount=F("invoiced_amount") + current.amount, updated_at=timezone.now()
    )
    return current


@transaction.atomic
def invoice_ship(*, user, invoice, tracking_number):
    """Record the courier tracking number (快递单号) of an issued invoice (may be corrected)."""
    tracking_number = str(tracking_number or "").strip()
    if not tracking_number or len(tracking_number) > 50:
        raise DomainError(_("请填写快递单号（最多 50 个字符）。"), fields={"tracking_number": [_("请填写快递单号。")]})
    current = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if current.status != InvoiceStatus.ISSUED:
        raise _wrong_status(current, _("登记快递"))
    current.tracking_number = tracking_number
    current.save(update_fields=["tracking_number", "updated_at"])
    return current


@transaction.atomic
def invoice_void(*, user, invoice):
    """Void an application or an issued invoice (红冲); an issued one comes off the contract's
    invoiced amount in the same transaction."""
    locked = _lock_contract(invoice.contract_id)
    current = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if current.status == InvoiceStatus.VOID:
        raise _wrong_status(current, _("作废"))
    was_issued = current.status == InvoiceStatus.ISSUED
    current.status = InvoiceStatus.VOID
    current.save(update_fields=["status", "updated_at"])
    if was_issued:
        Contract.objects.filter(pk=locked.pk).update(
            invoiced_amount=F("invoiced_amount") - current.amount, updated_at=timezone.now()
        )
    return current


def invoice_titles_merge(*, user, survivor, other):
    """MERGE_MOVERS entry (customers.services): the other customer's invoice titles move to the
    survivor; the survivor's default stays the default (the other's is kept only when the survivor
    had none). Returns how many titles moved."""
    _lock_customer_titles(survivor.pk)
    _lock_customer_titles(other.pk)
    now = timezone.now()
    if InvoiceTitle.objects.filter(customer=survivor, is_default=True).exists():
        InvoiceTitle.objects.filter(customer=other, is_default=True).update(is_default=False, updated_at=now)
    return InvoiceTitle.objects.filter(customer=other).update(customer=survivor, updated_at=now)
