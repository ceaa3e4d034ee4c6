"""The one data-scope mechanism (数据范围). Every owned model reads through it:

    class Customer(OwnedModel): ...                    # owner, department, created_by, timestamps
    Customer.objects.visible_to(user)                  # every list, search, count, export, report
    get_for_user(Customer.objects, user=user, pk=pk)   # every detail: 404 when missing *or* out of scope

A user's roles each carry a scope; the user sees the union of what each allows, and always what
they own. Superusers see everything; inactive or anonymous users see nothing. A model whose
visibility is wider than ownership (team members, pools) extends ``ScopedQuerySet.scope_q`` — the
only place its rule may live.
"""

from django.conf import settings
from django.db import connections, models
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from crm.models import TimeStampedModel
from staff.models import DataScope, Department

# Every user managed by ``%s`` directly or through a chain of managers. UNION (not UNION ALL)
# stops on a cycle that bad data might contain.
SUBORDINATES_SQL = """
    WITH RECURSIVE subordinates(id) AS (
        SELECT id FROM staff_user WHERE manager_id = %s
        UNION
        SELECT u.id FROM staff_user u JOIN subordinates s ON u.manager_id = s.id
    )
    SELECT id FROM subordinates
"""

NOTHING = Q(pk__in=[])


def user_roles(user):
    """The user's roles, read once per user object (the request's user): the data scope, field
    permissions and limits all look at them."""
    cached = user.__dict__.get("_crm_roles")
    if cached is None:
        cached = user.__dict__["_crm_roles"] = list(user.roles.all()) if user.pk else []
    return cached


