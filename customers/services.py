"""Writes on customers and contacts. Every caller — API, web pages, imports, tasks — comes here;
validation runs through the forms in ``customers.forms`` (built-in and custom fields alike)."""

import contextlib
import copy
import functools
import hashlib
import json
from datetime import timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Case, DateTimeField, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history

from audit.models import AuditAction
from audit.services import audit_record, audit_record_many
from crm.bulk import copy_create
from crm.errors import ConflictError, DomainError
from customers.custom_fields import definitions as custom_field_definitions
from customers.duplicates import find_duplicates, flush_name_index, normalize_company_name
from customers.forms import CUSTOMER_FIELDS, ContactForm, CustomerForm
from customers.models import (
    CUSTOMER_HISTORY,
    Contact,
    Customer,
    CustomerMerge,
    CustomerTeamMember,
    CustomFieldType,
    DealStatus,
    SavedView,
)
from staff import teams
from staff.fieldperms import field_access, hidden_fields
from staff.models import FieldAccess

# Customers one transfer request may move (larger moves: several requests, or the import tools).
TRANSFER_BATCH_LIMIT = 1000

# Later apps register what follows a transfer (open deals, tasks): callables taking
# (user=, customer_ids=, to_owner=, options=) and returning how many rows they moved.
TRANSFER_FOLLOWERS = {}

# Later apps register what moves to the survivor when two customers are merged (follow-ups, tasks,
# deals, contracts, payments): callables taking (user=, survivor=, other=) inside the merge's
# transaction and returning how many rows they moved. See customer_merge.
MERGE_MOVERS = {}

# Later apps register checks run before customers gain an owner on create and transfer (the
# pool's ownership limits): callables taking (owner=, customers=) — the rows about to become the
# owner's, unsaved on create — that raise DomainError to refuse.
OWNER_LIMIT_CHECKS = {}


def customer_owner_limits_check(*, owner, customers):
    """Refuse (DomainError) if ``owner`` taking ``customers`` — rows, unsaved instances, or any
    objects with ``owner_id`` and ``deal_status`` — would pass a registered limit (the pool's
    "拥有客户已达上限"). Create, transfer and the importer call it."""
    customers = [customer for customer in customers if customer.owner_id != owner.pk]
    if customers:
        for check in OWNER_LIMIT_CHECKS.values():
            check(owner=owner, customers=customers)


class FormValidationError(DomainError):
    """Invalid input (400, errors per field; custom fields nested under ``custom_fields``) that
    carries the bound form, so a page can show the errors inline."""

    def __init__(self, form, errors):
        super().__init__(_("提交的数据有误，请检查后重试。"), code="invalid", fields=errors)
        self.form = form


# --- validation ---------------------------------------------------------------------------------


def _api_errors(form):
    """Form errors in the API's shape: custom fields under ``custom_fields``."""
    errors, custom = {}, {}
    for name, messages in form.errors.items():
        if name.startswith("cf_"):
            custom[name[3:]] = list(messages)
        else:
            errors[name] = list(messages)
    if custom:
        errors["custom_fields"] = custom
    return errors


def _current_values(form_class, instance, defs=None):
    """The instance as form input, so a partial update validates the whole record."""
    form = form_class(instance=instance, custom_definitions=defs)
    data = {}
    for name in form.fields:
        value = form.initial.get(name)
        if name == "tags":
            value = [tag.pk for tag in value] if value else []
        elif hasattr(value, "pk"):
            value = value.pk
        data[name] = value
    return data


MASKABLE_FIELDS = ("mobile", "phone", "email")


def _writable_data(user, target, data, instance, *, masked_keys=()):
    """``data`` minus what the user may not change, or a refusal.

    - A hidden field may not be sent at all (any value: comparing would let a caller guess it).
    - A read-only field may be sent unchanged (clients post whole records); a different value is
      refused. A read-only value the user sees masked cannot be compared without becoming an
      oracle, so it is dropped whatever it is. ``masked_keys``: those names (``cf.<key>`` for
      custom fields)."""
    access = field_access(user, target)
    if not access:
        return data
    data = dict(data)
    refused = {}
    current_custom = (instance.custom_fields if instance is not None else {}) or {}
    custom = data.get("custom_fields")
    if isinstance(custom, dict):
        custom = dict(custom)
        for key, value in list(custom.items()):
            rule = access.get(f"cf.{key}", FieldAccess.EDITABLE)
            if rule == FieldAccess.EDITABLE:
                continue
            if rule == FieldAccess.READONLY and f"cf.{key}" in masked_keys:
                del custom[key]
            elif rule == FieldAccess.HIDDEN or current_custom.get(key) != value:
                refused.setdefault("custom_fields", {})[key] = [_("无权修改该字段。")]
        data["custom_fields"] = custom
    for name, value in list(data.items()):
        rule = access.get(name, FieldAccess.EDITABLE)
        if name == "custom_fields" or rule == FieldAccess.EDITABLE:
            continue
        if rule == FieldAccess.READONLY and name in masked_keys:
            del data[name]
        elif rule == FieldAccess.HIDDEN or not _same_value(instance, name, value):
            refused[name] = [_("无权修改该字段。")]
    if refused:
        raise DomainError(_("包含无权修改的字段。"), code="field_not_writable", fields=refused, status=403)
    return data


def _masked_keys(*, full, target):
    """The field names (custom ones as ``cf.<key>``) the viewer sees masked."""
    if full:
        return set()
    from customers.models import CustomField

    custom = CustomField.objects.filter(target=target, type__in=["phone", "email"]).values_list("key", flat=True)
    return {*(MASKABLE_FIELDS if target == "customer" else ("mobile", "email")), *(f"cf.{key}" for key in custom)}


def _same_value(instance, name, value):
    """Whether ``value`` (as sent) equals the stored one, so re-sending a read-only field unchanged
    (a client that posts the whole record) is not a change."""
    empty = (None, "", [])
    if instance is None:
        return value in empty
    if name == "tags":
        try:
            sent = sorted(int(tag) for tag in value or [])
        except (TypeError, ValueError):
            return False
        return sent == sorted(instance.tags.values_list("pk", flat=True))
    try:
        field = instance._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    current = getattr(instance, field.attname)
    if value in empty and current in empty:
        return True
    if hasattr(current, "isoformat") and isinstance(value, str):
        return current.isoformat() == value or str(current) == value
    return str(current) == str(value)


