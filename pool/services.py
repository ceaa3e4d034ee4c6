"""Writes of the public pool: claim, release, assign, lock, unlock, the nightly recall, the
ownership limits (also registered into customer create/transfer; ``owner_limit_check`` is the one
the importer calls) and pool configuration. Owner changes go through
``customers.services.customer_owner_set`` (one statement, history rows with the reason); every
change writes a PoolEvent (the customer's timeline) and an audit event."""

from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from audit.models import AuditAction
from audit.services import audit_record, audit_record_many
from crm.errors import ConflictError, DomainError
from customers import selectors as customer_selectors
from customers.models import Customer, CustomerLevel, DealStatus
from customers.services import customer_owner_set
from pool import selectors
from pool.models import (
    DEFAULT_LEVEL_DAYS,
    CustomerPoolState,
    Pool,
    PoolEvent,
    PoolEventKind,
    PoolLevelRule,
    PoolSettings,
)

OWNER_LIMIT_MESSAGE = gettext_noop("拥有客户已达上限")
# pg_advisory_xact_lock namespace: one claimant's (or assignee's) limit checks at a time.
LIMIT_LOCK_NAMESPACE = 5_001
REASON_MAX_LENGTH = 200


def _single(customer_id, reason):
    return "SELECT %s::bigint AS id, %s::text AS reason", [customer_id, reason]


def _serialize_owner(user):
    """Hold the transaction-scoped advisory lock of ``user``: two claims (or an assignment and a
    claim) for the same person run one after the other, so counts and limits cannot race."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LIMIT_LOCK_NAMESPACE, user.pk])


def _lock_customer(customer):
    """The customer row, locked (FOR UPDATE): the second of two concurrent claims waits here and
    then sees the first one's owner. None when it is gone or in the recycle bin."""
    return Customer.objects.select_for_update().filter(pk=customer.pk, deleted_at__isnull=True).first()


def _state_for_update(customer):
    CustomerPoolState.objects.get_or_create(customer_id=customer.pk)
    return CustomerPoolState.objects.select_for_update().get(customer_id=customer.pk)


def _clean_reason(reason, *, required):
    reason = (reason or "").strip()
    if required and not reason:
        raise DomainError(_("请填写原因。"), fields={"reason": [_("请填写原因。")]})
    if len(reason) > REASON_MAX_LENGTH:
        message = _("原因最多 %(n)s 个字。") % {"n": REASON_MAX_LENGTH}
        raise DomainError(message, fields={"reason": [message]})
    return reason


# --- limits -------------------------------------------------------------------------------------


def owner_limit_check(*, owner, customers):
    """Refuse (DomainError "拥有客户已达上限") if ``owner`` taking ``customers`` (rows or unsaved
    instances not yet theirs) would pass their limit of owned customers. Registered into
    customers.services.OWNER_LIMIT_CHECKS (create, transfer); claims, assignments and the
    importer call it directly (the importer with the unsaved rows of one owner)."""
    limits = selectors.limits_for(owner)
    adding = [
        customer
        for customer in customers
        if customer.owner_id != owner.pk and (limits.count_dealt or customer.deal_status != DealStatus.WON)
    ]
    if not adding:
        return
    owned = selectors.owned_count(owner, count_dealt=limits.count_dealt)
    if owned + len(adding) > limits.max_owned:
        raise DomainError(
            _(OWNER_LIMIT_MESSAGE),
            code="owner_limit",
            extra={"limit": limits.max_owned, "owned": owned},
        )


def owner_capacity(*, owner):
    """How many more customers ``owner`` may take (for the importer's preview)."""
    limits = selectors.limits_for(owner)
    return max(limits.max_owned - selectors.owned_count(owner, count_dealt=limits.count_dealt), 0)


# --- claim, release, assign ----------------------------------------------------------------------


