"""Reads of the public pool: which pools a user is served by, the pool list (the one home of the
pool's visibility rule — customers without an owner never appear in ``Customer.objects.visible_to``),
the recall rules as one SQL query (shared by the nightly recall and the "待进入公海" list),
counts for the limits, and the customer timeline source."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.db.models import CharField, Exists, F, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce, Greatest
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.models import Customer, DealStatus
from pool import registry
from pool.models import CustomerPoolState, Pool, PoolEvent, PoolEventKind, PoolSettings, RoleLimit
from staff.models import Department, User
from staff.scope import scope_filter

CLAIM_PERMISSION = "pool.claim_customer"
ASSIGN_PERMISSION = "pool.assign_customer"


# --- pools --------------------------------------------------------------------------------------


def default_pool():
    return Pool.objects.filter(is_default=True).first()


def _ancestor_ids(department):
    """The department and those above it, from its materialised path ("/1/3/7/")."""
    if department is None:
        return []
    ids = [int(part) for part in (department.path or "").strip("/").split("/") if part.isdigit()]
    return ids or [department.pk]


def pools_serving_q(department):
    ancestors = _ancestor_ids(department)
    return Q(serves_everyone=True) | Q(departments__in=ancestors) if ancestors else Q(serves_everyone=True)


def pools_for_user(user):
    """The pools whose customers ``user`` sees: those serving their department (with the claim
    permission) and those they administer; superusers see every pool; inactive users none."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Pool.objects.none()
    if user.is_superuser:
        return Pool.objects.all()
    query = Q(admins=user)
    if user.has_perm(CLAIM_PERMISSION):
        query |= pools_serving_q(user.department)
    return Pool.objects.filter(pk__in=Pool.objects.filter(query).values("pk"))


def is_pool_admin(user, pool):
    if user.is_superuser:
        return True
    return pool is not None and pool.admins.filter(pk=user.pk).exists()


def department_pool_map():
    """{department id: pool id} — the most specific non-default pool serving each department
    (a pool serving everyone counts as the least specific); departments no such pool serves are
    left out (they return to the default pool). A few queries over the (small) department tree."""
    departments = list(Department.objects.values_list("pk", "path"))
    served = {}
    for pool_id, department_id in Pool.departments.through.objects.filter(pool__is_default=False).values_list(
        "pool_id", "department_id"
    ):
        served.setdefault(department_id, pool_id)
    everyone = Pool.objects.filter(serves_everyone=True, is_default=False).order_by("pk").values_list("pk", flat=True)
    fallback = everyone.first()
    mapping = {}
    for department_id, path in departments:
        pool_id = None
        ids = [int(part) for part in (path or "").strip("/").split("/") if part.isdigit()] or [department_id]
        for ancestor in reversed(ids):  # the department itself first, then upwards
            if ancestor in served:
                pool_id = served[ancestor]
                break
        pool_id = pool_id or fallback
        if pool_id:
            mapping[department_id] = pool_id
    return mapping


def pool_for_customer(customer, *, state=None):
    """The pool ``customer`` belongs to (in a pool) or would return to (owned)."""
    state = state if state is not None else CustomerPoolState.objects.filter(customer_id=customer.pk).first()
    if state is not None and state.pool_id:
        pool = Pool.objects.filter(pk=state.pool_id).first()
        if pool is not None:
            return pool
    pool_id = department_pool_map().get(customer.department_id)
    return (Pool.objects.filter(pk=pool_id).first() if pool_id else None) or default_pool()


# --- the pool list ------------------------------------------------------------------------------


def in_pools_q(pool_ids):
    query = Q(pool_state__pool_id__in=pool_ids)
    default = default_pool()
    if default is not None and default.pk in pool_ids:
        query |= Q(pool_state__isnull=True) | Q(pool_state__pool__isnull=True)
    return query