def _form_input(value):
    """A JSON value as form input: booleans and null stay (yes/no fields), lists stay (multiple
    choice), numbers become text ("12000.5" is what a number field parses; a date field given
    20260101 then says "enter a valid date" instead of failing on a non-string)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, list):
        return [item if isinstance(item, str) else str(item) for item in value]
    return str(value)


def _validated_form(form_class, *, user, data, instance=None, defs=None, base=None, preloaded=None, prototype=None):
    """The bound, valid form for ``data`` (else FormValidationError). Bulk callers pass what is the
    same for every row — ``defs`` (custom field definitions), ``base`` (the blank record as form
    input, for creates), ``preloaded`` (see _preload_choices) and, for creates, ``prototype`` (an
    unbound form of ``form_class`` built once, see _bind_copy) — so it is built once."""
    data = dict(data)
    custom = data.pop("custom_fields", None)
    if custom is not None and not isinstance(custom, dict):
        raise DomainError(_("自定义字段应为对象。"), fields={"custom_fields": [_("自定义字段应为对象。")]})
    if defs is None:
        defs = custom_field_definitions(form_class.target)
    # Omitted fields keep their stored values (or, on create, the model's defaults).
    if base is not None and instance is None:
        merged = dict(base)
    else:
        merged = _current_values(form_class, instance if instance is not None else form_class._meta.model(), defs)
    merged.update(data)
    multiple = {definition.key for definition in defs if definition.type == CustomFieldType.MULTI_CHOICE}
    malformed = [
        key
        for key, value in (custom or {}).items()
        if isinstance(value, dict) or (isinstance(value, list) and key not in multiple)
    ]
    if malformed:
        message = _("格式不正确。")
        raise DomainError(message, fields={"custom_fields": {key: [message] for key in malformed}})
    for key, value in (custom or {}).items():
        merged[f"cf_{key}"] = _form_input(value)
    if prototype is not None and instance is None:
        form = _bind_copy(prototype, merged)
    else:
        form = form_class(data=merged, instance=instance, user=user, custom_definitions=defs)
        if preloaded is not None:
            _preload_choices(form, preloaded)
    unknown = set(custom or {}) - {name[3:] for name in form.custom_field_names()}
    if not form.is_valid() or unknown:
        errors = _api_errors(form)
        for key in unknown:
            errors.setdefault("custom_fields", {})[key] = [_("未定义的自定义字段。")]
        raise FormValidationError(form, errors)
    return form


# --- duplicates (客户查重) ------------------------------------------------------------------------

FORCE_DUPLICATE_PERMISSION = "customers.force_duplicate_customer"
DUPLICATE_FIELDS = ("name", "kind", "mobile", "email", "credit_code")


def _check_duplicates(*, user, customer, fields=DUPLICATE_FIELDS, force=False):
    """Refuse (409 ``duplicate``, with the candidates as ``user`` may see them) when ``customer``'s
    ``fields`` match other customers — unless ``force`` is sent by a holder of the force
    permission. Returns the ids forced past (for the audit log)."""
    data = {name: getattr(customer, name) for name in fields if name in DUPLICATE_FIELDS}
    if "name" in data:
        data["kind"] = customer.kind
    matches = find_duplicates(data=data, exclude_ids=[customer.pk] if customer.pk else ())
    if not matches:
        return []
    can_force = user.has_perm(FORCE_DUPLICATE_PERMISSION)
    if force and can_force:
        return [match.customer_id for match in matches]
    from customers.selectors import duplicate_candidates

    raise ConflictError(
        _("已存在疑似重复的客户，请先确认。") if can_force else _("已存在疑似重复的客户，不能保存。"),
        code="duplicate",
        extra={"candidates": duplicate_candidates(user=user, matches=matches), "can_force": can_force},
    )


# --- customers ----------------------------------------------------------------------------------


@transaction.atomic
def customer_create(*, user, data, owner=None, force=False, check_duplicates=True):
    """A new customer owned by ``owner`` (default: the creator) in the owner's department.

    A customer matching existing ones (customers.duplicates) is refused with 409 ``duplicate``
    unless ``force`` and the user may force. ``check_duplicates=False`` only for callers that ran
    the same check themselves (the importer's set-based find_duplicates_many)."""
    data = _writable_data(user, "customer", data, None)
    form = _validated_form(CustomerForm, user=user, data=data)
    customer = form.save(commit=False)
    forced = _check_duplicates(user=user, customer=customer, force=force) if check_duplicates else []
    owner = owner or user
    customer_owner_limits_check(owner=owner, customers=[customer])
    customer.owner = owner
    customer.department_id = owner.department_id
    customer.created_by = user
    customer.custom_fields = form.cleaned_data["custom_fields"]
    customer.name_key = normalize_company_name(customer.name)
    customer._history_user = user
    # One "created" history row that already lists the tags: rows and tags first, then the record.
    customer.skip_history_when_saving = True
    customer.save()
    # A new customer has no tags yet: its rows in one INSERT (tags.set would first read the current
    # tags and then the missing ones — two more round trips on every create; its m2m_changed would
    # be skipped anyway, as skip_history_when_saving is set).
    through = Customer.tags.through
    through.objects.bulk_create(
        [through(customer_id=customer.pk, tag_id=tag.pk) for tag in form.cleaned_data.get("tags") or []]
    )
    del customer.skip_history_when_saving
    CUSTOMER_HISTORY.create_historical_record(customer, "+")
    customer_search_refresh(customer_ids=[customer.pk])
    if forced:
        audit_record(actor=user, action=AuditAction.CREATE, target=customer, data={"duplicate_forced": forced})
    return customer


@transaction.atomic
def customer_update(*, user, customer, version, data, change_reason=None, force=False):
    """Change a customer the user may edit. ``version`` is the one the user last saw: if someone
    saved in between, nothing is written and ConflictError (409) carries the current version.
    A changed name, kind, mobile, e-mail or credit code that matches other customers is refused
    like a create (409 ``duplicate``) unless ``force`` and the user may force."""
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    _check_customer_editable(user, customer)
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ValidationError({"version": [_("请提供当前版本号 version。")]}) from None
    if locked.version != version:
        raise ConflictError(
            _("该客户已被他人修改，请刷新后再保存。"),
            code="stale_version",
            extra={"current_version": locked.version},
        )
    from customers.selectors import sees_full_contact

    full = sees_full_contact(user=user, customer=locked)
    data = _writable_data(user, "customer", data, locked, masked_keys=_masked_keys(full=full, target="customer"))
    form = _validated_form(CustomerForm, user=user, data=data, instance=locked)
    if not form.has_changed():
        return locked  # nothing to write: no new version, no empty history row
    customer = form.save(commit=False)
    changed = [name for name in DUPLICATE_FIELDS if name in form.changed_data]
    forced = _check_duplicates(user=user, customer=customer, fields=changed, force=force) if changed else []
    customer.custom_fields = form.cleaned_data["custom_fields"]
    customer.name_key = normalize_company_name(customer.name)
    customer.version = locked.version + 1
    if "tags" in form.fields and not form.fields["tags"].disabled:
        customer.skip_history_when_saving = True  # one history row for the whole change, below
        customer.tags.set(form.cleaned_data.get("tags") or [])
        del customer.skip_history_when_saving
    customer._history_user = user
    customer._change_reason = change_reason or (_("确认不是重复客户后保存") if forced else None)
    customer.save()
    customer_search_refresh(customer_ids=[customer.pk])
    return customer


@transaction.atomic
def customer_delete(*, user, customer, request=None):
    """Soft delete into the recycle bin (回收站); restorable for CUSTOMER_RECYCLE_BIN_DAYS. Owners
    and their managers may; team members may not."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if not Customer.objects.alive().managed_by(user).filter(pk=customer.pk).exists():
        raise DomainError(_("只有负责人或其上级可以删除客户。"), code="forbidden", status=403)
    customer.deleted_at = timezone.now()
    customer.deleted_by = user
    customer.version += 1
    customer._history_user = user
    customer._change_reason = _("删除到回收站")
    customer.save(update_fields=["deleted_at", "deleted_by", "version", "updated_at"])
    audit_record(actor=user, action=AuditAction.DELETE, target=customer, request=request)
    return customer


@transaction.atomic
def customer_delete_many(*, user, customers, request=None):
    """Delete several customers to the recycle bin, all or none."""
    for customer in customers:
        try:
            customer_delete(user=user, customer=customer, request=request)
        except DomainError as error:
            raise DomainError(
                _("客户「%(name)s」：%(error)s") % {"name": customer.name, "error": error.message}
            ) from error
    return len(customers)


@transaction.atomic
def customer_tag_add(*, user, customers, tag):
    """Add ``tag`` to several customers, all or none; each change is an ordinary update (version,
    field permissions, history). Returns how many customers gained the tag."""
    done = 0
    for customer in customers:
        current = list(Customer.tags.through.objects.filter(customer_id=customer.pk).values_list("tag_id", flat=True))
        if tag.pk in current:
            continue
        try:
            customer_update(user=user, customer=customer, version=customer.version, data={"tags": [*current, tag.pk]})
        except DomainError as error:
            raise DomainError(
                _("客户「%(name)s」：%(error)s") % {"name": customer.name, "error": error.message}
            ) from error
        done += 1
    return done


@transaction.atomic
def customer_restore(*, user, customer, request=None):
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.deleted_at is None:
        raise DomainError(_("该客户不在回收站中。"), code="not_deleted")
    if not Customer.objects.in_recycle_bin().managed_by(user).filter(pk=customer.pk).exists():
        raise DomainError(_("只有负责人或其上级可以恢复客户。"), code="forbidden", status=403)
    customer.deleted_at = None
    customer.deleted_by = None
    customer.version += 1
    customer._history_user = user
    customer._change_reason = _("从回收站恢复")
    customer.save(update_fields=["deleted_at", "deleted_by", "version", "updated_at"])
    audit_record(actor=user, action=AuditAction.RESTORE, target=customer, request=request)
    return customer


@transaction.atomic
def customer_purge_recycle_bin(*, now=None):
    """Delete for good the customers in the recycle bin longer than CUSTOMER_RECYCLE_BIN_DAYS;
    their contacts, team members and history go with them; the audit log keeps the fact. Also
    drops expired team-member rows. Run daily by customers.tasks."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.CUSTOMER_RECYCLE_BIN_DAYS)
    expired = list(Customer.objects.filter(deleted_at__lt=cutoff).only("pk", "name"))
    if expired:
        audit_record_many(actor=None, action=AuditAction.PURGE, targets=expired)
        ids = [customer.pk for customer in expired]
        # A merged customer's history stays readable from its survivor (CustomerMerge) — until
        # the survivor itself is purged.
        merged_into_purged = list(CustomerMerge.objects.filter(survivor_id__in=ids).values_list("other_id", flat=True))
        kept = CustomerMerge.objects.exclude(survivor_id__in=ids).values("other_id")
        Customer.objects.filter(pk__in=ids).delete()
        # After the rows: deleting them writes "deleted" history rows, which go too.
        Customer.history.filter(id__in=ids + merged_into_purged).exclude(id__in=kept).delete()
        # Contacts that moved away in a merge keep their history. NOT EXISTS (an anti-join probing
        # the contacts' primary key), not NOT IN (SELECT id FROM customers_contact): a million
        # contact ids do not fit a hashed subplan in work_mem, so NOT IN scanned the whole list
        # for every history row — and the contacts deleted just above have just written one
        # "deleted" history row each (minutes at 500,000 customers).
        Contact.history.filter(customer_id__in=ids).filter(~Exists(Contact.objects.filter(pk=OuterRef("id")))).delete()
    expired_members = teams.team_members_purge_expired(CustomerTeamMember, now=now)
    return {"purged": len(expired), "expired_team_rows": expired_members}


@transaction.atomic
def customer_transfer(*, user, customers, to_owner, reason, request=None, options=None):
    """Give ``customers`` (already fetched through the user's scope) to ``to_owner``, with a reason;
    the new owner's department comes along. Registered followers (deals, tasks) move what
    ``options`` asks for. Returns the number of customers moved."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("请填写转移原因。")]})
    if not to_owner.is_active:
        raise ValidationError({"to_owner": [_("该员工已停用。")]})
    ids = sorted({customer.pk for customer in customers})
    if not ids:
        raise ValidationError({"customers": [_("请选择要转移的客户。")]})
    if len(ids) > TRANSFER_BATCH_LIMIT:
        raise ValidationError({"customers": [_("一次最多转移 %(n)s 个客户。") % {"n": TRANSFER_BATCH_LIMIT}]})
    # Data scope only: a team member, even read-write, cannot give the customer away.
    rows = list(Customer.objects.alive().managed_by(user).filter(pk__in=ids).select_for_update().order_by("pk"))
    if len(rows) != len(ids):
        raise DomainError(_("部分客户不存在或您无权转移。"), code="not_found", status=404)
    before = {row.pk: row.owner_id for row in rows}
    customer_owner_limits_check(owner=to_owner, customers=rows)
    for row in rows:
        row.owner = to_owner
        row.department_id = to_owner.department_id
        row.version += 1
        row.updated_at = timezone.now()
    # One UPDATE per 500 rows and one bulk insert of history rows.
    bulk_update_with_history(
        rows,
        Customer,
        ["owner", "department", "version", "updated_at"],
        batch_size=500,
        default_user=user,
        default_change_reason=_("转移：%(reason)s") % {"reason": reason},
    )
    _snapshot_tags_into_latest_history(ids)
    audit_record_many(
        actor=user,
        action=AuditAction.TRANSFER,
        targets=rows,
        data={"to_owner": to_owner.pk, "reason": reason, "from_owners": {str(k): v for k, v in before.items()}},
        request=request,
    )
    moved = {}
    for name, follower in TRANSFER_FOLLOWERS.items():
        moved[name] = follower(user=user, customer_ids=ids, to_owner=to_owner, options=options or {})
    return len(rows)


def customer_owner_set(*, source_sql, params=(), owner=None, actor=None, now=None):
    """Give the live customers selected by ``source_sql`` — a query with the columns ``id`` and
    ``reason`` — to ``owner`` (and the owner's department), or with ``owner=None`` put them in no
    one's hands (the public pool: owner and department cleared). Set-based for the pool's nightly
    recall over 500,000 customers: one statement updates the rows (version + 1), writes one
    history row each with its reason and copies each one's tags into it. A customer going to the
    pool also loses its team members: the previous owner's colleagues must not keep seeing it —
    nor, once someone claims it, the new owner's customer. Callers lock and check first (claims
    take a row lock). Returns the number of customers changed."""
    history = Customer.history.model
    columns = [
        field.column
        for field in history._meta.concrete_fields
        if not field.name.startswith("history_") and field.name != "history_id"
    ]
    listed = ", ".join(columns)
    returned = ", ".join(f"c.{column}" for column in columns)
    tags_history = Customer.objects.tag_history_model()._meta.db_table
    team_sql = ""
    if owner is None:
        team_sql = f""",
        team AS (
            DELETE FROM {CustomerTeamMember._meta.db_table} tm USING upd WHERE tm.content_object_id = upd.id
        )"""
    sql = f"""
        WITH src AS ({source_sql}),
        upd AS (
            UPDATE customers_customer c SET owner_id = %s, department_id = %s, version = c.version + 1,
                updated_at = %s
            FROM src WHERE c.id = src.id AND c.deleted_at IS NULL
            RETURNING {returned}, src.reason AS change_reason
        ),
        hist AS (
            INSERT INTO {history._meta.db_table} ({listed}, history_date, history_change_reason, history_type,
                history_user_id)
            SELECT {listed}, %s, left(change_reason, 100), '~', %s FROM upd
            RETURNING history_id, id
        ),
        tags AS (
            INSERT INTO {tags_history} (id, history_id, customer_id, tag_id)
            SELECT t.id, hist.history_id, t.customer_id, t.tag_id
            FROM hist JOIN customers_customer_tags t ON t.customer_id = hist.id
        ){team_sql}
        SELECT count(*) FROM hist
    """  # noqa: S608 - the interpolated names are the model's own columns
    now = now or timezone.now()
    owner_id = owner.pk if owner is not None else None
    department_id = owner.department_id if owner is not None else None
    actor_id = actor.pk if actor is not None else None
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, owner_id, department_id, now, now, actor_id])
        return cursor.fetchone()[0]


def customer_dealt(*, customer_id, at):
    """Mark the customer 已成交 (deal status won, deal time ``at``) unless it already is, inside the
    caller's transaction — a deal won (opportunities) or, later, a contract approved. Like
    ``customer_followed_up``: one queryset UPDATE, ``updated_at`` moves for the sync, no new
    ``version``. The pool reads it (dealt customers may be exempt from recall and the limits)."""
    return bool(
        Customer.objects.filter(pk=customer_id)
        .exclude(deal_status=DealStatus.WON)
        .update(deal_status=DealStatus.WON, deal_at=at, updated_at=timezone.now())
    )


def customer_followed_up(*, customer_id, occurred_at, content, next_follow_up_at=None):
    """Record a follow-up on the customer, inside the caller's transaction (activities calls it
    when a follow-up is saved). The last follow-up time and content move to this one unless a
    later follow-up is already recorded; the next follow-up time becomes ``next_follow_up_at``
    when given, and a due one (now or earlier) is cleared as done. One queryset UPDATE: no history
    row and no new ``version`` (a colleague's open edit form must not conflict with a follow-up
    logged meanwhile); ``updated_at`` moves so the mini-program's sync sees the change.
    Returns whether this follow-up is the customer's latest."""
    now = timezone.now()
    if next_follow_up_at is not None:
        next_value = Value(next_follow_up_at, output_field=DateTimeField())
    else:
        next_value = Case(
            When(next_follow_up_at__lte=now, then=Value(None, output_field=DateTimeField())),
            default=F("next_follow_up_at"),
        )
    latest = Q(last_follow_up_at__isnull=True) | Q(last_follow_up_at__lte=occurred_at)
    updated = (
        Customer.objects.filter(pk=customer_id)
        .filter(latest)
        .update(
            last_follow_up_at=occurred_at,
            last_follow_up_content=content or "",
            next_follow_up_at=next_value,
            updated_at=now,
        )
    )
    if not updated and next_follow_up_at is not None:
        Customer.objects.filter(pk=customer_id).update(next_follow_up_at=next_follow_up_at, updated_at=now)
    return bool(updated)