@transaction.atomic
def pool_customer_claim(*, user, customer, request=None, now=None):
    """``user`` takes a pool customer (领取). Exactly one of two concurrent claims wins: the row
    lock makes the second wait and then find an owner (409 ``already_claimed``). Refused over the
    daily claim limit, within the cooldown after ``user`` released or lost it, and over the
    ownership limit. The claim restarts the recall clock."""
    now = now or timezone.now()
    if not user.has_perm(selectors.CLAIM_PERMISSION):
        raise DomainError(_("您没有领取公海客户的权限。"), code="permission_denied", status=403)
    _serialize_owner(user)
    row = _lock_customer(customer)
    if row is None:
        raise DomainError(_("未找到。"), code="not_found", status=404)
    if row.owner_id is not None:
        raise ConflictError(_("该客户已被他人领取。"), code="already_claimed")
    state = _state_for_update(row)
    pool = selectors.pool_for_customer(row, state=state)
    limits = selectors.limits_for(user)
    if selectors.claims_today(user, now=now) >= limits.claim_daily_limit:
        raise DomainError(
            _("今日领取已达上限（%(n)s 个）。") % {"n": limits.claim_daily_limit}, code="claim_daily_limit"
        )
    if selectors.in_cooldown(user, row, days=limits.reclaim_cooldown_days, now=now):
        raise DomainError(
            _("您在 %(days)s 天内退回或失去过该客户，暂不能领取。") % {"days": limits.reclaim_cooldown_days},
            code="reclaim_cooldown",
        )
    owner_limit_check(owner=user, customers=[row])
    sql, params = _single(row.pk, _("领取公海客户"))
    customer_owner_set(source_sql=sql, params=params, owner=user, actor=user, now=now)
    _state_owned(state, owner=user, now=now)
    PoolEvent.objects.create(
        customer_id=row.pk, kind=PoolEventKind.CLAIM, at=now, actor=user, new_owner=user, pool=pool
    )
    audit_record(
        actor=user, action=AuditAction.POOL_CLAIM, target=row, data={"pool": pool.pk if pool else None}, request=request
    )
    row.refresh_from_db()
    return row


def _state_owned(state, *, owner, now):
    state.claimed_at = now
    state.claimed_by = owner
    state.entered_at = None
    state.locked_at = None
    state.locked_by = None
    state.save(update_fields=["claimed_at", "claimed_by", "entered_at", "locked_at", "locked_by"])


@transaction.atomic
def pool_customer_release(*, user, customer, reason, request=None, now=None):
    """The owner (or a manager above them) puts a customer back into its pool (退回公海), with a
    reason; its lock goes; the owner cannot claim it back during the cooldown."""
    now = now or timezone.now()
    reason = _clean_reason(reason, required=True)
    row = _lock_customer(customer)
    if row is None or row.owner_id is None:
        raise DomainError(_("该客户已在公海中。"), code="already_in_pool")
    if not customer_selectors.customer_manageable(user=user, customer=row):
        raise DomainError(_("只有负责人或其上级可以退回客户。"), code="forbidden", status=403)
    state = _state_for_update(row)
    pool = selectors.pool_for_customer(row, state=state)
    if pool is None:
        raise DomainError(_("没有可退回的公海，请先设置公海。"), code="no_pool")
    previous_owner_id = row.owner_id
    sql, params = _single(row.pk, _("退回公海：%(reason)s") % {"reason": reason})
    customer_owner_set(source_sql=sql, params=params, owner=None, actor=user, now=now)
    _state_in_pool(state, pool=pool, now=now)
    PoolEvent.objects.create(
        customer_id=row.pk,
        kind=PoolEventKind.RELEASE,
        at=now,
        actor=user,
        previous_owner_id=previous_owner_id,
        pool=pool,
        reason=reason,
    )
    audit_record(
        actor=user,
        action=AuditAction.POOL_RELEASE,
        target=row,
        data={"pool": pool.pk, "reason": reason, "previous_owner": previous_owner_id},
        request=request,
    )
    row.refresh_from_db()
    return row


