"""Team members (团队成员/协作人): sharing one record with a colleague, read-only or read-write,
optionally until a time. Stored as django-guardian direct foreign-key object permissions — one row
per (member, permission, record): ``view_<model>`` for read access, plus ``change_<model>`` for
read-write — with an expiry guardian itself does not have. crm code checks expiry and access;
guardian's backend is not installed, so an expired row grants nothing anywhere.

A record type opts in with a concrete model and its QuerySet's scope:

    class CustomerTeamMember(TeamMemberBase):
        content_object = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="team_rows")

    class CustomerQuerySet(ScopedQuerySet):
        def scope_q(self, user):
            return super().scope_q(user) | team_member_q(CustomerTeamMember, user)
"""

from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase

from crm.errors import DomainError

INLINE_IDS_LIMIT = 1000


class TeamAccess(models.TextChoices):
    READ = "read", _("只读")
    WRITE = "write", _("读写")


class TeamMemberQuerySet(models.QuerySet):
    def active(self, now=None):
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now or timezone.now()))


class TeamMemberBase(UserObjectPermissionBase):
    expires_at = models.DateTimeField(_("有效期至"), null=True, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("添加人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("添加时间"), auto_now_add=True)

    objects = TeamMemberQuerySet.as_manager()

    class Meta(UserObjectPermissionBase.Meta):
        abstract = True


def _codename(member_model, access):
    target = member_model._meta.get_field("content_object").related_model
    verb = "change" if access == TeamAccess.WRITE else "view"
    return f"{verb}_{target._meta.model_name}"


def team_member_q(member_model, user, *, access=TeamAccess.READ, prefix=""):
    """Rows of the target model that ``user`` is an active team member of (``access``: READ for any
    member, WRITE for read-write members). One semi-join on the (user, permission, object) index."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    # Once per user object (the request's user), like its scopes and permissions: a list reads
    # the scope for its rows and again for its count, a contact list through its customer (the
    # prefix), the 360 overview for each part. team_member_set/remove forget it.
    cache = user.__dict__.setdefault(TEAM_CACHE, {})
    key = (member_model, access)
    if key not in cache:
        cache[key] = _team_member_ids(member_model, user, access=access)
    return Q(**{f"{prefix}pk__in": cache[key]})


TEAM_CACHE = "_crm_team_q"


def _team_member_ids(member_model, user, *, access):
    shared = member_model.objects.active().filter(user_id=user.pk, permission__codename=_codename(member_model, access))
    # Fetched first as a list (one small query): ``owner = me OR pk IN (1, 2, 3)`` lets PostgreSQL
    # combine two index scans, where ``OR pk IN (subquery)`` made it read the whole table (a
    # capped count for a "self" user at 500,000 customers: 217 ms → see README). Someone on very
    # many teams gets the subquery.
    ids = list(shared.values_list("content_object_id", flat=True)[: INLINE_IDS_LIMIT + 1])
    if len(ids) > INLINE_IDS_LIMIT:
        return shared.values("content_object_id")
    return ids


def team_members_of(member_model, obj, *, now=None):
    """[{user, access, expires_at, granted_by, created_at}] of one record's active members."""
    target = member_model._meta.get_field("content_object").related_model
    write = f"change_{target._meta.model_name}"
    rows = (
        member_model.objects.active(now)
        .filter(content_object=obj)
        .select_related("user", "user__department", "permission", "granted_by")
        .order_by("created_at", "pk")
    )
    members = {}
    for row in rows:
        entry = members.setdefault(
            row.user_id,
            {
                "user": row.user,
                "access": TeamAccess.READ,
                "expires_at": row.expires_at,
                "granted_by": row.granted_by,
                "created_at": row.created_at,
            },
        )
        if row.permission.codename == write:
            entry["access"] = TeamAccess.WRITE
    return list(members.values())


def is_team_member(member_model, obj, user, *, access=TeamAccess.READ):
    return (
        member_model.objects.active()
        .filter(content_object=obj, user_id=user.pk, permission__codename=_codename(member_model, access))
        .exists()
    )


def _permission(member_model, access):
    target = member_model._meta.get_field("content_object").related_model
    content_type = ContentType.objects.get_for_model(target)
    return Permission.objects.get(content_type=content_type, codename=_codename(member_model, access))


@transaction.atomic
def team_member_set(member_model, *, obj, member, access, expires_at=None, granted_by=None):
    """Add ``member`` to ``obj``'s team, or change their access or expiry. Callers (each record
    type's service) check who may share and write the audit event."""
    if not member.is_active:
        raise DomainError(_("该员工已停用，不能加入团队。"), fields={"user": [_("该员工已停用。")]})
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError(_("有效期必须晚于当前时间。"), fields={"expires_at": [_("有效期必须晚于当前时间。")]})
    member.__dict__.pop(TEAM_CACHE, None)
    member_model.objects.filter(content_object=obj, user=member).delete()
    accesses = [TeamAccess.READ] + ([TeamAccess.WRITE] if access == TeamAccess.WRITE else [])
    member_model.objects.bulk_create(
        member_model(
            content_object=obj,
            user=member,
            permission=_permission(member_model, level),
            expires_at=expires_at,
            granted_by=granted_by,
        )
        for level in accesses
    )


def team_member_remove(member_model, *, obj, member):
    """Remove ``member`` from ``obj``'s team; the number of permission rows removed."""
    member.__dict__.pop(TEAM_CACHE, None)
    deleted, _counts = member_model.objects.filter(content_object=obj, user=member).delete()
    return deleted


def team_members_purge_expired(member_model, *, now=None):
    deleted, _counts = member_model.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