def pool_customer_list(*, user, pool=None):
    """Customers in the pools ``user`` is served by (or one of them: ``pool``), with their pool
    state joined: ``pool_id_value`` (None: the default pool) and ``entered_pool_at``."""
    pool_ids = set(pools_for_user(user).values_list("pk", flat=True))
    if pool is not None:
        pool_ids &= {pool.pk}
    if not pool_ids:
        return Customer.objects.none()
    # The pool's own rule over the customers table: alive, no owner, in one of these pools.
    return (
        Customer.objects.alive()
        .filter(owner__isnull=True)
        .filter(in_pools_q(pool_ids))
        .select_related("level", "source", "industry", "pool_state", "pool_state__pool")
    )


def pool_customer_get(*, user, pk):
    """One pool customer ``user`` may see, or 404 — the same for missing, owned and out of scope."""
    try:
        return pool_customer_list(user=user).get(pk=pk)
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def assignable_users(*, user, pool):
    """Whom ``user`` may give a customer of ``pool``: a pool admin (or superuser) anyone active the
    pool serves; a manager holding the assign permission the active staff in their data scope."""
    active = User.objects.filter(is_active=True)
    if is_pool_admin(user, pool):
        if pool.serves_everyone or pool.is_default:
            return active
        served = Department.objects.none()
        for department in pool.departments.all():
            served = served | Department.objects.subtree_of(department)
        return active.filter(department__in=served.values("pk"))
    if not user.has_perm(ASSIGN_PERMISSION):
        return User.objects.none()
    # The staff in the manager's data scope: the one scope rule (staff.scope), users as rows.
    return active.filter(scope_filter(user, owner_field="pk"))


def can_assign(*, user, pool):
    return is_pool_admin(user, pool) or user.has_perm(ASSIGN_PERMISSION)


# --- limits -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    max_owned: int
    max_locked: int
    claim_daily_limit: int
    count_dealt: bool
    reclaim_cooldown_days: int
    warn_days: int


def limits_for(user):
    """The company's limits, or — per field — the most generous override among the user's roles
    (a role without an override gives the company's value)."""
    company = PoolSettings.current()
    role_ids = list(user.roles.values_list("pk", flat=True)) if user.pk else []
    overrides = {row.role_id: row for row in RoleLimit.objects.filter(role_id__in=role_ids)}

    def pick(field):
        if not role_ids:
            return getattr(company, field)
        values = []
        for role_id in role_ids:
            value = getattr(overrides[role_id], field) if role_id in overrides else None
            values.append(getattr(company, field) if value is None else value)
        return max(values)

    return Limits(
        max_owned=pick("max_owned"),
        max_locked=pick("max_locked"),
        claim_daily_limit=pick("claim_daily_limit"),
        count_dealt=company.count_dealt,
        reclaim_cooldown_days=company.reclaim_cooldown_days,
        warn_days=company.warn_days,
    )


def owned_count(user, *, count_dealt=True):
    """Customers ``user`` owns (not in the recycle bin), for the limit — an index count on owner."""
    rows = Customer.objects.alive().filter(owner_id=user.pk)
    if not count_dealt:
        rows = rows.exclude(deal_status=DealStatus.WON)
    return rows.count()


def locked_count(user):
    return CustomerPoolState.objects.filter(
        locked_at__isnull=False, customer__owner_id=user.pk, customer__deleted_at__isnull=True
    ).count()


def _start_of_today(now=None):
    return timezone.localtime(now or timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)


def claims_today(user, *, now=None):
    """Claims ``user`` made since midnight (Asia/Shanghai)."""
    return PoolEvent.objects.filter(actor_id=user.pk, kind=PoolEventKind.CLAIM, at__gte=_start_of_today(now)).count()


def in_cooldown(user, customer, *, days, now=None):
    """Whether ``user`` released or lost ``customer`` within the last ``days`` days."""
    since = (now or timezone.now()) - timedelta(days=days)
    return PoolEvent.objects.filter(
        previous_owner_id=user.pk,
        customer_id=customer.pk,
        kind__in=[PoolEventKind.RELEASE, PoolEventKind.RECALL],
        at__gte=since,
    ).exists()


# --- recall rules in SQL ------------------------------------------------------------------------