def _state_in_pool(state, *, pool, now):
    state.pool = pool
    state.entered_at = now
    state.claimed_at = None
    state.claimed_by = None
    state.locked_at = None
    state.locked_by = None
    state.save(update_fields=["pool", "entered_at", "claimed_at", "claimed_by", "locked_at", "locked_by"])


@transaction.atomic
def pool_customer_assign(*, user, customer, to_user, reason="", request=None, now=None):
    """A pool admin (or a manager with the assign permission) gives a pool customer to a staff
    member in their scope (分配). The assignee's ownership limit applies; the clock restarts."""
    now = now or timezone.now()
    reason = _clean_reason(reason, required=False)
    if to_user is None or not to_user.is_active:
        raise DomainError(_("该员工不存在或已停用。"), fields={"to_user": [_("该员工不存在或已停用。")]})
    _serialize_owner(to_user)
    row = _lock_customer(customer)
    if row is None:
        raise DomainError(_("未找到。"), code="not_found", status=404)
    if row.owner_id is not None:
        raise ConflictError(_("该客户已被他人领取。"), code="already_claimed")
    state = _state_for_update(row)
    pool = selectors.pool_for_customer(row, state=state)
    if not selectors.can_assign(user=user, pool=pool):
        raise DomainError(_("只有公海管理员或主管可以分配公海客户。"), code="forbidden", status=403)
    if not selectors.assignable_users(user=user, pool=pool).filter(pk=to_user.pk).exists():
        message = _("只能分配给您管理范围内的员工。")
        raise DomainError(message, fields={"to_user": [message]})
    owner_limit_check(owner=to_user, customers=[row])
    label = _("公海分配")
    sql, params = _single(row.pk, f"{label}：{reason}" if reason else label)
    customer_owner_set(source_sql=sql, params=params, owner=to_user, actor=user, now=now)
    _state_owned(state, owner=to_user, now=now)
    PoolEvent.objects.create(
        customer_id=row.pk,
        kind=PoolEventKind.ASSIGN,
        at=now,
        actor=user,
        new_owner=to_user,
        pool=pool,
        reason=reason,
    )
    audit_record(
        actor=user,
        action=AuditAction.POOL_ASSIGN,
        target=row,
        data={"pool": pool.pk if pool else None, "to_user": to_user.pk, "reason": reason},
        request=request,
    )
    row.refresh_from_db()
    return row


# --- lock ---------------------------------------------------------------------------------------


def _check_can_lock(user, row, pool):
    if row.owner_id == user.pk or selectors.is_pool_admin(user, pool):
        return
    raise DomainError(_("只有负责人或公海管理员可以锁定或解锁客户。"), code="forbidden", status=403)


@transaction.atomic
def pool_customer_lock(*, user, customer, request=None, now=None):
    """锁定: an owned customer that the recall never takes back, within the owner's lock limit."""
    now = now or timezone.now()
    row = _lock_customer(customer)
    if row is None or row.owner_id is None:
        raise DomainError(_("公海中的客户不能锁定。"), code="in_pool")
    owner = row.owner
    _serialize_owner(owner)
    state = _state_for_update(row)
    pool = selectors.pool_for_customer(row, state=state)
    _check_can_lock(user, row, pool)
    if state.locked_at is not None:
        raise ConflictError(_("该客户已锁定。"), code="already_locked")
    limits = selectors.limits_for(owner)
    if selectors.locked_count(owner) >= limits.max_locked:
        raise DomainError(_("锁定客户已达上限（%(n)s 个）。") % {"n": limits.max_locked}, code="lock_limit")
    state.locked_at = now
    state.locked_by = user
    state.save(update_fields=["locked_at", "locked_by"])
    PoolEvent.objects.create(customer_id=row.pk, kind=PoolEventKind.LOCK, at=now, actor=user, pool=pool)
    audit_record(actor=user, action=AuditAction.POOL_LOCK, target=row, request=request)
    return state


