"""Writes on products and contracts (everything but approvals and payments). Every caller — API,
web pages, renewals, drafts from deals, demo data — comes here. Each status change goes through
``contracts.services.status.contract_transition``.

Money: a line's subtotal is quantity × unit price × (1 − discount rate), rounded to the fen half
up; the contract's total is the sum of its lines' subtotals. Both are computed here, never taken
from the client."""

import calendar
import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditAction
from audit.services import audit_record
from contracts.forms import HEADER_FIELDS, MAX_LINES, MAX_MONEY, ContractForm, ContractLineForm, ProductForm
from contracts.models import (
    EDITABLE_STATUSES,
    Contract,
    ContractLine,
    ContractSequence,
    ContractStatus,
    Product,
)
from contracts.services.status import ContractErrorCode, can_transition, contract_transition, illegal_transition_error
from crm.errors import ConflictError, DomainError

CENT = Decimal("0.01")
S = ContractStatus
# Giving a contract to someone else (owner ≠ the creator, or ≠ its current owner) needs the same
# permission as giving a customer away.
TRANSFER_PERMISSION = "customers.transfer_customer"
# A renewal drafts the next contract of one that was signed: approved or later, not void and not
# terminated early.
RENEWABLE_STATUSES = (S.APPROVED, S.ACTIVE, S.COMPLETED, S.EXPIRED)


class FormValidationError(DomainError):
    """Invalid input (400, errors per field; ``lines`` holds one dict of errors per line) carrying
    the bound forms for the pages."""

    def __init__(self, form, line_errors=None):
        fields = {name: list(messages) for name, messages in form.errors.items()} if form is not None else {}
        if line_errors:
            fields["lines"] = line_errors
        super().__init__(_("提交的数据有误，请检查后重试。"), code="invalid", fields=fields)
        self.form = form
        self.line_errors = line_errors or []


def line_subtotal(quantity, unit_price, discount_rate):
    """quantity × unit price × (1 − discount rate), to the fen, half up (Decimal throughout)."""
    exact = Decimal(quantity) * Decimal(unit_price) * (Decimal(1) - Decimal(discount_rate))
    return exact.quantize(CENT, rounding=ROUND_HALF_UP)


def _form_input(value):
    if value is None or isinstance(value, bool | str):
        return value
    return str(getattr(value, "pk", value))


# --- products -----------------------------------------------------------------------------------


def _duplicate_code(code):
    return DomainError(
        _("产品编码“%(code)s”已存在。") % {"code": code},
        code="duplicate_code",
        fields={"code": [_("产品编码已存在。")]},
    )


def _save_product(*, user, data, instance=None):
    current = {}
    if instance is not None:
        current = {name: getattr(instance, name) for name in ProductForm.Meta.fields}
    merged = {**{k: _form_input(v) for k, v in current.items()}, **{k: _form_input(v) for k, v in data.items()}}
    if "active" not in data:  # a form posts an unticked box as absent: keep the value (new: active)
        merged["active"] = instance.active if instance is not None else True
    if instance is None:
        merged.setdefault("price", "0")
    form = ProductForm(data=merged, instance=instance)
    if not form.is_valid():
        raise FormValidationError(form)
    code = form.cleaned_data["code"]
    others = Product.objects.filter(code=code)
    if instance is not None:
        others = others.exclude(pk=instance.pk)
    if others.exists():
        raise _duplicate_code(code)
    try:
        with transaction.atomic():
            product = form.save()
    except IntegrityError:  # the same code saved meanwhile
        raise _duplicate_code(code) from None
    return product


@transaction.atomic
def product_create(*, user, data):
    """A product (code unique: a clear 400 ``duplicate_code`` otherwise)."""
    product = _save_product(user=user, data=data)
    audit_record(actor=user, action=AuditAction.CREATE, target=product, data={"code": product.code})
    return product


@transaction.atomic
def product_update(*, user, product, data):
    """Change a product's fields (those given). Lines already on contracts keep their prices."""
    locked = Product.objects.select_for_update().get(pk=product.pk)
    return _save_product(user=user, data=data, instance=locked)


# --- contract numbers ---------------------------------------------------------------------------


