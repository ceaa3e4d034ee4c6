"""Customer profiles (客户画像): one row per customer, recomputed in bulk (nightly, on demand) and
per customer soon after a change — always by the same code (``analytics.engine``) — and the
company's analytics settings (thresholds, quantile mode, CLV, churn model, auto-tag rules).

A profile is seen through its customer: ``visible_to`` is the customer's scope."""

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.models import CarriedFromCustomer

MONEY = {"max_digits": 16, "decimal_places": 2}


class Lifecycle(models.TextChoices):
    PROSPECT = "prospect", _("潜在客户")
    NEW = "new", _("新客户")
    ACTIVE = "active", _("活跃客户")
    LOYAL = "loyal", _("忠诚客户")
    AT_RISK = "at_risk", _("流失风险客户")
    LOST = "lost", _("已流失客户")


class ChurnSource(models.TextChoices):
    RULE = "rule", _("规则")
    MODEL = "model", _("模型")


class ScoringMode(models.TextChoices):
    THRESHOLD = "threshold", _("固定阈值")
    QUANTILE = "quantile", _("按本公司分布（五分位）")


class CustomerProfileQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The customer's scope, read on the owner and department the profile carries."""
        from customers.models import Customer

        return self.filter(Customer.objects.carried_scope_q(user))