def _snapshot_tags_into_latest_history(customer_ids):
    """bulk_update_with_history writes history rows without their tags; copy the current tags into
    each customer's newest history row (two queries), so the timeline shows no tag change."""
    latest = {}
    for history_id, customer_id in (
        Customer.history.filter(id__in=customer_ids)
        .order_by("id", "-history_date", "-history_id")
        .distinct("id")
        .values_list("history_id", "id")
    ):
        latest[customer_id] = history_id
    _snapshot_tags_into_history(latest)


def _snapshot_tags_into_history(latest):
    """Copy the current tags of customers into the history rows ``latest`` ({customer id: history id})."""
    tag_history = Customer.objects.tag_history_model()
    customer_ids = list(latest)
    through = Customer.tags.through
    tag_history.objects.bulk_create(
        tag_history(id=row_id, history_id=latest[customer_id], customer_id=customer_id, tag_id=tag_id)
        for row_id, customer_id, tag_id in through.objects.filter(customer_id__in=customer_ids).values_list(
            "id", "customer_id", "tag_id"
        )
    )


def _check_can_share(user, customer):
    from customers.selectors import customer_team_manageable

    if not customer_team_manageable(user=user, customer=customer):
        raise DomainError(_("只有负责人或其上级可以管理团队成员。"), code="forbidden", status=403)


