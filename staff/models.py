"""Staff, departments and roles. The data-scope mechanism built on them is in staff/scope.py."""

from django.contrib.auth.models import AbstractUser, Permission
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext_lazy as _

from crm.fields import CnMobileField
from crm.models import TimeStampedModel
from crm.validators import normalize_cn_mobile

PARENT_CYCLE_MESSAGE = _("上级部门不能是本部门或其下级部门。")


class DataScope(models.TextChoices):
    SELF = "self", _("本人")
    SELF_AND_SUBORDINATES = "self_and_subordinates", _("本人及下属")
    DEPARTMENT = "department", _("本部门")
    DEPARTMENT_TREE = "department_tree", _("本部门及下属部门")
    ALL = "all", _("全部")


class DepartmentQuerySet(models.QuerySet):
    def subtree_of(self, department):
        """The department and every department below it: one indexed prefix match on ``path``."""
        return self.filter(path__startswith=department.path)


class Department(TimeStampedModel):
    """A node of the company tree. ``path`` is the materialised path of primary keys, e.g.
    ``/1/4/9/``, kept by save(): a subtree is one ``LIKE '/1/4/%'`` on an indexed column."""

    name = models.CharField(_("名称"), max_length=100)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级部门"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    leader = models.ForeignKey(
        "staff.User",
        verbose_name=_("负责人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_departments",
    )
    order = models.PositiveIntegerField(_("排序"), default=0)
    path = models.CharField(_("路径"), max_length=255, editable=False, db_index=True, default="")
    depth = models.PositiveSmallIntegerField(_("层级"), editable=False, default=0)

    objects = DepartmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("部门")
        verbose_name_plural = _("部门")
        ordering = ["path"]
        indexes = [models.Index(fields=["path"], name="department_path_prefix_idx", opclasses=["varchar_pattern_ops"])]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="department_unique_name_per_parent"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if self.parent_id and self.pk:
            if self.parent_id == self.pk or self.parent.path.startswith(self.path):
                raise ValidationError({"parent": PARENT_CYCLE_MESSAGE})

    def save(self, *args, **kwargs):
        """Keep ``path``/``depth`` of this department and, when it moves, of its whole subtree.
        The parent's and the old path are read locked from the database, so concurrent moves
        queue up instead of interleaving, and a move below its own subtree is refused here too."""
        with transaction.atomic():
            parent_path = "/"
            if self.parent_id:
                parent_path = (
                    Department.objects.select_for_update().values_list("path", flat=True).get(pk=self.parent_id)
                )
            old_path = None
            if self.pk is not None:
                old_path = Department.objects.select_for_update().filter(pk=self.pk).values_list("path", flat=True)
                old_path = old_path.first()
            if old_path is None:  # a new row: its path needs its primary key
                super().save(*args, **kwargs)
                self._set_path(parent_path)
                Department.objects.filter(pk=self.pk).update(path=self.path, depth=self.depth)
                return
            if old_path and parent_path.startswith(old_path):
                raise ValidationError({"parent": PARENT_CYCLE_MESSAGE})
            self._set_path(parent_path)
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "path", "depth"}
            super().save(*args, **kwargs)
            if old_path and old_path != self.path:
                # One UPDATE re-roots every descendant: new prefix + the rest of the old path.
                Department.objects.filter(path__startswith=old_path).exclude(pk=self.pk).update(
                    path=Concat(Value(self.path), Substr("path", len(old_path) + 1)),
                    depth=F("depth") + (self.depth - old_path.count("/") + 2),
                )

    def _set_path(self, parent_path):
        self.path = f"{parent_path}{self.pk}/"
        self.depth = self.path.count("/") - 2


class UserManager(DjangoUserManager):
    def get_by_natural_key(self, login):
        """Username or mainland mobile number (any common spelling of it)."""
        mobile = normalize_cn_mobile(login)
        query = Q(username=login)
        if mobile:
            query |= Q(mobile=mobile)
        return self.get(query)


class User(AbstractUser):
    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    mobile = CnMobileField(_("手机号"), null=True, blank=True, unique=True)
    department = models.ForeignKey(
        Department, verbose_name=_("部门"), null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    manager = models.ForeignKey(
        "self", verbose_name=_("直属上级"), null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    roles = models.ManyToManyField("staff.Role", verbose_name=_("角色"), blank=True, related_name="users")
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True, db_index=True)

    objects = UserManager()

    class Meta:
        verbose_name = _("员工")
        verbose_name_plural = _("员工")
        ordering = ["id"]

    def __str__(self):
        return self.display_name or self.username

    def clean(self):
        super().clean()
        if normalize_cn_mobile(self.username):
            # Logins accept a mobile number; a username that is one would shadow someone's login.
            raise ValidationError({"username": _("用户名不能是手机号码。")})
        if self.mobile:
            self.mobile = normalize_cn_mobile(self.mobile) or self.mobile
        if self.manager_id and self.pk:
            from staff.selectors import subordinate_ids

            if self.manager_id == self.pk or self.manager_id in subordinate_ids(self):
                raise ValidationError({"manager": _("直属上级不能是本人或其下属。")})

    def get_full_name(self):
        return self.display_name or self.username

    def get_short_name(self):
        return self.display_name or self.username


class Role(TimeStampedModel):
    """Django permissions plus a data scope. A user with several roles gets the union of both."""

    name = models.CharField(_("名称"), max_length=50, unique=True)
    data_scope = models.CharField(_("数据范围"), max_length=32, choices=DataScope.choices, default=DataScope.SELF)
    permissions = models.ManyToManyField(Permission, verbose_name=_("权限"), blank=True, related_name="roles")
    description = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("角色")
        verbose_name_plural = _("角色")
        ordering = ["id"]

    def __str__(self):
        return self.name


class FieldAccess(models.TextChoices):
    """What a role may do with one field. A user with several roles gets the most permissive."""

    HIDDEN = "hidden", _("隐藏")
    READONLY = "readonly", _("只读")
    EDITABLE = "editable", _("可编辑")


class FieldPermission(TimeStampedModel):
    """Per role, per field of a record type (字段权限). ``target`` names the record type
    ("customer", "contact", later "opportunity", "contract"); ``field`` is a built-in field name or
    ``cf.<key>`` for a custom field. Fields without a row are editable."""

    role = models.ForeignKey(Role, verbose_name=_("角色"), on_delete=models.CASCADE, related_name="field_permissions")
    target = models.CharField(_("对象"), max_length=32)
    field = models.CharField(_("字段"), max_length=80)
    access = models.CharField(_("权限"), max_length=16, choices=FieldAccess.choices, default=FieldAccess.EDITABLE)

    class Meta:
        verbose_name = _("字段权限")
        verbose_name_plural = _("字段权限")
        constraints = [
            models.UniqueConstraint(fields=["role", "target", "field"], name="field_permission_unique_per_role"),
        ]

    def __str__(self):
        return f"{self.role} {self.target}.{self.field}: {self.get_access_display()}"