class CustomerProfile(CarriedFromCustomer):
    """The figures of one customer as of ``computed_at`` (the instant every "days since" is
    measured from). Money to the fen; predicted value and CLV are estimates rounded half-up.
    ``owner``, ``department`` and ``customer_created_at``: the customer's, copied by the database
    (``CarriedFromCustomer``; the creation time too, for 流失分析's "customers by then" without a
    join per profile)."""

    customer = models.OneToOneField(
        "customers.Customer",
        verbose_name=_("客户"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="profile",
    )
    customer_created_at = models.DateTimeField(_("客户创建时间"), null=True, editable=False)
    recency = models.PositiveSmallIntegerField(_("R 最近购买"), default=0)
    frequency = models.PositiveSmallIntegerField(_("F 购买频率"), default=0)
    monetary = models.PositiveSmallIntegerField(_("M 购买金额"), default=0)
    lifecycle = models.CharField(_("生命周期"), max_length=10, choices=Lifecycle.choices, default=Lifecycle.PROSPECT)
    purchase_count = models.PositiveIntegerField(_("购买次数"), default=0)
    purchase_total = models.DecimalField(_("购买总额（元）"), **MONEY, default=0)
    first_purchase_at = models.DateTimeField(_("首次购买"), null=True, blank=True)
    last_purchase_at = models.DateTimeField(_("最近购买"), null=True, blank=True)
    last_contact_at = models.DateTimeField(_("最近联系"))
    predicted_value = models.DecimalField(_("预测12个月价值（元）"), **MONEY, default=0)
    clv = models.DecimalField(_("客户终身价值（元）"), **MONEY, default=0)
    churn_risk = models.DecimalField(
        _("流失风险"),
        max_digits=5,
        decimal_places=4,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    churn_source = models.CharField(_("流失风险来源"), max_length=5, choices=ChurnSource.choices, default="rule")
    # Top product categories (up to 3), then preferred channels (邮件沟通 / 电话沟通 / 面对面会议).
    preferences = ArrayField(models.CharField(max_length=50), verbose_name=_("偏好"), default=list, blank=True)
    recommended_actions = ArrayField(
        models.CharField(max_length=50), verbose_name=_("推荐行动"), default=list, blank=True
    )
    # Auto-tags (高价值, 流失风险, …) from the settings' rules, rewritten with every recompute.
    tags = ArrayField(models.CharField(max_length=30), verbose_name=_("自动标签"), default=list, blank=True)
    computed_at = models.DateTimeField(_("计算时间"))

    objects = CustomerProfileQuerySet.as_manager()

    class Meta:
        verbose_name = _("客户画像")
        verbose_name_plural = _("客户画像")
        constraints = [
            models.CheckConstraint(condition=Q(churn_risk__gte=0, churn_risk__lte=1), name="profile_churn_risk_0_1"),
            models.CheckConstraint(
                condition=Q(recency__lte=5, frequency__lte=5, monetary__lte=5), name="profile_rfm_0_5"
            ),
        ]
        # The customer list's profile filters and sorts (lifecycle = at_risk, churn risk > 0.7).
        indexes = [
            models.Index(fields=["lifecycle", "customer"], name="profile_lifecycle"),
            models.Index(fields=["churn_risk", "customer"], name="profile_churn_risk"),
            # The scope's arms: the customer's department, its owner.
            models.Index(fields=["department"], name="profile_department"),
            models.Index(fields=["owner"], name="profile_owner"),
        ]

    def __str__(self):
        return f"{self.customer_id}: {self.get_lifecycle_display()}"


def default_tag_rules():
    return [
        {"tag": "高价值", "field": "monetary", "op": ">=", "value": 5},
        {"tag": "流失风险", "field": "churn_risk", "op": ">", "value": 0.7},
        {"tag": "忠诚客户", "field": "lifecycle", "op": "==", "value": "loyal"},
    ]


class AnalyticsSettings(models.Model):
    """The company's analytics settings: one row (pk=1), read with ``AnalyticsSettings.load()``.
    The churn model's coefficients, hold-out AUC and training time live here too, so a
    per-customer recompute scores with exactly the model (and quantile breakpoints) of the last
    bulk run."""

    # RFM default rules (seed): recency = clamp(6 − ⌊days / 30⌋, 1, 5); frequency =
    # clamp(⌊purchases / 2⌋ + 1, 1, 5); monetary = clamp(⌊total / 1000⌋ + 1, 1, 5).
    recency_days_step = models.PositiveIntegerField(_("R：每档天数"), default=30, validators=[MinValueValidator(1)])
    frequency_step = models.PositiveIntegerField(_("F：每档购买次数"), default=2, validators=[MinValueValidator(1)])
    monetary_step = models.DecimalField(
        _("M：每档金额（元）"), max_digits=14, decimal_places=2, default=1000, validators=[MinValueValidator(1)]
    )
    scoring_mode = models.CharField(
        _("RFM 评分方式"), max_length=10, choices=ScoringMode.choices, default=ScoringMode.THRESHOLD
    )
    # Quintile breakpoints of the company's buyers, written by the last bulk recompute in quantile mode.
    quantile_breaks = models.JSONField(_("五分位分界点"), default=dict, blank=True, editable=False)
    clv_horizon_years = models.PositiveSmallIntegerField(
        _("CLV 年限"), default=3, validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    clv_discount_rate = models.DecimalField(
        _("CLV 年折现率"),
        max_digits=5,
        decimal_places=4,
        default=0.10,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("0.10 = 10%。"),
    )
    churn_model_min_labelled = models.PositiveIntegerField(
        _("流失模型最少样本客户数"),
        default=1000,
        validators=[MinValueValidator(20)],
        help_text=_("有结果可查的客户（观察期满 180 天）少于此数时使用规则。"),
    )
    tag_rules = models.JSONField(_("自动标签规则"), default=default_tag_rules, blank=True)
    churn_model = models.JSONField(_("流失模型"), null=True, blank=True, editable=False)
    churn_model_auc = models.FloatField(_("流失模型 AUC"), null=True, blank=True, editable=False)
    churn_model_trained_at = models.DateTimeField(_("流失模型训练时间"), null=True, blank=True, editable=False)
    churn_model_samples = models.PositiveIntegerField(_("流失模型样本数"), default=0, editable=False)
    last_bulk_at = models.DateTimeField(_("最近全量计算"), null=True, blank=True, editable=False)
    last_bulk_seconds = models.FloatField(_("最近全量计算耗时（秒）"), null=True, blank=True, editable=False)
    last_bulk_count = models.PositiveIntegerField(_("最近全量计算客户数"), default=0, editable=False)

    class Meta:
        verbose_name = _("客户画像设置")
        verbose_name_plural = _("客户画像设置")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="analytics_settings_singleton")]

    def __str__(self):
        return str(_("客户画像设置"))

    @classmethod
    def load(cls):
        settings, _created = cls.objects.get_or_create(pk=1)
        return settings


# --- 日报 / 周报 / 月报 subscriptions -----------------------------------------------------------------


class SummaryFrequency(models.TextChoices):
    DAILY = "daily", _("日报")
    WEEKLY = "weekly", _("周报")
    MONTHLY = "monthly", _("月报")


class SummarySubscription(models.Model):
    """A person's wish to receive the daily / weekly / monthly summary by e-mail — of themselves
    (no department) or of a department in their data scope. Beat sends it for the period just
    ended, computed with the subscriber's scope at send time (analytics.summary_services)."""

    user = models.ForeignKey(
        "staff.User", verbose_name=_("订阅人"), on_delete=models.CASCADE, related_name="summary_subscriptions"
    )
    frequency = models.CharField(_("频率"), max_length=8, choices=SummaryFrequency.choices)
    department = models.ForeignKey(
        "staff.Department",
        verbose_name=_("部门"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("留空为本人的报告。"),
    )
    active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("报告订阅")
        verbose_name_plural = _("报告订阅")
        ordering = ["user", "frequency", "id"]
        constraints = [
            # One subscription per person, frequency and subject ("self" is the NULL department).
            models.UniqueConstraint(
                fields=["user", "frequency", "department"], name="summary_subscription_once", nulls_distinct=False
            )
        ]
        indexes = [models.Index(fields=["frequency"], name="summary_subscription_due", condition=Q(active=True))]

    def __str__(self):
        return f"{self.user} · {self.get_frequency_display()}"


class SummaryDelivery(models.Model):
    """One summary e-mail sent: (subscription, period start) is unique, so a second beat, a retry
    or a concurrent worker never sends the same period twice."""

    subscription = models.ForeignKey(
        SummarySubscription, verbose_name=_("订阅"), on_delete=models.CASCADE, related_name="deliveries"
    )
    period_start = models.DateField(_("周期开始"))
    period_end = models.DateField(_("周期结束"))
    sent_at = models.DateTimeField(_("发送时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("报告发送记录")
        verbose_name_plural = _("报告发送记录")
        constraints = [models.UniqueConstraint(fields=["subscription", "period_start"], name="summary_delivery_once")]

    def __str__(self):
        return f"{self.subscription} · {self.period_start:%Y-%m-%d}"