def user_scopes(user):
    """The set of DataScope values the user holds (cached on the user object for the request)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_crm_scopes", None)
    if cached is None:
        if user.is_superuser:
            cached = frozenset({DataScope.ALL})
        else:
            cached = frozenset(role.data_scope for role in user_roles(user)) or frozenset({DataScope.SELF})
        user._crm_scopes = cached
    return cached


def effective_scope(user):
    """The widest single scope the user holds, for display (/api/v1/me/)."""
    order = [
        DataScope.ALL,
        DataScope.DEPARTMENT_TREE,
        DataScope.DEPARTMENT,
        DataScope.SELF_AND_SUBORDINATES,
        DataScope.SELF,
    ]
    scopes = user_scopes(user)
    return next((scope for scope in order if scope in scopes), None)


def subordinates_subquery(user):
    return RawSQL(SUBORDINATES_SQL, [user.pk])


# Above this many subordinates the scope keeps the recursive query as a subquery instead of a list.
INLINE_SUBORDINATES_LIMIT = 1000


def subordinates_in(user, using="default"):
    """``owner_id IN (…)`` operand for the user's subordinates: their ids, fetched first (one small
    recursive query, once per user object), or the recursive query itself for someone with very
    many. Inside a list's query, ``OR owner_id IN (WITH RECURSIVE …)`` made PostgreSQL plan the
    page and the count around a subplan it could not estimate; a list of ids is one index
    condition."""
    # Read once per user object (the request's user), like the roles: a page that reads several
    # scoped lists (the workbench) asks once, not once per list.
    key = f"_crm_subordinates_{using}"
    cached = user.__dict__.get(key)
    if cached is not None:
        return cached
    with connections[using].cursor() as cursor:
        cursor.execute(f"{SUBORDINATES_SQL} LIMIT %s", [user.pk, INLINE_SUBORDINATES_LIMIT + 1])
        ids = sorted(row[0] for row in cursor.fetchall())
    result = subordinates_subquery(user) if len(ids) > INLINE_SUBORDINATES_LIMIT else ids
    user.__dict__[key] = result
    return result


def scope_arms(user, *, owner_field="owner", department_field="department"):
    """The rows ``user`` may see as a list of Q objects whose OR is the scope — one per rule the
    user holds (own and subordinates' rows, the department or its subtree) — or None for every
    row (the "all" scope); [] for none. ``scope_filter`` is their OR; a count may also walk them
    one by one, each by its own index (see ``customers.selectors.capped_count``)."""
    scopes = user_scopes(user)
    if not scopes:
        return []
    if DataScope.ALL in scopes:
        return None
    department_field = department_field or f"{owner_field}__department"
    # "pk": the rows are users themselves (whom a manager may assign to).
    owner = "pk" if owner_field == "pk" else f"{owner_field}_id"
    if DataScope.SELF_AND_SUBORDINATES in scopes:
        subordinates = subordinates_in(user)
        if isinstance(subordinates, list):
            arms = [Q(**{f"{owner}__in": [user.pk, *subordinates]})]
        else:
            arms = [Q(**{owner: user.pk}) | Q(**{f"{owner}__in": subordinates})]
    else:
        arms = [Q(**{owner: user.pk})]
    if user.department_id:
        path = user.department.path  # select_related by the authentication
        if DataScope.DEPARTMENT_TREE in scopes and _is_valid_path(path, user.department_id):
            subtree = Department.objects.filter(path__startswith=path).values("pk")
            arms.append(Q(**{f"{department_field}_id__in": subtree}))
        elif DataScope.DEPARTMENT in scopes or DataScope.DEPARTMENT_TREE in scopes:
            # A department whose path was never set (rows written around save()) must not widen
            # the subtree to everything: it falls back to its own department only.
            arms.append(Q(**{f"{department_field}_id": user.department_id}))
    return arms


def any_of(arms):
    """The OR of ``scope_arms``: Q() for None (everything), NOTHING for []."""
    if arms is None:
        return Q()
    query = NOTHING
    for index, arm in enumerate(arms):
        query = arm if index == 0 else query | arm
    return query


def scope_filter(user, *, owner_field="owner", department_field="department"):
    """A Q object selecting the rows ``user`` may see, for a model whose owner is ``owner_field``
    and whose department is ``department_field`` (None: the owner's department). On the User
    model itself, ``owner_field="pk"`` selects the staff in the user's scope."""
    return any_of(scope_arms(user, owner_field=owner_field, department_field=department_field))


def _is_valid_path(path, department_id):
    return bool(path) and path.startswith("/") and path.endswith(f"/{department_id}/")


class ScopedQuerySet(models.QuerySet):
    """QuerySet of an owned model. Subclasses set the two field names when theirs differ, and may
    widen ``scope_q`` (e.g. ``| Q(team_members=...)``)."""

    scope_owner_field = "owner"
    scope_department_field = "department"

    def scope_q(self, user):
        return scope_filter(user, owner_field=self.scope_owner_field, department_field=self.scope_department_field)

    def visible_to(self, user):
        return self.filter(self.scope_q(user))


def get_for_user(queryset, *, user, pk):
    """Fetch one row the user may see, or raise Http404 — the same for missing and out of scope."""
    if isinstance(queryset, type) and issubclass(queryset, models.Model):
        queryset = queryset.objects.all()
    try:
        return queryset.visible_to(user).get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def user_for_job(user_id):
    """The user a background job acts for. Jobs a user starts (exports, reports, imports) take
    that user's id and read through ``visible_to(user_for_job(user_id))`` — never as "system".
    None when the user is gone or deactivated: the job then has nothing to read."""
    from staff.models import User

    return User.objects.select_related("department").filter(pk=user_id, is_active=True).first()


class OwnedModel(TimeStampedModel):
    """Abstract base for every owned record: owner (负责人), department, creator, timestamps, and a
    scoped default manager. Owner, department and creator are set only by services."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("负责人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    department = models.ForeignKey(
        Department, verbose_name=_("所属部门"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        abstract = True


# Field names that no plain create/update payload may write (see crm.api.serializers).
PROTECTED_OWNERSHIP_FIELDS = ("owner", "department", "created_by")