@transaction.atomic
def pool_customer_unlock(*, user, customer, request=None, now=None):
    now = now or timezone.now()
    row = _lock_customer(customer)
    if row is None or row.owner_id is None:
        raise DomainError(_("该客户未锁定。"), code="not_locked")
    state = _state_for_update(row)
    pool = selectors.pool_for_customer(row, state=state)
    _check_can_lock(user, row, pool)
    if state.locked_at is None:
        raise DomainError(_("该客户未锁定。"), code="not_locked")
    state.locked_at = None
    state.locked_by = None
    state.save(update_fields=["locked_at", "locked_by"])
    PoolEvent.objects.create(customer_id=row.pk, kind=PoolEventKind.UNLOCK, at=now, actor=user, pool=pool)
    audit_record(actor=user, action=AuditAction.POOL_UNLOCK, target=row, request=request)
    return state


# --- transfer follower --------------------------------------------------------------------------


def pool_clock_restart_on_transfer(*, user, customer_ids, to_owner, options):
    """Registered in customers.services.TRANSFER_FOLLOWERS: a transfer is an assignment — the
    recall clock restarts for the new owner and the old owner's locks go. One statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO pool_customerpoolstate (customer_id, claimed_at, claimed_by_id)
            SELECT id, %s, %s FROM unnest(%s::bigint[]) AS id
            ON CONFLICT (customer_id) DO UPDATE SET claimed_at = EXCLUDED.claimed_at,
                claimed_by_id = EXCLUDED.claimed_by_id, locked_at = NULL, locked_by_id = NULL, entered_at = NULL
            """,
            [timezone.now(), to_owner.pk, list(customer_ids)],
        )
        return cursor.rowcount


# --- the nightly recall -------------------------------------------------------------------------


@transaction.atomic
def pool_recall_run(*, now=None):
    """Return every due customer to its pool (SPEC §2.2) in set-based SQL: the due rows (locked
    FOR UPDATE, SKIP LOCKED) into a temporary table, then one statement each for the events, the
    pool states and the owners (with history rows), and the audit events in batches. Run nightly
    at 02:00 by pool.tasks, once per day."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.pool_due")
        cursor.execute(
            f"CREATE TEMP TABLE pool_due ON COMMIT DROP AS {selectors.due_sql(lock=True)}",
            selectors.due_params(cutoff=now),
        )
        # The reason in the company's language: one template per rule, filled per row.
        cursor.execute("ALTER TABLE pool_due ADD COLUMN reason_text text")
        cursor.execute(
            "UPDATE pool_due SET reason_text = "
            "replace(CASE reason WHEN 'no_deal' THEN %s ELSE %s END, '{days}', days::text)",
            [_("超过 {days} 天未成交"), _("超过 {days} 天未跟进")],
        )
        cursor.execute("ALTER TABLE pool_due ADD PRIMARY KEY (id)")
        cursor.execute("ANALYZE pool_due")
        cursor.execute(
            """
            INSERT INTO pool_poolevent (customer_id, kind, at, previous_owner_id, pool_id, reason)
            SELECT id, %s, %s, owner_id, pool_id, reason_text FROM pool_due
            """,
            [PoolEventKind.RECALL, now],
        )
        recalled = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO pool_customerpoolstate (customer_id, pool_id, entered_at)
            SELECT id, pool_id, %s FROM pool_due
            ON CONFLICT (customer_id) DO UPDATE SET pool_id = EXCLUDED.pool_id, entered_at = EXCLUDED.entered_at,
                claimed_at = NULL, claimed_by_id = NULL, locked_at = NULL, locked_by_id = NULL
            """,
            [now],
        )
        cursor.execute("SELECT reason_text, count(*) FROM pool_due GROUP BY reason_text ORDER BY reason_text")
        reasons = cursor.fetchall()
    label = _("自动回收")
    customer_owner_set(
        source_sql="SELECT id, %s || '：' || reason_text AS reason FROM pool_due",
        params=[label],
        owner=None,
        actor=None,
        now=now,
    )
    for reason, _count in reasons:
        # Rows streamed in the batches audit_record_many writes (1,000 per INSERT).
        targets = (
            Customer.objects.filter(pk__in=RawSQL("SELECT id FROM pool_due WHERE reason_text = %s", [reason]))
            .only("pk", "name")
            .iterator(chunk_size=2000)
        )
        audit_record_many(actor=None, action=AuditAction.POOL_RECALL, targets=targets, data={"reason": reason})
    return {"recalled": recalled}