def due_sql(*, owner=False, lock=False):
    """SQL selecting the owned, live, non-exempt customers with a recall deadline, and the
    parameter order it takes: ``(department ids[], pool ids[], default pool id, cutoff[, owner
    id])``. Columns: id, owner_id, pool_id, deadline, reason ('no_follow_up' / 'no_deal') and
    days (of the rule that fires first). A customer is due when its deadline <= the cutoff:

    - no follow-up: the later of the last follow-up and the claim/assignment (never claimed: its
      creation) + the days of its level in its pool (no level or no rule: the pool's days);
    - no deal: not dealt, no open deal (registry), and the claim (or creation) + the pool's days;
    - exempt: locked, dealt when the pool says so, and whatever later apps register.

    The pool of an owned customer is the one it came from, else its department's, else the
    default pool. ``lock``: FOR UPDATE of the customer rows, SKIP LOCKED (a customer being saved
    right now waits for tomorrow's run)."""
    follow_days = "COALESCE(r.no_follow_up_days, p.no_follow_up_days)"
    clock = "COALESCE(ps.claimed_at, c.created_at)"
    deadline = "LEAST(f.follow_deadline, d.deal_deadline)"
    sql = f"""
        SELECT c.id, c.owner_id, p.id AS pool_id, {deadline} AS deadline,
            CASE WHEN d.deal_deadline IS NULL OR f.follow_deadline <= d.deal_deadline
                 THEN 'no_follow_up' ELSE 'no_deal' END AS reason,
            CASE WHEN d.deal_deadline IS NULL OR f.follow_deadline <= d.deal_deadline
                 THEN {follow_days} ELSE p.no_deal_days END AS days
        FROM customers_customer c
        LEFT JOIN pool_customerpoolstate ps ON ps.customer_id = c.id
        LEFT JOIN unnest(%s::bigint[], %s::bigint[]) AS dp(department_id, pool_id)
            ON dp.department_id = c.department_id
        JOIN pool_pool p ON p.id = COALESCE(ps.pool_id, dp.pool_id, %s)
        LEFT JOIN pool_poollevelrule r ON r.pool_id = p.id AND r.level_id = c.level_id
        CROSS JOIN LATERAL (
            SELECT CASE WHEN {follow_days} > 0
                THEN GREATEST(c.last_follow_up_at, {clock}) + make_interval(days => {follow_days}) END
                AS follow_deadline
        ) f
        CROSS JOIN LATERAL (
            SELECT CASE WHEN p.no_deal_days > 0 AND c.deal_status <> 'won' AND NOT ({registry.open_deal_sql()})
                THEN {clock} + make_interval(days => p.no_deal_days) END AS deal_deadline
        ) d
        WHERE c.owner_id IS NOT NULL AND c.deleted_at IS NULL AND p.recall_enabled
          AND ps.locked_at IS NULL
          AND NOT (p.exempt_dealt AND c.deal_status = 'won')
          AND NOT ({registry.exemption_sql()})
          AND {deadline} <= %s
          {"AND c.owner_id = %s" if owner else ""}
        {"FOR UPDATE OF c SKIP LOCKED" if lock else ""}
    """  # noqa: S608 - fixed SQL plus conditions registered by our own apps
    return sql


def due_params(*, cutoff, owner=None):
    mapping = department_pool_map()
    default = default_pool()
    params = [list(mapping), list(mapping.values()), default.pk if default else None, cutoff]
    if owner is not None:
        params.append(owner.pk)
    return params


def returning_soon(*, user, now=None):
    """ "待进入公海": the customers ``user`` owns that return to the pool within the warning lead
    (default 2 days), soonest first — [(customer, deadline, reason, days)]."""
    now = now or timezone.now()
    cutoff = now + timedelta(days=limits_for(user).warn_days)
    with connection.cursor() as cursor:
        cursor.execute(due_sql(owner=True), due_params(cutoff=cutoff, owner=user))
        rows = {row[0]: row for row in cursor.fetchall()}
    customers = Customer.objects.alive().filter(owner_id=user.pk, pk__in=list(rows)).select_related("level")
    result = [(customer, rows[customer.pk][3], rows[customer.pk][4], rows[customer.pk][5]) for customer in customers]
    return sorted(result, key=lambda item: (item[1], item[0].pk))