@transaction.atomic
def customer_team_member_set(*, user, customer, member, access, expires_at=None, request=None):
    _check_can_share(user, customer)
    if member.pk == customer.owner_id:
        raise ValidationError({"user": [_("负责人无需加入团队。")]})
    teams.team_member_set(
        CustomerTeamMember, obj=customer, member=member, access=access, expires_at=expires_at, granted_by=user
    )
    audit_record(
        actor=user,
        action=AuditAction.TEAM_MEMBER_ADD,
        target=customer,
        data={"member": member.pk, "access": str(access), "expires_at": expires_at.isoformat() if expires_at else None},
        request=request,
    )


@transaction.atomic
def customer_team_member_remove(*, user, customer, member, request=None):
    _check_can_share(user, customer)
    if not teams.team_member_remove(CustomerTeamMember, obj=customer, member=member):
        raise DomainError(_("该员工不是团队成员。"), code="not_found", status=404)
    audit_record(
        actor=user, action=AuditAction.TEAM_MEMBER_REMOVE, target=customer, data={"member": member.pk}, request=request
    )


# --- merge (合并) ----------------------------------------------------------------------------------


def customer_merge_values(*, other, choices):
    """Write data for a merge from per-field choices (``{"mobile": "other", "custom_fields.budget":
    "other", "remark": "survivor"}``): the other's *stored* value for each field taken from it, so
    a value the user sees masked is never sent back masked. Unknown names are ignored."""
    from customers.forms import CUSTOMER_FIELDS

    data, custom = {}, {}
    for name, choice in (choices or {}).items():
        if choice != "other":
            continue
        if name.startswith("custom_fields."):
            key = name.split(".", 1)[1]
            custom[key] = (other.custom_fields or {}).get(key)
        elif name in CUSTOMER_FIELDS and name != "tags":
            field = Customer._meta.get_field(name)
            data[name] = getattr(other, field.attname)
    if custom:
        data["custom_fields"] = custom
    return data


def _version(value, name):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError({name: [_("请提供当前版本号。")]}) from None


@transaction.atomic
def customer_merge(*, user, survivor, other, values, survivor_version, other_version, request=None):
    """Merge ``other`` into ``survivor`` (客户合并), all or nothing: ``values`` (an update payload,
    e.g. from ``customer_merge_values``) win on the survivor; the other's contacts (one primary
    stays: the survivor's), tags, team members, earlier merges and whatever later apps registered
    in MERGE_MOVERS move to the survivor; the other goes to the recycle bin, its history kept and
    readable from the survivor (a CustomerMerge row on its timeline). Both customers must be
    managed by the user (owner or a manager above — not a team member) and unchanged since the
    versions given (else 409 ``stale_version``). Audited. Returns the survivor."""
    if survivor.pk == other.pk:
        raise DomainError(_("不能把客户与自身合并。"), fields={"other": [_("请选择另一个客户。")]})
    survivor_version = _version(survivor_version, "version")
    other_version = _version(other_version, "other_version")
    locked = {row.pk: row for row in Customer.objects.select_for_update().filter(pk__in=[survivor.pk, other.pk])}
    manageable = set(Customer.objects.alive().managed_by(user).filter(pk__in=list(locked)).values_list("pk", flat=True))
    if manageable != {survivor.pk, other.pk}:
        raise DomainError(_("只有两个客户的负责人或其上级可以合并客户。"), code="forbidden", status=403)
    target, loser = locked[survivor.pk], locked[other.pk]
    if target.version != survivor_version or loser.version != other_version:
        raise ConflictError(
            _("客户已被他人修改，请刷新后再合并。"),
            code="stale_version",
            extra={"current_version": target.version, "other_current_version": loser.version},
        )
    from customers.selectors import sees_full_contact

    full = sees_full_contact(user=user, customer=target)
    data = _writable_data(
        user, "customer", values or {}, target, masked_keys=_masked_keys(full=full, target="customer")
    )
    data.pop("tags", None)  # tags are the union of both
    form = _validated_form(CustomerForm, user=user, data=data, instance=target)
    fields_taken = sorted(
        f"custom_fields.{name[3:]}" if name.startswith("cf_") else name for name in form.changed_data if name != "tags"
    )
    customer = form.save(commit=False)
    customer.custom_fields = form.cleaned_data["custom_fields"]
    customer.name_key = normalize_company_name(customer.name)
    customer.version = target.version + 1
    own_tags = set(Customer.tags.through.objects.filter(customer_id=target.pk).values_list("tag_id", flat=True))
    other_tags = set(Customer.tags.through.objects.filter(customer_id=loser.pk).values_list("tag_id", flat=True))
    customer.skip_history_when_saving = True  # one history row below, listing the merged tags
    customer.tags.set(own_tags | other_tags)
    del customer.skip_history_when_saving
    reason = _("合并了客户「%(name)s」") % {"name": loser.name}
    customer._history_user = user
    customer._change_reason = reason
    customer.save()

    # Contacts: the survivor's primary contact stays the one.
    contacts = list(Contact.objects.filter(customer_id=loser.pk).order_by("pk"))
    has_primary = Contact.objects.filter(customer_id=customer.pk, is_primary=True).exists()
    for contact in contacts:
        contact.customer_id = customer.pk
        contact.is_primary = contact.is_primary and not has_primary
    if contacts:
        bulk_update_with_history(
            contacts,
            Contact,
            ["customer", "is_primary"],
            batch_size=500,
            default_user=user,
            default_change_reason=reason,
        )

    # Team members: the other's move unless already on the survivor's team or its owner.
    existing = set(CustomerTeamMember.objects.filter(content_object=customer).values_list("user_id", "permission_id"))
    rows = list(CustomerTeamMember.objects.filter(content_object=loser))
    keep = [
        row.pk for row in rows if (row.user_id, row.permission_id) not in existing and row.user_id != customer.owner_id
    ]
    CustomerTeamMember.objects.filter(pk__in=keep).update(content_object=customer)
    CustomerTeamMember.objects.filter(content_object=loser).delete()
    moved = {
        "contacts": len(contacts),
        "tags": len(other_tags - own_tags),
        "team_members": len({row.user_id for row in rows if row.pk in keep}),
    }
    CustomerMerge.objects.filter(survivor=loser).update(survivor=customer)  # earlier merges follow
    for name, mover in MERGE_MOVERS.items():
        moved[name] = mover(user=user, survivor=customer, other=loser)

    loser.deleted_at = timezone.now()
    loser.deleted_by = user
    loser.version += 1
    loser._history_user = user
    loser._change_reason = _("合并到客户「%(name)s」") % {"name": customer.name}
    loser.save(update_fields=["deleted_at", "deleted_by", "version", "updated_at"])
    merge = CustomerMerge.objects.create(
        survivor=customer,
        other_id=loser.pk,
        other_name=loser.name,
        merged_by=user,
        fields_taken=fields_taken,
        moved=moved,
    )
    customer_search_refresh(customer_ids=[customer.pk, loser.pk])
    audit_record(
        actor=user,
        action=AuditAction.MERGE,
        target=customer,
        data={"other": loser.pk, "other_name": loser.name, "merge": merge.pk, "fields": fields_taken, "moved": moved},
        request=request,
    )
    return customer