def contract_number_next(*, day=None):
    """The next contract number of ``day`` (default: today in Asia/Shanghai): prefix
    (``settings.CONTRACT_NUMBER_PREFIX``) + YYYYMMDD + a 6-digit daily sequence.

    Must run inside the creating transaction: the upsert takes the sequence row's lock until that
    transaction ends, so concurrent creators wait for each other (unique numbers) and a rolled-back
    creation gives its number back (no gaps)."""
    if not connection.in_atomic_block:
        raise RuntimeError("contract_number_next must run inside the creating transaction")
    prefix = settings.CONTRACT_NUMBER_PREFIX
    day = day or timezone.localdate()
    table = ContractSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (prefix, day, last) VALUES (%s, %s, 1) "  # noqa: S608 - the model's table
            f"ON CONFLICT (prefix, day) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [prefix, day],
        )
        last = cursor.fetchone()[0]
    return f"{prefix}{day:%Y%m%d}{last:06d}"


# --- contracts: validation ----------------------------------------------------------------------


def _clean_lines(raw_lines, *, allowed_inactive=()):
    """(cleaned lines, errors per line or None). Each cleaned line has product, quantity,
    unit_price (default: the product's price), discount_rate (default 0) and subtotal."""
    if raw_lines is None:
        return [], None
    if not isinstance(raw_lines, list | tuple):
        return None, [_("明细格式有误。")]
    if len(raw_lines) > MAX_LINES:
        return None, [_("一份合同最多 %(n)s 行明细。") % {"n": MAX_LINES}]
    cleaned, errors, failed = [], [], False
    for raw in raw_lines:
        if not isinstance(raw, dict):
            errors.append({"non_field_errors": [_("明细格式有误。")]})
            failed = True
            continue
        data = {name: _form_input(raw.get(name)) for name in ("product", "quantity", "unit_price", "discount_rate")}
        data = {name: value for name, value in data.items() if value not in (None, "")}
        form = ContractLineForm(data=data, allowed_inactive=allowed_inactive)
        if not form.is_valid():
            errors.append({name: list(messages) for name, messages in form.errors.items()})
            failed = True
            continue
        errors.append({})
        line = dict(form.cleaned_data)
        if line.get("unit_price") is None:
            line["unit_price"] = line["product"].price
        if line.get("discount_rate") is None:
            line["discount_rate"] = Decimal(0)
        line["subtotal"] = line_subtotal(line["quantity"], line["unit_price"], line["discount_rate"])
        if line["subtotal"] > MAX_MONEY:
            errors[-1] = {"quantity": [_("小计超出上限。")]}
            failed = True
            continue
        cleaned.append(line)
    return (None, errors) if failed else (cleaned, None)


def _validated(*, user, data, instance=None, allowed_inactive=()):
    """(header form, cleaned lines or None when ``lines`` is not given on an update)."""
    data = dict(data)
    data.pop("total", None)  # always computed here
    current = {}
    if instance is not None:
        current = {name: getattr(instance, Contract._meta.get_field(name).attname) for name in HEADER_FIELDS}
        current["owner"] = instance.owner_id
    header = {
        **{name: _form_input(value) for name, value in current.items()},
        **{name: _form_input(value) for name, value in data.items() if name in (*HEADER_FIELDS, "owner")},
    }
    form = ContractForm(data=header, instance=instance, user=user)
    lines, line_errors = None, None
    if instance is None or "lines" in data:
        lines, line_errors = _clean_lines(data.get("lines"), allowed_inactive=allowed_inactive)
    valid = form.is_valid()
    if not valid or line_errors:
        raise FormValidationError(form, line_errors)
    if lines is not None and _total(lines) > MAX_MONEY:
        raise DomainError(_("合同金额超出上限。"), fields={"lines": [_("合同金额超出上限。")]})
    return form, lines


def _owner(*, user, chosen, default):
    """The owner to set: ``chosen`` or ``default``; someone else than ``default`` needs the
    transfer permission (403 otherwise)."""
    owner = chosen or default
    if owner.pk != default.pk and not user.has_perm(TRANSFER_PERMISSION):
        raise DomainError(
            _("您没有把合同指定给其他负责人的权限。"),
            code="forbidden",
            status=403,
            fields={"owner": [_("您没有把合同指定给其他负责人的权限。")]},
        )
    return owner