# --- reminders ----------------------------------------------------------------------------------


def register_reminders():
    """Registers the "customer returning to the pool in 2 days" reminder kind (``pool_return``)
    with the notifications app's reminder registry: daily, to the owner, once per recall clock
    (a follow-up or a claim starts a new one)."""
    from notifications.reminders import DAILY, ReminderKind, register

    register(
        ReminderKind(
            key="pool_return",
            rows=selectors.return_warning_rows,
            fields=("customer_name",),
            title=gettext_lazy("客户即将退回公海：%(customer_name)s"),
            body=gettext_lazy("该客户即将因未跟进或未成交自动回收到公海，跟进或锁定即可保留。"),
            link=_returning_link,
            cadence=DAILY,
            label=gettext_lazy("待进入公海"),
        )
    )


def _returning_link(row):
    return "/pool/returning/"


# --- configuration ------------------------------------------------------------------------------


@transaction.atomic
def pool_create(*, name, departments=(), admins=(), serves_everyone=False, is_default=False, **options):
    """A pool with the default level rules (A 60, B 30, C 15 days; others: the pool's days)."""
    pool = Pool.objects.create(name=name, serves_everyone=serves_everyone, is_default=is_default, **options)
    pool.departments.set(departments)
    pool.admins.set(admins)
    pool_default_rules(pool=pool)
    return pool


def pool_default_rules(*, pool):
    levels = CustomerLevel.objects.filter(code__in=list(DEFAULT_LEVEL_DAYS))
    for level in levels:
        PoolLevelRule.objects.get_or_create(
            pool=pool, level=level, defaults={"no_follow_up_days": DEFAULT_LEVEL_DAYS[level.code]}
        )


@transaction.atomic
def pool_limits_update(*, user, data, request=None):
    """Change the company-wide limits (``data``: field → value), audited."""
    company = PoolSettings.current()
    changed = {}
    for field, value in data.items():
        if getattr(company, field) != value:
            changed[field] = value
            setattr(company, field, value)
    if changed:
        company.save(update_fields=list(changed))
        audit_record(
            actor=user,
            action=AuditAction.POOL_SETTINGS_CHANGE,
            target=company,
            data={"changed": {key: str(value) for key, value in changed.items()}},
            request=request,
        )
    return company


@transaction.atomic
def pool_rules_update(*, user, pool, data, level_days, request=None):
    """Change a pool's options (``data``: field → value) and its days per level
    (``level_days``: level id → days, None removes the rule)."""
    changed = {}
    for field, value in data.items():
        if getattr(pool, field) != value:
            changed[field] = value
            setattr(pool, field, value)
    if changed:
        pool.save(update_fields=[*changed, "updated_at"])
    for level_id, days in level_days.items():
        if days is None:
            PoolLevelRule.objects.filter(pool=pool, level_id=level_id).delete()
        else:
            PoolLevelRule.objects.update_or_create(pool=pool, level_id=level_id, defaults={"no_follow_up_days": days})
    audit_record(
        actor=user,
        action=AuditAction.POOL_SETTINGS_CHANGE,
        target=pool,
        data={
            "changed": {key: str(value) for key, value in changed.items()},
            "level_days": {str(k): v for k, v in level_days.items()},
        },
        request=request,
    )
    return pool