def returning_soon_count(*, user, now=None):
    """How many customers ``returning_soon`` lists for ``user`` (the workbench's tile): the same
    recall SQL, counted in PostgreSQL."""
    now = now or timezone.now()
    cutoff = now + timedelta(days=limits_for(user).warn_days)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({due_sql(owner=True)}) due", due_params(cutoff=cutoff, owner=user))
        return cursor.fetchone()[0]


def return_warnings(*, now=None):
    """Every (owner id, customer id, deadline) returning within the warning lead — for the
    2-days-ahead reminder (one set-based query; the reminder job groups them per owner)."""
    now = now or timezone.now()
    cutoff = now + timedelta(days=PoolSettings.current().warn_days)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT owner_id, id, deadline FROM ({due_sql()}) due", due_params(cutoff=cutoff))
        return cursor.fetchall()


def return_warning_rows(now):
    """The reminder registry's rows (notifications.reminders) for "returning to the pool within
    the warning lead": one set-based query — the due ids from the recall SQL — annotated with
    target, recipient (the owner) and occasion (the recall clock's start, so the same clock is
    warned about once and a follow-up or claim starts a new one)."""
    cutoff = now + timedelta(days=PoolSettings.current().warn_days)
    due_ids = RawSQL(f"SELECT id FROM ({due_sql()}) due", due_params(cutoff=cutoff))  # noqa: S611
    clock = Greatest("last_follow_up_at", Coalesce("pool_state__claimed_at", "created_at"))
    return (
        Customer.objects.alive()
        .filter(owner__isnull=False, pk__in=due_ids)
        .annotate(
            target_id=F("pk"),
            recipient_id=F("owner_id"),
            occasion=Cast(clock, CharField()),
            customer_name=F("name"),
        )
    )


def reason_text(reason, days):
    if reason == "no_deal":
        return _("超过 %(days)s 天未成交") % {"days": days}
    return _("超过 %(days)s 天未跟进") % {"days": days}


# --- state and timeline -------------------------------------------------------------------------


def pool_action_result(customer_id):
    """What a pool action answers: the customer's owner now and whether it is locked."""
    row = Customer.objects.filter(pk=customer_id).values_list("owner_id", "pool_state__locked_at").first()
    owner, locked_at = row if row else (None, None)
    return {"id": customer_id, "owner": owner, "locked": locked_at is not None}


def customer_pool_state(customer):
    return CustomerPoolState.objects.filter(customer_id=customer.pk).select_related("locked_by").first()


def locked_annotation():
    return Exists(CustomerPoolState.objects.filter(customer_id=OuterRef("pk"), locked_at__isnull=False))


TIMELINE_TITLES = {
    PoolEventKind.CLAIM: gettext_lazy("领取了公海客户"),
    PoolEventKind.RELEASE: gettext_lazy("退回公海"),
    PoolEventKind.ASSIGN: gettext_lazy("从公海分配"),
    PoolEventKind.LOCK: gettext_lazy("锁定了客户"),
    PoolEventKind.UNLOCK: gettext_lazy("解锁了客户"),
    PoolEventKind.RECALL: gettext_lazy("自动回收到公海"),
}


def pool_timeline(*, user, customer):
    """The customer's pool events as 360-timeline entries (the customer is already in scope)."""
    entries = []
    events = PoolEvent.objects.filter(customer_id=customer.pk).select_related("actor", "new_owner", "pool")[:200]
    for event in events:
        text = ""
        if event.new_owner_id:
            text = _("负责人：%(name)s") % {"name": event.new_owner}
        elif event.pool_id and event.kind in (PoolEventKind.RELEASE, PoolEventKind.RECALL):
            text = _("进入「%(pool)s」") % {"pool": event.pool}
        entries.append(
            {
                "kind": "pool",
                "type": event.kind,
                "at": event.at,
                "title": str(TIMELINE_TITLES[event.kind]),
                "user": event.actor_id,
                "user_name": str(event.actor) if event.actor else _("系统"),
                "reason": event.reason,
                "text": text,
                "changes": [],
            }
        )
    return entries