def customer_contact_reveal(*, user, customer, request=None):
    """ "查看完整号码": the full phone numbers and e-mails of a customer (custom phone and e-mail
    fields included) and of its contacts, for a user allowed to see them; every reveal is
    audit-logged with what it showed."""
    from customers.models import CustomField
    from customers.selectors import can_reveal

    if not can_reveal(user=user, customer=customer):
        raise DomainError(_("您没有查看完整联系方式的权限。"), code="forbidden", status=403)
    hidden = hidden_fields(user, "customer")
    contact_hidden = hidden_fields(user, "contact")
    values = {name: getattr(customer, name) for name in MASKABLE_FIELDS if name not in hidden}
    custom_keys = CustomField.objects.filter(target="customer", type__in=["phone", "email"]).values_list(
        "key", flat=True
    )
    values["custom_fields"] = {
        key: customer.custom_fields[key]
        for key in custom_keys
        if key in (customer.custom_fields or {}) and f"cf.{key}" not in hidden
    }
    contact_fields = ["id", *(name for name in ("mobile", "email") if name not in contact_hidden)]
    values["contacts"] = list(customer.contacts.order_by("-is_primary", "id").values(*contact_fields))
    audit_record(
        actor=user,
        action=AuditAction.REVEAL,
        target=customer,
        data={
            "fields": [name for name in MASKABLE_FIELDS if name in values]
            + [f"cf.{key}" for key in values["custom_fields"]],
            "contacts": [row["id"] for row in values["contacts"]],
        },
        request=request,
    )
    return values


# Lower-cased, space-delimited words: name and its two-character pieces (crm_bigrams, migration
# 0003), credit code, e-mail, phone digits, and the same for each contact. See selectors.search_q.
_SEARCH_TEXT = r"""lower(concat_ws(' ', '',
        c.name, crm_bigrams(c.name), c.credit_code, c.email,
        regexp_replace(c.mobile, '\D', '', 'g'), regexp_replace(c.phone, '\D', '', 'g'),
        {contacts},
        ''))"""
SEARCH_REFRESH_SQL = (
    "\n    UPDATE customers_customer c SET search_text = "
    + _SEARCH_TEXT.format(
        contacts="""(SELECT string_agg(concat_ws(' ', ct.name, crm_bigrams(ct.name), ct.email, ct.mobile), ' ')
           FROM customers_contact ct WHERE ct.customer_id = c.id)"""
    )
    + "\n    WHERE c.id = ANY(%s)\n"
)
# The same words for customers not yet written (no contacts): computed before the INSERT, so a
# bulk create does not write every row (and its ~13 index entries) a second time to fill them.
SEARCH_TEXT_NEW_SQL = (
    "SELECT "
    + _SEARCH_TEXT.format(contacts="NULL")
    + " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY"
    + " AS c(name, credit_code, email, mobile, phone, position) ORDER BY position"
)


def customer_name_key_refresh(*, customer_ids, batch_size=1000):
    """Recompute ``name_key`` (customers.duplicates.normalize_company_name) of these customers —
    for bulk paths that write names around customer_create/customer_update. One read and one
    UPDATE … FROM (VALUES …) per ``batch_size`` rows (1000: a statement of ~100 kB)."""
    ids = sorted(set(customer_ids))
    changed = 0
    for start in range(0, len(ids), batch_size):
        rows = Customer.objects.filter(pk__in=ids[start : start + batch_size]).values_list("pk", "name", "name_key")
        values = [(pk, key) for pk, name, old in rows if (key := normalize_company_name(name)) != old]
        if values:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE customers_customer c SET name_key = v.key FROM unnest(%s::bigint[], %s::text[]) "
                    "AS v(id, key) WHERE c.id = v.id",
                    [[pk for pk, _key in values], [key for _pk, key in values]],
                )
            changed += len(values)
    return changed


def _search_text_new(customers):
    """Set ``search_text`` of unsaved customers (no contacts yet) as customer_search_refresh would."""
    columns = ("name", "credit_code", "email", "mobile", "phone")
    with connection.cursor() as cursor:
        cursor.execute(SEARCH_TEXT_NEW_SQL, [[getattr(c, name) or "" for c in customers] for name in columns])
        for customer, (text,) in zip(customers, cursor.fetchall(), strict=True):
            customer.search_text = text


def customer_search_refresh(*, customer_ids):
    """Rebuild the search column of these customers in one statement (bulk paths call it too)."""
    with connection.cursor() as cursor:
        cursor.execute(SEARCH_REFRESH_SQL, [list(customer_ids)])


# --- contacts -----------------------------------------------------------------------------------


def _check_customer_editable(user, customer):
    """The one edit-rights check of every write on a customer or its contacts."""
    from customers.selectors import customer_editable

    if not customer_editable(user=user, customer=customer):
        raise DomainError(_("您对该客户只有查看权限。"), code="read_only", status=403)


def _unset_other_primary(contact):
    if contact.is_primary:
        Contact.objects.filter(customer_id=contact.customer_id, is_primary=True).exclude(pk=contact.pk).update(
            is_primary=False
        )


@transaction.atomic
def contact_create(*, user, customer, data):
    _check_customer_editable(user, customer)
    data = _writable_data(user, "contact", data, None)
    form = _validated_form(ContactForm, user=user, data=data)
    contact = form.save(commit=False)
    contact.customer = customer
    contact.created_by = user
    contact.custom_fields = form.cleaned_data["custom_fields"]
    contact._history_user = user
    Customer.objects.select_for_update().filter(pk=customer.pk).first()  # one primary at a time
    _unset_other_primary(contact)
    contact.save()
    customer_search_refresh(customer_ids=[customer.pk])
    return contact


@transaction.atomic
def contact_update(*, user, contact, data):
    _check_customer_editable(user, contact.customer)
    data = {key: value for key, value in data.items() if key != "customer"}
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    from customers.selectors import contact_sees_full

    full = contact_sees_full(user=user, contact=locked)
    data = _writable_data(user, "contact", data, locked, masked_keys=_masked_keys(full=full, target="contact"))
    form = _validated_form(ContactForm, user=user, data=data, instance=locked)
    contact = form.save(commit=False)
    contact.custom_fields = form.cleaned_data["custom_fields"]
    contact._history_user = user
    _unset_other_primary(contact)
    contact.save()
    customer_search_refresh(customer_ids=[contact.customer_id])
    return contact


@transaction.atomic
def contact_delete(*, user, contact, request=None):
    _check_customer_editable(user, contact.customer)
    audit_record(actor=user, action=AuditAction.DELETE, target=contact, request=request)
    contact._history_user = user
    customer_id = contact.customer_id
    contact.delete()
    customer_search_refresh(customer_ids=[customer_id])


# --- saved views --------------------------------------------------------------------------------


