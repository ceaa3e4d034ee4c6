"""Follow-ups (跟进记录) with their attachments, and tasks (待办). Both belong to a customer and are
seen through it; a task is also seen by its assignee and creator."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from crm.models import TimeStampedModel
from customers.models import CarriedFromCustomer
from staff.scope import scope_filter


def _customer_scope(user):
    from customers.models import Customer

    return Q(customer__deleted_at__isnull=True) & Customer.objects.scope_q(user, prefix="customer__")


class FollowUpType(models.TextChoices):
    CALL = "call", _("电话")
    VISIT = "visit", _("拜访")
    EMAIL = "email", _("邮件")
    MEETING = "meeting", _("会议")
    WECHAT = "wechat", _("微信")
    SMS = "sms", _("短信")
    OTHER = "other", _("其他")


class FollowUpQuerySet(models.QuerySet):
    def scope_q(self, user):
        """The customer's scope (data scope and team members), live customers only — read on the
        owner and department each follow-up carries from its customer."""
        from customers.models import Customer

        return Customer.objects.carried_scope_q(user)

    def visible_to(self, user):
        return self.filter(self.scope_q(user))

    def scope_arms(self, user):
        """``scope_q`` as conditions whose union is the same rows, each one index's range (see
        ``Customer.objects.carried_scope_arms``)."""
        from customers.models import Customer

        return Customer.objects.carried_scope_arms(user)


class FollowUp(CarriedFromCustomer, TimeStampedModel):
    """``owner`` and ``department``: the customer's, copied by the database (``CarriedFromCustomer``)."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("客户"), on_delete=models.CASCADE, related_name="follow_ups"
    )
    contact = models.ForeignKey(
        "customers.Contact",
        verbose_name=_("联系人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
    )
    type = models.CharField(_("跟进方式"), max_length=16, choices=FollowUpType.choices, default=FollowUpType.CALL)
    content = models.TextField(_("跟进内容"), blank=True)
    occurred_at = models.DateTimeField(_("跟进时间"))
    next_follow_up_at = models.DateTimeField(_("下次跟进时间"), null=True, blank=True)
    # 外勤签到: from the phone, for visits; personal data — FOLLOW_UP_CHECKIN_ENABLED switches it off
    # and the nightly purge clears it after FOLLOW_UP_CHECKIN_RETENTION_DAYS.
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("跟进人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = FollowUpQuerySet.as_manager()

    class Meta:
        verbose_name = _("跟进记录")
        verbose_name_plural = _("跟进记录")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-occurred_at"], name="followup_customer_recent"),
            models.Index(fields=["created_by", "-occurred_at"], name="followup_author_recent"),
            models.Index(fields=["-updated_at", "-id"], name="followup_sync"),
            models.Index(fields=["occurred_at"], name="followup_checkin", condition=Q(latitude__isnull=False)),
            # The scope's arms (the customer's department, its owner) over a period, covering what
            # 跟进分析 counts: read from the index alone (analytics.reports.followups).
            models.Index(
                fields=["department", "occurred_at"],
                include=["owner", "customer", "created_by", "type", "id"],
                name="followup_dept_occurred",
            ),
            models.Index(
                fields=["owner", "occurred_at"],
                include=["department", "customer", "created_by", "type", "id"],
                name="followup_owner_occurred",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="followup_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="followup_longitude_range",
            ),
        ]

    def __str__(self):
        return f"{self.get_type_display()} {self.occurred_at:%Y-%m-%d}"


def attachment_path(instance, filename):
    # A random name on disk: the original one is kept in ``name`` (and never used as a path).
    import uuid
    from pathlib import PurePath

    suffix = PurePath(filename).suffix.lower()[:10]
    return f"followups/{instance.follow_up.occurred_at:%Y/%m}/{uuid.uuid4().hex}{suffix}"


class FollowUpAttachment(models.Model):
    """An image or file of a follow-up, on Django's storage; served only through a scoped view."""

    follow_up = models.ForeignKey(
        FollowUp, verbose_name=_("跟进记录"), on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("文件"), upload_to=attachment_path, max_length=200)
    name = models.CharField(_("文件名"), max_length=200)
    size = models.PositiveIntegerField(_("大小（字节）"))
    content_type = models.CharField(_("类型"), max_length=100)
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("跟进附件")
        verbose_name_plural = _("跟进附件")
        ordering = ["id"]

    def __str__(self):
        return self.name

    @property
    def is_image(self):
        return self.content_type.startswith("image/")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("待办")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class TaskPriority(models.TextChoices):
    LOW = "low", _("低")
    NORMAL = "normal", _("中")
    HIGH = "high", _("高")


class TaskQuerySet(models.QuerySet):
    def scope_q(self, user):
        """Tasks of customers in the user's scope; tasks assigned to or created by the user; and
        tasks without a customer whose assignee is within the user's data scope (a manager sees
        the team's)."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return Q(pk__in=[])
        own = Q(assignee_id=user.pk) | Q(created_by_id=user.pk)
        customer = _customer_scope(user)
        unlinked = scope_filter(user, owner_field="assignee", department_field="assignee__department")
        return own | (Q(customer__isnull=False) & customer) | (Q(customer__isnull=True) & unlinked)

    def visible_to(self, user):
        return self.filter(self.scope_q(user))

    def open(self):
        return self.filter(status=TaskStatus.OPEN)


class Task(TimeStampedModel):
    title = models.CharField(_("标题"), max_length=200)
    description = models.TextField(_("说明"), blank=True)
    due_at = models.DateTimeField(_("截止时间"))
    remind_at = models.DateTimeField(_("提醒时间"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("执行人"), on_delete=models.PROTECT, related_name="tasks"
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("客户"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tasks",
    )
    priority = models.CharField(_("优先级"), max_length=8, choices=TaskPriority.choices, default=TaskPriority.NORMAL)
    status = models.CharField(_("状态"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = TaskQuerySet.as_manager()

    class Meta:
        verbose_name = _("待办")
        verbose_name_plural = _("待办")
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["assignee", "status", "due_at"], name="task_assignee_due"),
            models.Index(fields=["customer", "status", "due_at"], name="task_customer_due"),
            models.Index(fields=["-updated_at", "-id"], name="task_sync"),
            # The reminder scan: open tasks by their reminder moment.
            models.Index(
                Coalesce("remind_at", "due_at"),
                name="task_open_remind",
                condition=Q(status="open"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(remind_at__isnull=True) | Q(remind_at__lte=models.F("due_at")),
                name="task_remind_before_due",
            )
        ]

    def __str__(self):
        return self.title