def _total(lines):
    return sum((line["subtotal"] for line in lines), Decimal(0))


def _write_lines(contract, lines, *, replace=True):
    if replace:
        ContractLine.objects.filter(contract=contract).delete()
    ContractLine.objects.bulk_create(
        ContractLine(
            contract=contract,
            product=line["product"],
            quantity=line["quantity"],
            unit_price=line["unit_price"],
            discount_rate=line["discount_rate"],
            subtotal=line["subtotal"],
            order=index,
        )
        for index, line in enumerate(lines)
    )


def _check_version(locked, version):
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise DomainError(
            _("请提供当前版本号 version。"), fields={"version": [_("请提供当前版本号 version。")]}
        ) from None
    if locked.version != version:
        raise ConflictError(
            _("合同已被他人修改，请刷新后重试。"),
            code="version_conflict",
            extra={"current_version": locked.version},
        )


def _read_only_error(contract):
    return DomainError(
        _("合同当前状态为“%(status)s”，不能修改。") % {"status": ContractStatus(contract.status).label},
        code=ContractErrorCode.READ_ONLY,
    )


# --- contracts: create, update, delete ----------------------------------------------------------


def _create(*, user, form, lines, owner, renewed_from=None):
    contract = form.save(commit=False)
    contract.owner = owner
    contract.department_id = owner.department_id
    contract.created_by = user
    contract.status = S.DRAFT
    contract.renewed_from = renewed_from
    contract.number = contract_number_next()
    contract.total = _total(lines)
    contract.save()
    _write_lines(contract, lines, replace=False)
    audit_record(
        actor=user,
        action=AuditAction.CREATE,
        target=contract,
        data={
            "number": contract.number,
            "total": str(contract.total),
            "renewed_from": renewed_from and renewed_from.pk,
        },
    )
    return contract


@transaction.atomic
def contract_create(*, user, data):
    """A draft contract: header fields (customer the user sees; optional deal of that customer;
    signatory among its contacts; end ≥ start), ``lines`` ([{product, quantity, unit_price?,
    discount_rate?}]), ``owner`` (default: the user; someone else needs the transfer permission)
    in the owner's department. Gets the next number; the total is computed from the lines."""
    form, lines = _validated(user=user, data=data)
    owner = _owner(user=user, chosen=form.cleaned_data.get("owner"), default=user)
    return _create(user=user, form=form, lines=lines or [], owner=owner)


@transaction.atomic
def contract_update(*, user, contract, version, data):
    """Change a contract while it is a draft, rejected or withdrawn (approved or later: 400
    ``read_only``). The header fields given change; ``lines``, when given, replace the lines as a
    whole and the total is computed again. A stale ``version`` → 409, nothing written."""
    locked = Contract.objects.select_for_update().get(pk=contract.pk)
    if locked.status not in EDITABLE_STATUSES:
        raise _read_only_error(locked)
    _check_version(locked, version)
    on_contract = set(locked.lines.values_list("product_id", flat=True))
    form, lines = _validated(user=user, data=data, instance=locked, allowed_inactive=on_contract)
    current_owner = locked.owner if locked.owner_id else user
    owner = _owner(user=user, chosen=form.cleaned_data.get("owner"), default=current_owner)
    updated = form.save(commit=False)
    updated.owner = owner
    updated.department_id = owner.department_id
    fields = [*HEADER_FIELDS, "owner", "department", "version", "updated_at"]
    if lines is not None:
        updated.total = _total(lines)
        if updated.total < updated.paid_amount:
            raise DomainError(_("合同金额不能低于已回款金额。"), fields={"lines": [_("合同金额不能低于已回款金额。")]})
        _write_lines(updated, lines)
        fields.append("total")
    updated.version = locked.version + 1
    updated.save(update_fields=fields)
    return updated


@transaction.atomic
def contract_delete(*, user, contract, request=None):
    """Delete a draft (with its lines); anything else is voided instead (400 ``not_draft``)."""
    locked = Contract.objects.select_for_update().get(pk=contract.pk)
    if locked.status != S.DRAFT:
        raise DomainError(_("只能删除草稿状态的合同，其他状态请作废。"), code="not_draft")
    audit_record(
        actor=user,
        action=AuditAction.DELETE,
        target=locked,
        data={"number": locked.number, "total": str(locked.total)},
        request=request,
    )
    locked.delete()


