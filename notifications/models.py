"""The in-app inbox (Notification), the reminder bookkeeping that keeps every reminder unique, and
what delivery needs: each person's language and e-mail choice, per-department group-robot
webhooks (企业微信 / 钉钉), and the holidays of 节日营销."""

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class NotificationQuerySet(models.QuerySet):
    def for_recipient(self, user):
        """A person's own inbox — the only rule of who sees a notification."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        return self.filter(recipient_id=user.pk)

    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One message in one person's inbox. A reminder is a notification whose (kind, target_id,
    recipient, occasion) is unique: beat firing twice, a retried task or two workers inserting the
    same reminder leave one row (see notifications.services.notifications_insert)."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("接收人"), on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("类型"), max_length=50)
    # The record the message is about (its model follows from ``kind``) and what occasion of it:
    # a date, a year, a due time… — together with kind and recipient, the reminder's identity.
    target_id = models.BigIntegerField(_("对象ID"))
    occasion = models.CharField(_("时机"), max_length=64)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    link = models.CharField(_("链接"), max_length=300, blank=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("邮件发送时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "target_id", "recipient", "occasion"], name="notification_once_per_occasion"
            )
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_inbox"),
            # The navbar's unread badge on every page: a small partial index.
            models.Index(fields=["recipient"], name="notification_unread", condition=Q(read_at__isnull=True)),
        ]

    def __str__(self):
        return self.title


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", "简体中文"
    EN = "en", "English"


class NotificationPreference(models.Model):
    """How one person receives notifications; no row = Chinese, e-mail on."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("员工"), on_delete=models.CASCADE, related_name="notification_pref"
    )
    language = models.CharField(_("语言"), max_length=8, choices=Language.choices, default=Language.ZH_HANS)
    email_enabled = models.BooleanField(_("接收邮件"), default=True)

    class Meta:
        verbose_name = _("通知设置")
        verbose_name_plural = _("通知设置")

    def __str__(self):
        return str(self.user)


class WebhookProvider(models.TextChoices):
    WECOM = "wecom", _("企业微信群机器人")
    DINGTALK = "dingtalk", _("钉钉群机器人")


class DepartmentWebhook(models.Model):
    """A group robot that receives the notifications of a department's staff (and of the
    departments below it that have none of their own)."""

    department = models.ForeignKey(
        "staff.Department", verbose_name=_("部门"), on_delete=models.CASCADE, related_name="webhooks"
    )
    provider = models.CharField(_("类型"), max_length=16, choices=WebhookProvider.choices)
    url = models.URLField(_("Webhook 地址"), max_length=500, validators=[URLValidator(schemes=["https", "http"])])
    secret = models.CharField(
        _("加签密钥"), max_length=200, blank=True, help_text=_("钉钉机器人“加签”安全设置的密钥；企业微信留空。")
    )
    is_active = models.BooleanField(_("启用"), default=True)
    show_details = models.BooleanField(
        _("群消息显示详情"),
        default=False,
        help_text=_(
            "群里的每个人都能看到机器人消息。关闭时只 @ 接收人并附链接，不含客户名称等内容"
            "（查看时仍按数据权限）；仅当群成员都可以看到这些客户时才打开。"
        ),
    )

    class Meta:
        verbose_name = _("部门群机器人")
        verbose_name_plural = _("部门群机器人")
        constraints = [
            models.UniqueConstraint(
                fields=["department"], condition=Q(is_active=True), name="department_one_active_webhook"
            )
        ]

    def __str__(self):
        return f"{self.department} · {self.get_provider_display()}"


class Holiday(models.Model):
    """A holiday of 节日营销: owners of customers are reminded ``remind_days_before`` days ahead."""

    name = models.CharField(_("节日"), max_length=30)
    date = models.DateField(_("日期"))
    remind_days_before = models.PositiveSmallIntegerField(_("提前提醒天数"), default=3)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("节日")
        verbose_name_plural = _("节日")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["name", "date"], name="holiday_unique_per_date")]

    def __str__(self):
        return f"{self.name} {self.date:%Y-%m-%d}"