def saved_view_create(*, user, name, params, target="customer"):
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("请填写视图名称。")]})
    if not isinstance(params, dict):
        raise ValidationError({"params": [_("筛选条件应为对象。")]})
    if SavedView.objects.filter(user=user, target=target, name=name).exists():
        raise ValidationError({"name": [_("已有同名视图。")]})
    return SavedView.objects.create(user=user, target=target, name=name, params=params)


def saved_view_delete(*, user, view):
    if view.user_id != user.pk:
        raise DomainError(_("未找到。"), code="not_found", status=404)
    view.delete()


# --- many at once (imports) ---------------------------------------------------------------------
# The importer writes tens of thousands of customers in one transaction. Each row is validated
# exactly as customer_create / customer_update validate one (field permissions, the same form);
# only the writes are batched: one INSERT per batch of rows, history and tag rows in bulk, the
# search column and name keys set-based.

# Rows per INSERT/UPDATE statement: ~25 columns × 1,000 rows stays far below PostgreSQL's 65,535
# bind parameters, and a batch's objects (forms included) are small enough to keep memory flat.
BULK_BATCH_SIZE = 1000


class _PreloadedChoiceField(forms.ModelChoiceField):
    """The form's own ModelChoiceField, answered from its queryset's rows loaded once per bulk run
    instead of one query per row; same rules, same messages."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        self.validate_no_null_characters(value)
        if isinstance(value, self.queryset.model):
            value = value.pk
        found = self._preloaded.get(str(value))
        if found is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value})
        return found


class _PreloadedMultipleChoiceField(forms.ModelMultipleChoiceField):
    def _check_values(self, value):
        try:
            value = frozenset(str(item) for item in value)
        except TypeError:
            raise ValidationError(self.error_messages["invalid_list"], code="invalid_list") from None
        for item in value:
            self.validate_no_null_characters(item)
            if item not in self._preloaded:
                raise ValidationError(
                    self.error_messages["invalid_choice"], code="invalid_choice", params={"value": item}
                )
        return [self._preloaded[item] for item in sorted(value)]

    def clean(self, value):
        # A blank optional choice cleans to ``queryset.none()`` — a new queryset each time (a
        # clone: ~15 µs, most rows of an import have no tags); the one made by _preload_choices
        # is as empty and is never changed (filtering it makes another).
        if not self.required and (value is None or value == "" or value == []):
            return self._preloaded_none
        return super().clean(value)


def _preload_choices(form, preloaded):
    """Give ``form``'s model choice fields their rows from ``preloaded`` ({field name: {pk: obj}},
    filled from the field's own queryset the first time)."""
    checked = set()
    for name, field in form.fields.items():
        if isinstance(field, forms.ModelMultipleChoiceField):
            field.__class__ = _PreloadedMultipleChoiceField
        elif isinstance(field, forms.ModelChoiceField):
            field.__class__ = _PreloadedChoiceField
            checked.add(name)
        else:
            continue
        if name not in preloaded:
            preloaded[name] = {str(obj.pk): obj for obj in field.queryset}
        field._preloaded = preloaded[name]
        field._preloaded_none = field.queryset.none()
    form.preloaded_foreign_keys = frozenset(checked)


class _BulkFormMixin:
    """A record form for bulk validation. The model's own check of a foreign key (ForeignKey.validate:
    one ``SELECT … LIMIT 1`` per row and key) is left out for the keys whose form field is
    preloaded: that field already accepted only a row of its queryset — a subset of what the
    model check allows (no ``limit_choices_to`` here) — so the rule is the same, without a query."""

    preloaded_foreign_keys = frozenset()
    exclusion_plan = None  # an _ExclusionPlan, for the copies _bind_copy makes

    def _get_validation_exclusions(self):
        if self.exclusion_plan is not None:
            return self.exclusion_plan.exclusions(self) | self.preloaded_foreign_keys
        return super()._get_validation_exclusions() | self.preloaded_foreign_keys


class _ExclusionPlan:
    """ModelForm._get_validation_exclusions (Django 5.2) split in two: which model fields a form
    leaves out whatever its data — not among its fields, not in Meta.fields, in Meta.exclude —
    worked out once for a prototype and its bound copies (they share its fields), and the rest
    per bound form: fields that failed the form's own validation, and empty values of optional
    form fields for model fields that may not be blank. Asked twice a row (model validation,
    then the unique checks): half of the per-row cost of _post_clean otherwise."""

    def __init__(self, form):
        opts = form._meta
        self.always = set()
        self.checked = []  # (name, whether an empty value excludes it, the form field's empty values)
        for model_field in form.instance._meta.fields:
            name = model_field.name
            if (
                name not in form.fields
                or (opts.fields and name not in opts.fields)
                or (opts.exclude and name in opts.exclude)
            ):
                self.always.add(name)
            else:
                form_field = form.fields[name]
                self.checked.append((name, not model_field.blank and not form_field.required, form_field.empty_values))

    def exclusions(self, form):
        exclude = set(self.always)
        errors, cleaned = form._errors, form.cleaned_data
        for name, empty_excludes, empty_values in self.checked:
            if name in errors or (empty_excludes and cleaned.get(name) in empty_values):
                exclude.add(name)
        return exclude


@functools.cache
def _bulk_form_class(form_class):
    return type(f"Bulk{form_class.__name__}", (_BulkFormMixin, form_class), {"__module__": __name__})


def _bind_copy(prototype, data):
    """``prototype`` (an unbound create form, its fields built, shaped for the user and preloaded
    once) bound to ``data`` with a new blank instance — what ``form_class(data=data, …)`` gives,
    without deep-copying ~25 fields and their widgets per row. The fields are shared between the
    copies: cleaning reads them and never changes them (what a form changes per bind — data,
    errors, cleaned_data, bound fields, the instance — is set fresh here)."""
    templates = prototype.__dict__.get("_bound_templates")
    if templates is None:
        templates = prototype._bound_templates = _bound_field_templates(prototype)
        prototype.exclusion_plan = _ExclusionPlan(prototype)
    form = copy.copy(prototype)
    form.data = data
    form.files = MultiValueDict()
    form.is_bound = True
    form._errors = None
    form._bound_fields_cache = cache = {}
    for name, bound_class, attributes in templates:
        bound = cache[name] = bound_class.__new__(bound_class)
        bound.__dict__.update(attributes)
        bound.form = form
    form._validate_unique = False
    form.instance = prototype._meta.model()
    form.__dict__.pop("cleaned_data", None)
    return form


def _bound_field_templates(prototype):
    """What each field's BoundField holds, for _bind_copy: a form's cleaning makes one per field
    and row (form[name]), and BoundField.__init__ works out only what is the same for every copy
    of ``prototype`` (its names with the form's prefix and auto_id, label, help text, renderer) —
    so a copy's bound fields are these, pointed at the copy. [(name, class, attributes but form)]"""
    templates = []
    for name, field in prototype.fields.items():
        bound = field.get_bound_field(prototype, name)
        attributes = dict(bound.__dict__)
        del attributes["form"]
        templates.append((name, type(bound), attributes))
    return templates


def _name_key(name):
    return normalize_company_name(name)[:200]


