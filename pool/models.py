"""The public pool (公海, SPEC §2.2): pools and the departments they serve, their admins and
recall rules, company-wide ownership limits (per role overridable), and — per customer — the pool
state and an event log. A customer with no owner is in a pool; its pool is
``CustomerPoolState.pool``, or the default pool when it has no state row. The customers app's
tables are never written here except through ``customers.services.customer_owner_set``."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.models import TimeStampedModel

# Defaults of SPEC §2.2: days without a follow-up per level code, and for customers with no level
# (or a level without a rule).
DEFAULT_LEVEL_DAYS = {"A": 60, "B": 30, "C": 15}
DEFAULT_NO_FOLLOW_UP_DAYS = 30
DEFAULT_NO_DEAL_DAYS = 90


class Pool(TimeStampedModel):
    """A public pool. It serves the listed departments and their sub-departments (or everyone);
    their staff see its customers and may claim them; its admins assign them. A customer released
    or recalled goes back to the pool it came from, else the pool serving its owner's department
    (the most specific), else the default pool."""

    name = models.CharField(_("名称"), max_length=50, unique=True)
    is_default = models.BooleanField(_("默认公海"), default=False)
    serves_everyone = models.BooleanField(_("服务全公司"), default=False)
    departments = models.ManyToManyField(
        "staff.Department", verbose_name=_("服务部门"), blank=True, related_name="pools", help_text=_("含下级部门。")
    )
    admins = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("公海管理员"), blank=True, related_name="administered_pools"
    )
    recall_enabled = models.BooleanField(_("自动回收"), default=True)
    no_follow_up_days = models.PositiveSmallIntegerField(
        _("未跟进天数（无等级）"),
        default=DEFAULT_NO_FOLLOW_UP_DAYS,
        help_text=_("无等级或等级未设规则的客户：超过该天数未跟进即回收；0 表示不按跟进回收。"),
    )
    no_deal_days = models.PositiveSmallIntegerField(
        _("未成交天数"),
        default=DEFAULT_NO_DEAL_DAYS,
        help_text=_("自领取起超过该天数未成交且无进行中的商机即回收；0 表示不按成交回收。"),
    )
    exempt_dealt = models.BooleanField(_("已成交客户不回收"), default=True)

    class Meta:
        verbose_name = _("公海")
        verbose_name_plural = _("公海")
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="pool_one_default")
        ]
        permissions = [
            ("claim_customer", _("可以领取公海客户")),
            ("assign_customer", _("可以分配公海客户")),
        ]

    def __str__(self):
        return self.name


class PoolLevelRule(models.Model):
    """Days without a follow-up before a customer of this level returns to the pool."""

    pool = models.ForeignKey(Pool, verbose_name=_("公海"), on_delete=models.CASCADE, related_name="level_rules")
    level = models.ForeignKey(
        "customers.CustomerLevel", verbose_name=_("等级"), on_delete=models.CASCADE, related_name="+"
    )
    no_follow_up_days = models.PositiveSmallIntegerField(_("未跟进天数"), help_text=_("0 表示该等级不按跟进回收。"))

    class Meta:
        verbose_name = _("等级回收规则")
        verbose_name_plural = _("等级回收规则")
        constraints = [models.UniqueConstraint(fields=["pool", "level"], name="pool_level_rule_unique")]

    def __str__(self):
        return f"{self.pool} · {self.level}: {self.no_follow_up_days}"


class PoolSettings(models.Model):
    """Company-wide limits (one row, pk=1): owned and locked customers per person, claims per
    day, the cooldown before a previous owner may claim a customer back, the warning lead."""

    max_owned = models.PositiveIntegerField(_("拥有客户上限"), default=200)
    max_locked = models.PositiveIntegerField(_("锁定客户上限"), default=20)
    count_dealt = models.BooleanField(_("已成交客户计入上限"), default=True)
    claim_daily_limit = models.PositiveIntegerField(_("每日领取上限"), default=20)
    reclaim_cooldown_days = models.PositiveSmallIntegerField(_("原负责人重新领取间隔（天）"), default=7)
    warn_days = models.PositiveSmallIntegerField(_("提前提醒天数"), default=2)

    class Meta:
        verbose_name = _("公海设置")
        verbose_name_plural = _("公海设置")

    def __str__(self):
        return str(_("公海设置"))

    @classmethod
    def current(cls):
        return cls.objects.get_or_create(pk=1)[0]


class RoleLimit(models.Model):
    """A role's own limits instead of the company's; with several roles the most generous wins."""

    role = models.OneToOneField(
        "staff.Role", verbose_name=_("角色"), on_delete=models.CASCADE, related_name="pool_limit"
    )
    max_owned = models.PositiveIntegerField(_("拥有客户上限"), null=True, blank=True)
    max_locked = models.PositiveIntegerField(_("锁定客户上限"), null=True, blank=True)
    claim_daily_limit = models.PositiveIntegerField(_("每日领取上限"), null=True, blank=True)

    class Meta:
        verbose_name = _("角色上限")
        verbose_name_plural = _("角色上限")

    def __str__(self):
        return str(self.role)


class CustomerPoolState(models.Model):
    """Per customer: its pool, when and by whom it was last claimed or assigned (the recall
    clock; none: its creation), and whether it is locked (锁定: never recalled)."""

    customer = models.OneToOneField(
        "customers.Customer", primary_key=True, on_delete=models.CASCADE, related_name="pool_state"
    )
    pool = models.ForeignKey(
        Pool, verbose_name=_("公海"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    entered_at = models.DateTimeField(_("进入公海时间"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("领取时间"), null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("领取人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    locked_at = models.DateTimeField(_("锁定时间"), null=True, blank=True)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("锁定人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("客户公海状态")
        verbose_name_plural = _("客户公海状态")
        indexes = [models.Index(fields=["pool", "entered_at"], name="pool_state_pool_entered")]

    def __str__(self):
        return f"{self.customer_id} · {self.pool_id or '-'}"


class PoolEventKind(models.TextChoices):
    CLAIM = "claim", _("领取")
    RELEASE = "release", _("退回公海")
    ASSIGN = "assign", _("分配")
    LOCK = "lock", _("锁定")
    UNLOCK = "unlock", _("解锁")
    RECALL = "recall", _("自动回收")


class PoolEvent(models.Model):
    """One claim, release, assignment, lock or recall, with its reason: the customer's pool
    timeline, the daily claim count and the previous owner's cooldown read it."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="pool_events")
    kind = models.CharField(_("类型"), max_length=16, choices=PoolEventKind.choices)
    at = models.DateTimeField(_("时间"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The owner before the event (release/recall: who lost it) and after (claim/assign).
    previous_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("原负责人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    new_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("新负责人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    pool = models.ForeignKey(
        Pool, verbose_name=_("公海"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(_("原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("公海记录")
        verbose_name_plural = _("公海记录")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-at"], name="pool_event_customer_at"),
            models.Index(fields=["previous_owner", "customer", "at"], name="pool_event_previous_owner"),
            models.Index(fields=["actor", "kind", "at"], name="pool_event_actor_kind_at"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.customer_id}"