# --- contracts: status changes (approval ones are in contracts.services.approvals) --------------


@transaction.atomic
def contract_activate(*, user, contract, version=None):
    """Approved → 执行中 (active)."""
    return contract_transition(contract=contract, to=S.ACTIVE, version=version)


@transaction.atomic
def contract_complete(*, user, contract, version=None):
    """Active → 已完成 (completed)."""
    return contract_transition(contract=contract, to=S.COMPLETED, version=version)


@transaction.atomic
def contract_terminate(*, user, contract, version=None):
    """Active → 已终止 (terminated early)."""
    return contract_transition(contract=contract, to=S.TERMINATED, version=version)


@transaction.atomic
def contract_void(*, user, contract, version=None, request=None):
    """作废: from draft, rejected, withdrawn, approved or active — refused (400 ``has_payments``)
    once confirmed payments exist (``paid_amount > 0``): they must be reversed first."""
    locked = Contract.objects.select_for_update().get(pk=contract.pk)
    if not can_transition(locked.status, S.VOID):
        raise illegal_transition_error(locked, S.VOID)
    if locked.paid_amount > 0:
        raise DomainError(
            _("合同已有确认的回款（¥%(paid)s），不能作废。") % {"paid": locked.paid_amount},
            code="has_payments",
        )
    return contract_transition(contract=locked, to=S.VOID, version=version, voided_at=timezone.now())


# --- renewals and drafts from deals -------------------------------------------------------------