class RecordValidator:
    """Validates rows for ``user`` exactly as the single-record services do (``_writable_data``,
    then the record's form), with what is the same for every row loaded once. ``validate`` returns
    the valid form or raises DomainError (FormValidationError: errors per field)."""

    def __init__(self, *, user, target):
        self.user = user
        self.target = target
        self.form_class = _bulk_form_class(CustomerForm if target == "customer" else ContactForm)
        self.defs = custom_field_definitions(target)
        self.base = _current_values(self.form_class, self.form_class._meta.model(), self.defs)
        self.preloaded = {}
        self._masked = None
        self._prototype = None

    @property
    def prototype(self):
        """The create form for this user, built once and bound per row (see _bind_copy)."""
        if self._prototype is None:
            self._prototype = self.form_class(user=self.user, custom_definitions=self.defs)
            _preload_choices(self._prototype, self.preloaded)
        return self._prototype

    def masked_keys(self, *, full):
        if full:
            return set()
        if self._masked is None:
            self._masked = _masked_keys(full=False, target=self.target)
        return self._masked

    def fingerprint(self):
        """A digest of everything besides a row's own data that decides whether it is valid for
        this user: the custom field definitions, the user's field permissions and the rows each
        choice field accepts (levels, active sources and industries, tags) — read afresh. Equal
        digests: a row valid then is valid now, so a caller that kept ``cleaned_row`` of it may
        write it without validating again (the importer's commit after its preview)."""
        prototype = self.form_class(user=self.user, custom_definitions=self.defs)
        state = {
            "target": self.target,
            "fields": sorted(prototype.fields),
            "defs": [
                [(field.attname, getattr(definition, field.attname)) for field in definition._meta.concrete_fields]
                for definition in custom_field_definitions(self.target)
            ],
            "access": sorted(field_access(self.user, self.target).items()),
            "choices": {
                name: sorted(field.queryset.values_list("pk", flat=True))
                for name, field in prototype.fields.items()
                if isinstance(field, forms.ModelChoiceField)
            },
        }
        return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()

    def cleaned_row(self, form):
        """The record a valid create ``form`` would save, as JSON-able values ({model attname:
        value}, ``custom_fields``, ``tags`` as ids; customers also ``name_key``, the name's
        duplicate-check key) — what ``customer_create_many(cleaned_rows=…)`` writes as is."""
        instance = form.instance  # filled by the form's cleaning (construct_instance)
        row = {}
        for field in instance._meta.concrete_fields:
            if field.name in form.cleaned_data and field.name != "custom_fields":
                row[field.attname] = _json_value(getattr(instance, field.attname))
        if "name" in row and hasattr(instance, "name_key"):
            row["name_key"] = _name_key(row["name"])
        row["custom_fields"] = form.cleaned_data["custom_fields"]
        tags = form.cleaned_data.get("tags")
        if isinstance(tags, QuerySet) and tags.query.is_empty():
            tags = ()  # a blank multiple choice cleans to queryset.none(): nothing to ask the database
        row["tags"] = [tag.pk for tag in tags or ()]
        return row

    def release(self, form):
        """Done with ``form`` (one ``validate`` returned, or the form of its FormValidationError;
        None: nothing to do): its bound fields point back at it, a cycle that only Python's
        cyclic garbage collector frees (an import's preview of 100,000 rows: ~5 s of collections
        with it, 0.6 s without). Dropping them lets reference counting free the form and its
        row's objects as soon as the caller lets go. The form still works: it makes its bound
        fields again if asked (``form[name]``)."""
        if form is not None:
            form._bound_fields_cache = {}

    def validate(self, data, *, instance=None, full=True):
        data = _writable_data(self.user, self.target, data, instance, masked_keys=self.masked_keys(full=full))
        return _validated_form(
            self.form_class,
            user=self.user,
            data=data,
            instance=instance,
            defs=self.defs,
            base=self.base,
            preloaded=self.preloaded,
            prototype=self.prototype if instance is None else None,
        )


class BulkRowsInvalid(DomainError):
    """Some rows of a bulk write are invalid; nothing was written. ``rows``: {index: error}."""

    def __init__(self, rows):
        super().__init__(_("部分行的数据有误，未写入任何数据。"), code="invalid_rows")
        self.rows = rows


