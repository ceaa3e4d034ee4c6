"""Deals (商机): stage groups (sales pipelines) and their stages, opportunities, the history of
every stage change (the only source of conversion and cycle-time figures), and lost reasons."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import color_validator
from staff.scope import OwnedModel, ScopedQuerySet, scope_filter
from staff.teams import TeamAccess, TeamMemberBase, team_member_q

PROBABILITY_VALIDATORS = [MinValueValidator(0), MaxValueValidator(100)]


class StageKind(models.TextChoices):
    OPEN = "open", _("进行中")
    WON = "won", _("赢单")
    LOST = "lost", _("输单")
    INVALID = "invalid", _("无效")


CLOSED_KINDS = (StageKind.WON, StageKind.LOST, StageKind.INVALID)
# Stages of the funnel: the open ones in order, then won.
FUNNEL_KINDS = (StageKind.OPEN, StageKind.WON)


class StageGroup(models.Model):
    """A sales pipeline (阶段组). Each is used by some departments (and their sub-departments);
    the default one by everyone else."""

    name = models.CharField(_("名称"), max_length=50, unique=True)
    departments = models.ManyToManyField(
        "staff.Department", verbose_name=_("适用部门"), blank=True, related_name="stage_groups"
    )
    is_default = models.BooleanField(_("默认"), default=False)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("商机阶段组")
        verbose_name_plural = _("商机阶段组")
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_stage_group")
        ]

    def __str__(self):
        return self.name


class Stage(models.Model):
    group = models.ForeignKey(StageGroup, verbose_name=_("阶段组"), on_delete=models.CASCADE, related_name="stages")
    code = models.SlugField(_("代码"), max_length=30)
    name = models.CharField(_("名称"), max_length=30)
    probability = models.PositiveSmallIntegerField(_("赢率（%）"), validators=PROBABILITY_VALIDATORS)
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)
    color = models.CharField(_("颜色"), max_length=7, validators=[color_validator], default="#0d6efd")
    kind = models.CharField(_("类型"), max_length=8, choices=StageKind.choices, default=StageKind.OPEN)

    class Meta:
        verbose_name = _("商机阶段")
        verbose_name_plural = _("商机阶段")
        ordering = ["group", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "code"], name="stage_unique_code_per_group"),
            models.CheckConstraint(condition=Q(probability__lte=100), name="stage_probability_max_100"),
        ]

    def __str__(self):
        return self.name


class LostReason(models.Model):
    """输单原因: the list a lost deal picks from (configured in admin)."""

    name = models.CharField(_("名称"), max_length=50, unique=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("输单原因")
        verbose_name_plural = _("输单原因")
        ordering = ["order", "name"]

    def __str__(self):
        return self.name


class OpportunityQuerySet(ScopedQuerySet):
    """Deals a user may see: their data scope over the deal's owner/department, plus the deals they
    are an active team member of; never deals of a customer in the recycle bin."""

    def scope_q(self, user):
        owned = scope_filter(user)
        if not owned:  # Q(): the "all" scope
            return owned
        return owned | team_member_q(OpportunityTeamMember, user)

    def alive(self):
        """Deals of customers not in the recycle bin. NOT EXISTS against the binned customers (a
        few thousand, read from a small partial index) rather than a join on the live ones: joined,
        the planner hashes the ids of all 500,000 customers for every board or funnel (~300 ms at
        full scale) however few deals it reads."""
        from customers.models import Customer

        return self.filter(~Exists(Customer.objects.filter(pk=OuterRef("customer_id"), deleted_at__isnull=False)))

    def visible_to(self, user):
        return self.alive().filter(self.scope_q(user))

    def editable_by(self, user):
        """Deals ``user`` may change: data scope, or a read-write team member."""
        owned = scope_filter(user)
        if owned:
            owned |= team_member_q(OpportunityTeamMember, user, access=TeamAccess.WRITE)
        return self.alive().filter(owned)

    def open(self):
        return self.filter(stage__kind=StageKind.OPEN)


class Opportunity(OwnedModel):
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("客户"), on_delete=models.CASCADE, related_name="opportunities"
    )
    title = models.CharField(_("商机名称"), max_length=200)
    amount = models.DecimalField(
        _("金额（元）"), max_digits=14, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    stage = models.ForeignKey(Stage, verbose_name=_("阶段"), on_delete=models.PROTECT, related_name="opportunities")
    probability = models.PositiveSmallIntegerField(_("赢率（%）"), validators=PROBABILITY_VALIDATORS)
    expected_close_date = models.DateField(_("预计成交日期"), null=True, blank=True)
    source = models.ForeignKey(
        "customers.Source", verbose_name=_("来源"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lost_reason = models.ForeignKey(
        LostReason, verbose_name=_("输单原因"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lost_note = models.CharField(_("输单说明"), max_length=200, blank=True)
    won_at = models.DateTimeField(_("赢单时间"), null=True, blank=True)
    lost_at = models.DateTimeField(_("输单时间"), null=True, blank=True)
    remark = models.TextField(_("备注"), blank=True)
    version = models.PositiveIntegerField(_("版本"), default=1)
    # The ``order`` of the furthest funnel stage (open or won) the deal's stage history reached —
    # what the funnel counts a deal as having reached (None: none). Derived, never written by
    # hand: ``services._enter_stage`` sets it with each move, and database triggers (migration
    # 0003) keep it equal to the history whatever writes it (history rows added, changed or
    # deleted; a stage's order or kind changed).
    furthest_stage_order = models.PositiveSmallIntegerField(_("到达的最远阶段顺序"), null=True, editable=False)
    # The deal's ended stays per stage, ``{to_stage_id: [seconds, stays]}`` (None: none) — the
    # funnel's average days in a stage from the deals alone. Derived: kept equal to the history by
    # the history triggers (migration 0004), and only by them (a write from elsewhere is ignored).
    stay_totals = models.JSONField(_("已结束停留合计"), null=True, editable=False)

    objects = OpportunityQuerySet.as_manager()

    class Meta:
        verbose_name = _("商机")
        verbose_name_plural = _("商机")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="opportunity_amount_not_negative"),
            models.CheckConstraint(condition=Q(probability__lte=100), name="opportunity_probability_max_100"),
        ]
        indexes = [
            # Board columns: the cards of one stage, most recently changed first.
            models.Index(fields=["stage", "-updated_at", "-id"], name="opportunity_stage_recent"),
            models.Index(fields=["owner", "stage"], name="opportunity_owner_stage"),
            models.Index(fields=["department", "stage"], name="opportunity_dept_stage"),
            models.Index(fields=["customer", "stage"], name="opportunity_customer_stage"),
            models.Index(fields=["expected_close_date"], name="opportunity_expected_close"),
            models.Index(fields=["-updated_at", "-id"], name="opportunity_recent"),
        ]

    def __str__(self):
        return self.title


class OpportunityTeamMember(TeamMemberBase):
    """One guardian object permission on one deal (see staff.teams)."""

    content_object = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="team_rows")

    class Meta(TeamMemberBase.Meta):
        verbose_name = _("商机团队成员")
        verbose_name_plural = _("商机团队成员")
        indexes = [models.Index(fields=["user", "permission", "content_object"], name="opportunity_team_user_idx")]


class StageHistory(models.Model):
    """One row per stage change (and one for the stage a deal was created in, ``from_stage``
    empty), written in the same transaction as the change."""

    opportunity = models.ForeignKey(
        Opportunity, verbose_name=_("商机"), on_delete=models.CASCADE, related_name="stage_history"
    )
    from_stage = models.ForeignKey(
        Stage, verbose_name=_("原阶段"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, verbose_name=_("新阶段"), on_delete=models.PROTECT, related_name="+")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("时间"), default=timezone.now)
    # When the deal left this row's stage: the next row's ``changed_at`` (None: it is still there).
    # Derived, kept by database triggers (migration 0003) — the funnel's average days in a stage.
    left_at = models.DateTimeField(_("离开时间"), null=True, editable=False)

    class Meta:
        verbose_name = _("阶段变更记录")
        verbose_name_plural = _("阶段变更记录")
        ordering = ["changed_at", "id"]
        indexes = [
            models.Index(fields=["opportunity", "changed_at", "id"], name="stage_history_deal_time"),
            # The funnel's ended stays of a set of deals, read from the index alone.
            models.Index(
                fields=["opportunity"],
                include=["to_stage", "changed_at", "left_at"],
                condition=Q(left_at__isnull=False),
                name="stage_history_ended_stays",
            ),
        ]

    def __str__(self):
        return f"{self.opportunity_id}: {self.from_stage_id} → {self.to_stage_id}"