def _add_months(day, months):
    """``day`` moved by whole calendar months, clamped to the month's last day (Jan 31 + 1 → Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return datetime.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _term_months(start, end):
    """N when the term start..end is exactly N whole calendar months (end + 1 day = start + N
    months), else None."""
    after = end + datetime.timedelta(days=1)
    months = (after.year - start.year) * 12 + after.month - start.month
    if months >= 1 and _add_months(start, months) == after:
        return months
    return None


def _shifted_dates(contract):
    """The next term: it starts the day after this one ends and lasts as long — the same number
    of whole months when this term is whole months (a year stays a year across a leap day, a
    half-year ends on the 31st), else the same number of days. (None, None) without dates."""
    if not contract.start_date or not contract.end_date:
        return None, None
    start = contract.end_date + datetime.timedelta(days=1)
    months = _term_months(contract.start_date, contract.end_date)
    if months is not None:
        return start, _add_months(start, months) - datetime.timedelta(days=1)
    return start, start + (contract.end_date - contract.start_date)


@transaction.atomic
def contract_renew(*, user, contract):
    """续签: a new draft for the same customer with the same lines (products, quantities, unit
    prices and discounts of the old contract), dates shifted by the old contract's length (start =
    old end + 1 day), ``renewed_from`` set, owned by the old contract's owner (if still active,
    else the user). Only approved-or-later contracts (not terminated or void) renew, once (409
    ``already_renewed`` while a renewal that is not void exists)."""
    locked = Contract.objects.select_for_update().get(pk=contract.pk)
    if locked.status not in RENEWABLE_STATUSES:
        raise DomainError(
            _("合同当前状态为“%(status)s”，不能续签。") % {"status": ContractStatus(locked.status).label},
            code="not_renewable",
        )
    existing = locked.renewals.exclude(status=S.VOID).order_by("pk").first()
    if existing is not None:
        raise ConflictError(
            _("该合同已续签（%(number)s）。") % {"number": existing.number},
            code="already_renewed",
            extra={"contract": existing.pk},
        )
    old_lines = list(locked.lines.select_related("product").order_by("order", "pk"))
    start, end = _shifted_dates(locked)
    suffix = _("（续签）")
    title = locked.title if locked.title.endswith(suffix) else f"{locked.title}{suffix}"
    data = {
        "customer": locked.customer_id,
        "title": title[:200],
        "signatory": locked.signatory_id,
        "start_date": start,
        "end_date": end,
        "lines": [
            {
                "product": line.product_id,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount_rate": line.discount_rate,
            }
            for line in old_lines
        ],
    }
    form, lines = _validated(user=user, data=data, allowed_inactive={line.product_id for line in old_lines})
    owner = locked.owner if locked.owner_id and locked.owner.is_active else user
    return _create(user=user, form=form, lines=lines, owner=owner, renewed_from=locked)


def opportunity_draft_owner(*, user, opportunity):
    """Who a contract drafted from ``opportunity`` belongs to: the deal's owner when that is the
    user, or when the user may give contracts to others (and the owner is active); else the user."""
    owner = opportunity.owner
    if owner is not None and owner.is_active and (owner.pk == user.pk or user.has_perm(TRANSFER_PERMISSION)):
        return owner
    return user


@transaction.atomic
def contract_draft_from_opportunity(*, user, opportunity, product=None):
    """A draft contract pre-filled from a deal: its customer, the deal, its title, the customer's
    primary contact as signatory, the deal's owner (see ``opportunity_draft_owner``). Deals carry
    no product lines: with ``product`` the deal amount becomes one line (1 × amount of that
    product); without, the draft has no lines yet. A lost or invalid deal is refused (400
    ``deal_closed``)."""
    from customers.models import Contact
    from opportunities.models import StageKind

    if opportunity.stage.kind not in (StageKind.OPEN, StageKind.WON):
        raise DomainError(_("该商机已输单或无效，不能起草合同。"), code="deal_closed")
    signatory = (
        Contact.objects.visible_to(user)
        .filter(customer_id=opportunity.customer_id)
        .order_by("-is_primary", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    lines = []
    if product is not None:
        lines = [{"product": product, "quantity": 1, "unit_price": opportunity.amount, "discount_rate": 0}]
    data = {
        "customer": opportunity.customer_id,
        "opportunity": opportunity.pk,
        "title": opportunity.title,
        "signatory": signatory,
        "lines": lines,
    }
    form, cleaned = _validated(user=user, data=data)
    owner = opportunity_draft_owner(user=user, opportunity=opportunity)
    return _create(user=user, form=form, lines=cleaned, owner=owner)


def deal_won_offer_contract(*, user, opportunity):
    """The ``opportunities.services.DEAL_WON_HOOKS`` entry: a won deal offers a contract draft —
    the pre-filled web form and the API call that creates it. Writes nothing."""
    if not user.has_perm("contracts.add_contract"):
        return None
    return {
        "draft_contract_url": f"{reverse('contracts:create')}?opportunity={opportunity.pk}",
        "draft_contract_api": reverse("api:contract-from-opportunity"),
    }


# --- followers of customer transfers and merges (registered in apps.py) -------------------------

# ``customer_transfer(options={"contracts": True})`` gives the customers' live contracts to the
# new owner too.
TRANSFER_OPTION = "contracts"
# The contracts that follow a transfer: those still being worked on (drafted, reworked after a
# rejection or withdrawal, signed and not yet finished). Pending ones stay: their approval was
# routed by the current owner's department. Finished ones (completed, expired, terminated, void)
# stay with who closed them, like won and lost deals.
TRANSFER_STATUSES = (S.DRAFT, S.REJECTED, S.WITHDRAWN, S.APPROVED, S.ACTIVE)


def contracts_follow_transfer(*, user, customer_ids, to_owner, options):
    """Live contracts of transferred customers follow them to the new owner when ``options`` asks
    (``{"contracts": true}``); only contracts in the transferrer's data scope. One UPDATE."""
    if not options.get(TRANSFER_OPTION):
        return 0
    from staff.scope import scope_filter

    return (
        Contract.objects.filter(scope_filter(user), customer_id__in=customer_ids, status__in=TRANSFER_STATUSES)
        .exclude(owner_id=to_owner.pk)
        .update(
            owner_id=to_owner.pk,
            department_id=to_owner.department_id,
            version=F("version") + 1,
            updated_at=timezone.now(),
        )
    )


def contracts_move_to_survivor(*, user, survivor, other):
    """A merge moves every contract of ``other`` to ``survivor``; payments, plans and invoices
    hang off the contract and come along. (The signatory contacts move with the merge too.)"""
    from analytics.services import profile_recompute_schedule

    profile_recompute_schedule(customer_ids=[survivor.pk, other.pk])
    return Contract.objects.filter(customer_id=other.pk).update(
        customer_id=survivor.pk, version=F("version") + 1, updated_at=timezone.now()
    )