def _json_value(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# Model fields a bulk update writes (tags are rows of their own).
BULK_UPDATE_FIELDS = [name for name in CUSTOMER_FIELDS if name != "tags"] + [
    "custom_fields",
    "name_key",
    "version",
    "updated_at",
]


def _set_tags_many(tags_by_customer):
    """Replace the tags of these customers (set-based: one DELETE, one INSERT)."""
    if not tags_by_customer:
        return
    through = Customer.tags.through
    through.objects.filter(customer_id__in=list(tags_by_customer)).delete()
    through.objects.bulk_create(
        [through(customer_id=pk, tag_id=tag_id) for pk, tag_ids in tags_by_customer.items() for tag_id in tag_ids],
        batch_size=BULK_BATCH_SIZE,
    )


def _customer_from_cleaned(row):
    """An unsaved Customer from ``RecordValidator.cleaned_row`` output, and its tag ids."""
    customer = Customer()
    for attname, value in row.items():
        if attname in ("tags", "custom_fields"):
            continue
        field = Customer._meta.get_field(attname)  # by attname too: level_id → level
        setattr(customer, field.attname, field.to_python(value) if value is not None else None)
    customer.custom_fields = row.get("custom_fields") or {}
    return customer, list(row.get("tags") or [])


# The customers' GIN indexes (search words, name and name key trigrams, custom fields). New rows
# go to each one's pending list (fastupdate), merged into the index proper whenever the list passes
# gin_pending_list_limit (4 MB) — during a bulk create, every few hundred rows, each merge in
# work_mem (4 MB) pieces. customer_bulk_indexing lets the lists grow to BULK_GIN_PENDING_LIMIT and
# merges them every BULK_GIN_MERGE_ROWS rows with gin_clean_pending_list (maintenance_work_mem):
# 15,000 rows took 9.5 s of database time instead of 12.6–17.5 s on the bench data. Meanwhile a
# trigram search elsewhere reads a longer pending list (~15,000 rows' entries at most).
CUSTOMER_GIN_INDEXES = (
    "customer_search_trgm",
    "customer_name_trgm",
    "customer_name_key_trgm",
    "customer_custom_fields_gin",
)
BULK_GIN_PENDING_LIMIT = "64MB"
BULK_GIN_MERGE_ROWS = 15_000


def customer_indexes_merge():
    """Merge the customers' GIN pending lists into their indexes (gin_clean_pending_list). Needs to
    own the indexes (the app's database user does: it ran the migrations); without that nothing
    is merged and the database merges them itself later."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT gin_clean_pending_list(name::regclass) FROM unnest(%s::text[]) AS name",
                [list(CUSTOMER_GIN_INDEXES)],
            )
    except DatabaseError:
        pass


class _BulkIndexing:
    def __init__(self, *, matched_alongside):
        self.pending = 0
        self.matched_alongside = matched_alongside

    def created(self, count):
        """``count`` more customers written; merges the pending lists every BULK_GIN_MERGE_ROWS
        (and the name key's after every batch when matched alongside)."""
        self.pending += count
        if self.pending >= BULK_GIN_MERGE_ROWS:
            customer_indexes_merge()
            self.pending = 0
        elif count and self.matched_alongside:
            flush_name_index()


@contextlib.contextmanager
def customer_bulk_indexing(*, matched_alongside=False):
    """Inside a transaction that creates tens of thousands of customers (an import's commit): the
    GIN pending lists may grow to BULK_GIN_PENDING_LIMIT (this transaction only) and are merged
    in large batches — tell the yielded object ``created(n)`` after each bulk create. Merged
    once more and the setting put back at the end.

    ``matched_alongside``: another connection runs the duplicate check meanwhile. Its name
    lookups read the name key index's whole pending list, this transaction's entries included
    (invisible to it, but read): a list of 15,000 rows made each lookup ~20× slower. So that
    list is merged after every batch."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('gin_pending_list_limit'), set_config('gin_pending_list_limit', %s, true)",
            [BULK_GIN_PENDING_LIMIT],
        )
        previous = cursor.fetchone()[0]
    indexing = _BulkIndexing(matched_alongside=matched_alongside)
    yield indexing  # on an exception the transaction (and with it the setting) is rolled back
    if indexing.pending:
        customer_indexes_merge()
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('gin_pending_list_limit', %s, true)", [previous])


@transaction.atomic
def customer_create_many(*, user, rows=None, owner=None, validator=None, change_reason="", cleaned_rows=None):
    """Create many customers (``rows``: the data dicts customer_create takes), all or none: every
    row is validated first; any invalid row raises BulkRowsInvalid and nothing is written. Returns
    the new customers in the order of ``rows``. Callers stream large inputs in batches of about
    BULK_BATCH_SIZE rows inside their own transaction.

    ``cleaned_rows`` instead of ``rows``: ``validator.cleaned_row`` of rows the caller validated
    with a validator whose ``fingerprint()`` is still the one it has now (the caller checks) —
    written without validating again."""
    validator = validator or RecordValidator(user=user, target="customer")
    owner = owner or user
    customers, tags, errors = [], [], {}
    for row in cleaned_rows or ():
        customer, tag_ids = _customer_from_cleaned(row)
        customer.owner = owner
        customer.department_id = owner.department_id
        customer.created_by = user
        if "name_key" not in row:  # cleaned_row gives it (from the same name)
            customer.name_key = _name_key(customer.name)
        customers.append(customer)
        tags.append(tag_ids)
    for index, data in enumerate(rows or ()):
        try:
            form = validator.validate(data)
        except DomainError as error:
            errors[index] = error
            continue
        customer = form.save(commit=False)
        customer.owner = owner
        customer.department_id = owner.department_id
        customer.created_by = user
        customer.custom_fields = form.cleaned_data["custom_fields"]
        customer.name_key = _name_key(customer.name)
        customers.append(customer)
        tags.append([tag.pk for tag in form.cleaned_data.get("tags") or []])
    if errors:
        raise BulkRowsInvalid(errors)
    for start in range(0, len(customers), BULK_BATCH_SIZE):
        _search_text_new(customers[start : start + BULK_BATCH_SIZE])
    copy_create(Customer, customers)
    ids = [customer.pk for customer in customers]
    _set_tags_many({pk: tag_ids for pk, tag_ids in zip(ids, tags, strict=True) if tag_ids})
    # One "created" history row per customer, then its tags copied into it (as customer_create).
    history = copy_create(Customer.history.model, _created_history(customers, user=user, change_reason=change_reason))
    _snapshot_tags_into_history({row.id: row.history_id for row in history})
    return customers


def _created_history(customers, *, user, change_reason):
    """The "created" history rows of new ``customers`` (unsaved), as simple_history's
    ``bulk_history_create(default_user=user, default_change_reason=change_reason)`` builds them;
    one history date for the batch."""
    model = Customer.history.model
    now = timezone.now()
    return [
        model(
            history_date=now,
            history_user=user,
            history_change_reason=change_reason,
            history_type="+",
            **{field.attname: getattr(customer, field.attname) for field in model.tracked_fields},
        )
        for customer in customers
    ]


@transaction.atomic
def customer_update_many(*, user, changes, validator=None, change_reason=""):
    """Apply ``changes`` ({customer id: data}) as customer_update would, all or none: each customer
    must be editable by ``user`` (else BulkRowsInvalid for it); field permissions and masking as in
    customer_update. Customers whose data changes nothing are left alone. Returns
    {customer id: (new version, previous values of the changed fields)} for the changed ones."""
    from customers.selectors import customer_list, sees_full_contact

    validator = validator or RecordValidator(user=user, target="customer")
    ids = sorted(changes)
    locked = {
        customer.pk: customer
        for customer in customer_list(user=user)
        .filter(Customer.objects.editable_q(user), pk__in=ids)
        .select_for_update(of=("self",))
        .order_by("pk")
    }
    errors = {pk: DomainError(_("您对该客户只有查看权限。"), code="read_only") for pk in ids if pk not in locked}
    changed, tags, result = [], {}, {}
    now = timezone.now()
    for pk in ids:
        customer = locked.get(pk)
        if customer is None:
            continue
        before = {name: getattr(customer, customer._meta.get_field(name).attname) for name in BULK_UPDATE_FIELDS}
        before_tags = sorted(tag.pk for tag in customer.tags.all())
        try:
            full = sees_full_contact(user=user, customer=customer)
            form = validator.validate(changes[pk], instance=customer, full=full)
        except DomainError as error:
            errors[pk] = error
            continue
        if not form.has_changed():
            continue
        customer = form.save(commit=False)
        customer.custom_fields = form.cleaned_data["custom_fields"]
        customer.name_key = _name_key(customer.name)
        customer.version = before["version"] + 1
        customer.updated_at = now
        previous = {
            name: _json_value(value)
            for name, value in before.items()
            if name not in ("updated_at", "version", "name_key")
            and getattr(customer, customer._meta.get_field(name).attname) != value
        }
        if "tags" in form.fields and not form.fields["tags"].disabled:
            new_tags = sorted(tag.pk for tag in form.cleaned_data.get("tags") or [])
            if new_tags != before_tags:
                tags[pk] = new_tags
                previous["tags"] = before_tags
        if not previous:
            continue
        customer._history_user = user
        changed.append(customer)
        result[pk] = (customer.version, previous)
    if errors:
        raise BulkRowsInvalid(errors)
    _set_tags_many(tags)
    bulk_update_with_history(
        changed,
        Customer,
        BULK_UPDATE_FIELDS,
        batch_size=BULK_BATCH_SIZE,
        default_user=user,
        default_change_reason=change_reason,
    )
    changed_ids = [customer.pk for customer in changed]
    _snapshot_tags_into_latest_history(changed_ids)
    customer_search_refresh(customer_ids=changed_ids)
    return result


def _lock_unchanged(user, versions):
    """The customers of ``versions`` ({id: version}) locked, or ConflictError listing those that
    changed since (another version, deleted, or purged) — nothing is written then."""
    rows = {
        customer.pk: customer
        for customer in Customer.objects.filter(pk__in=list(versions)).select_for_update().order_by("pk")
    }
    moved = sorted(pk for pk, version in versions.items() if pk not in rows or rows[pk].version != version)
    if moved:
        raise ConflictError(
            _("有 %(n)s 个客户在导入后已被修改或删除，无法撤销。") % {"n": len(moved)},
            code="changed_since",
            extra={"customer_ids": moved[:100]},
        )
    return rows


@transaction.atomic
def customer_revert_many(*, user, items, change_reason=""):
    """Put customers back to earlier values (undo of an import's updates), all or none.
    ``items``: {customer id: (the version it must still have, {field: previous value})}. Any
    customer changed since raises ConflictError and nothing is written."""
    rows = _lock_unchanged(user, {pk: version for pk, (version, _previous) in items.items()})
    now = timezone.now()
    tags = {}
    for pk, (_version, previous) in items.items():
        customer = rows[pk]
        for name, value in previous.items():
            if name == "tags":
                tags[pk] = value
                continue
            field = customer._meta.get_field(name)
            setattr(customer, field.attname, field.to_python(value) if value is not None else None)
        customer.name_key = _name_key(customer.name)
        customer.version += 1
        customer.updated_at = now
        customer._history_user = user
    _set_tags_many(tags)
    bulk_update_with_history(
        list(rows.values()),
        Customer,
        BULK_UPDATE_FIELDS,
        batch_size=BULK_BATCH_SIZE,
        default_user=user,
        default_change_reason=change_reason,
    )
    _snapshot_tags_into_latest_history(list(rows))
    customer_search_refresh(customer_ids=list(rows))
    return len(rows)


@transaction.atomic
def customer_recycle_many(*, user, versions, change_reason="", request=None):
    """Move customers to the recycle bin (undo of an import's creates), all or none: ``versions``
    ({id: version}) must be unchanged (else ConflictError) and managed by ``user``. Audited like
    customer_delete, one event per customer."""
    rows = _lock_unchanged(user, versions)
    managed = set(Customer.objects.alive().managed_by(user).filter(pk__in=list(rows)).values_list("pk", flat=True))
    if managed != set(rows):
        raise DomainError(_("只有负责人或其上级可以删除客户。"), code="forbidden", status=403)
    now = timezone.now()
    for customer in rows.values():
        customer.deleted_at = now
        customer.deleted_by = user
        customer.version += 1
        customer.updated_at = now
        customer._history_user = user
    bulk_update_with_history(
        list(rows.values()),
        Customer,
        ["deleted_at", "deleted_by", "version", "updated_at"],
        batch_size=BULK_BATCH_SIZE,
        default_user=user,
        default_change_reason=change_reason,
    )
    _snapshot_tags_into_latest_history(list(rows))
    audit_record_many(actor=user, action=AuditAction.DELETE, targets=rows.values(), request=request)
    return len(rows)
