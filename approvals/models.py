"""Approval chains (审批流) and the approvals that run through them.

- ``ApprovalChain`` — configured by admins per document type (contract / payment), optionally per
  department (a chain for a department also covers its sub-departments; the most specific
  department wins) and amount range (``min_amount`` exclusive, ``max_amount`` inclusive).
- ``ApprovalStep`` — one step of a chain: who approves (see ``StepKind``) and whether any one of
  them or all of them must approve.
- ``ApprovalRequest`` — one submission of one document. It keeps a snapshot of its chain's steps,
  so editing a chain never changes an approval already under way.
- ``ApprovalTask`` — one approver's part in one step: the inbox (我的审批) reads these.
- ``ApprovalLog`` — the history: every submit, approve, reject, withdraw (and each automatic step
  decision), with actor, comment and time.

The routing rules are in ``approvals.services`` (module docstring)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from crm.models import TimeStampedModel

MONEY = {"max_digits": 14, "decimal_places": 2}

# The permission that makes its holders the "general manager" of the default contract chain.
# Given like any permission: on a Role (e.g. 总经理) in the admin, or to a user directly.
GENERAL_MANAGER_PERMISSION = "approvals.approve_as_general_manager"
GENERAL_MANAGER_CODENAME = "approve_as_general_manager"


class DocType(models.TextChoices):
    CONTRACT = "contract", _("合同")
    PAYMENT = "payment", _("回款")


class ApprovalChain(TimeStampedModel):
    name = models.CharField(_("名称"), max_length=100)
    doc_type = models.CharField(_("单据类型"), max_length=16, choices=DocType.choices)
    departments = models.ManyToManyField(
        "staff.Department",
        verbose_name=_("适用部门"),
        blank=True,
        related_name="approval_chains",
        help_text=_("留空表示所有部门；选中的部门也覆盖其下级部门，最具体的部门优先。"),
    )
    min_amount = models.DecimalField(
        _("金额大于（元）"), **MONEY, null=True, blank=True, help_text=_("不含此金额；留空表示不限。")
    )
    max_amount = models.DecimalField(
        _("金额不超过（元）"), **MONEY, null=True, blank=True, help_text=_("含此金额；留空表示不限。")
    )
    priority = models.PositiveIntegerField(
        _("优先级"), default=100, help_text=_("同样具体的多条审批流都适用时，数字小的优先。")
    )
    active = models.BooleanField(_("启用"), default=True)
    description = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("审批流")
        verbose_name_plural = _("审批流")
        ordering = ["doc_type", "priority", "id"]
        permissions = [(GENERAL_MANAGER_CODENAME, _("可以作为总经理审批"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True) | Q(max_amount__isnull=True) | Q(max_amount__gt=F("min_amount")),
                name="approval_chain_amount_range",
            )
        ]
        indexes = [models.Index(fields=["doc_type", "active"], name="approval_chain_type_active")]

    def __str__(self):
        return self.name

    def clean(self):
        if self.min_amount is not None and self.max_amount is not None and self.max_amount <= self.min_amount:
            raise ValidationError({"max_amount": _("“金额不超过”必须大于“金额大于”。")})

    def matches_amount(self, amount):
        if self.min_amount is not None and not amount > self.min_amount:
            return False
        return self.max_amount is None or amount <= self.max_amount


class StepKind(models.TextChoices):
    LEADER = "leader", _("负责人所在部门的负责人")
    MANAGER = "manager", _("负责人的上级（N 级）")
    USERS = "users", _("指定人员")
    ROLE = "role", _("角色")
    PERMISSION = "permission", _("拥有审批权限的人")


class StepMode(models.TextChoices):
    ANY = "any", _("任意一人同意")
    ALL = "all", _("所有人同意")


class ApprovalStep(models.Model):
    """Who approves at one step (resolved when the step starts, see approvals.services):

    - ``leader``: the leader of the document's department, or of the nearest department above it
      that has one;
    - ``manager``: the owner's manager ``levels`` levels up (1 = direct manager), or the highest
      one there is when the chain of managers is shorter;
    - ``users``: the named ``users``;
    - ``role``: the holders of ``role`` — with ``within_department``, only those of the document's
      department or, when none there, of the nearest department above it with a holder;
    - ``permission``: the holders of ``permission`` (given directly or through a role), e.g. the
      general manager permission of the default chain.

    ``mode``: any one approver's consent completes the step, or every approver's."""

    chain = models.ForeignKey(ApprovalChain, verbose_name=_("审批流"), on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("顺序"), default=1)
    name = models.CharField(_("步骤名称"), max_length=50, blank=True)
    kind = models.CharField(_("审批人"), max_length=16, choices=StepKind.choices, default=StepKind.LEADER)
    levels = models.PositiveSmallIntegerField(
        _("上级层数"), default=1, validators=[MinValueValidator(1)], help_text=_("仅“负责人的上级”：1 为直属上级。")
    )
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("指定人员"), blank=True, related_name="approval_steps"
    )
    role = models.ForeignKey(
        "staff.Role", verbose_name=_("角色"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    within_department = models.BooleanField(
        _("限本部门及上级部门"),
        default=False,
        help_text=_("仅“角色”：只取单据所属部门（没有则逐级向上最近的部门）中拥有该角色的人。"),
    )
    permission = models.ForeignKey(
        "auth.Permission",
        verbose_name=_("权限"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("仅“拥有审批权限的人”：例如“可以作为总经理审批”。"),
    )
    mode = models.CharField(_("会签方式"), max_length=8, choices=StepMode.choices, default=StepMode.ANY)

    class Meta:
        verbose_name = _("审批步骤")
        verbose_name_plural = _("审批步骤")
        ordering = ["chain", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "order"], name="approval_step_unique_order"),
            models.CheckConstraint(condition=Q(levels__gte=1), name="approval_step_levels_positive"),
        ]

    def __str__(self):
        return self.name or self.get_kind_display()

    def clean(self):
        if self.kind == StepKind.ROLE and not self.role_id:
            raise ValidationError({"role": _("请选择角色。")})
        if self.kind == StepKind.PERMISSION and not self.permission_id:
            raise ValidationError({"permission": _("请选择权限。")})


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("审批中")
    APPROVED = "approved", _("已通过")
    REJECTED = "rejected", _("已拒绝")
    WITHDRAWN = "withdrawn", _("已撤回")


class ApprovalRequest(TimeStampedModel):
    doc_type = models.CharField(_("单据类型"), max_length=16, choices=DocType.choices)
    object_id = models.BigIntegerField(_("单据ID"))
    title = models.CharField(_("标题"), max_length=200)
    link = models.CharField(_("链接"), max_length=300, blank=True)
    amount = models.DecimalField(_("金额（元）"), **MONEY)
    department = models.ForeignKey(
        "staff.Department", verbose_name=_("部门"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("负责人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    chain = models.ForeignKey(
        ApprovalChain, verbose_name=_("审批流"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    chain_name = models.CharField(_("审批流名称"), max_length=100, blank=True)
    # The chain's steps when submitted: [{"name", "kind", "levels", "mode", "user_ids", "role_id",
    # "within_department", "permission_id"}, …]; ``current_step`` is a 1-based position in it.
    steps = models.JSONField(_("审批步骤"), default=list)
    current_step = models.PositiveSmallIntegerField(_("当前步骤"), default=1)
    status = models.CharField(
        _("状态"), max_length=12, choices=RequestStatus.choices, default=RequestStatus.PENDING, db_index=True
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("提交人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(_("提交时间"))
    decided_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("审批单")
        verbose_name_plural = _("审批单")
        ordering = ["-submitted_at", "-id"]
        constraints = [
            # A document is under one approval at a time.
            models.UniqueConstraint(
                fields=["doc_type", "object_id"],
                condition=Q(status="pending"),
                name="approval_request_one_pending_per_document",
            )
        ]
        indexes = [
            models.Index(fields=["doc_type", "object_id", "-submitted_at"], name="approval_request_document"),
            models.Index(fields=["submitted_by", "status"], name="approval_request_submitter"),
        ]

    def __str__(self):
        return self.title

    @property
    def step_count(self):
        return len(self.steps)

    @property
    def current_step_name(self):
        if self.status != RequestStatus.PENDING:
            return ""
        if not self.steps:  # no chain matched: the admins approve
            return str(_("管理员审批"))
        if not 1 <= self.current_step <= len(self.steps):
            return ""
        return self.steps[self.current_step - 1].get("name", "")


class Decision(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已同意")
    REJECTED = "rejected", _("已拒绝")
    # Not this approver's decision: another approver completed the step ("any one"), someone
    # rejected, or the submitter withdrew.
    CANCELLED = "cancelled", _("无需审批")


class ApprovalTask(models.Model):
    request = models.ForeignKey(
        ApprovalRequest, verbose_name=_("审批单"), on_delete=models.CASCADE, related_name="tasks"
    )
    step = models.PositiveSmallIntegerField(_("步骤"))
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("审批人"), on_delete=models.CASCADE, related_name="approval_tasks"
    )
    decision = models.CharField(_("审批结果"), max_length=12, choices=Decision.choices, default=Decision.PENDING)
    comment = models.TextField(_("审批意见"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("审批任务")
        verbose_name_plural = _("审批任务")
        ordering = ["request", "step", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "step", "approver"], name="approval_task_once_per_step"),
        ]
        indexes = [
            # 我的审批, pending tab and the navbar badge: a small partial index.
            models.Index(
                fields=["approver", "-created_at", "-id"],
                name="approval_task_inbox",
                condition=Q(decision="pending"),
            ),
            # 我的审批, done tab.
            models.Index(
                fields=["approver", "-decided_at", "-id"],
                name="approval_task_done",
                condition=Q(decision__in=["approved", "rejected"]),
            ),
        ]

    def __str__(self):
        return f"{self.request_id}#{self.step} {self.approver_id}: {self.decision}"


class LogAction(models.TextChoices):
    SUBMIT = "submit", _("提交")
    APPROVE = "approve", _("同意")
    REJECT = "reject", _("拒绝")
    WITHDRAW = "withdraw", _("撤回")
    # A step completed without anyone's new action: its approver already approved an earlier step.
    AUTO_APPROVE = "auto_approve", _("自动同意")
    FALLBACK = "fallback", _("转管理员")


class ApprovalLog(models.Model):
    request = models.ForeignKey(
        ApprovalRequest, verbose_name=_("审批单"), on_delete=models.CASCADE, related_name="logs"
    )
    action = models.CharField(_("操作"), max_length=16, choices=LogAction.choices)
    step = models.PositiveSmallIntegerField(_("步骤"), null=True, blank=True)
    step_name = models.CharField(_("步骤名称"), max_length=50, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.TextField(_("意见"), blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("审批记录")
        verbose_name_plural = _("审批记录")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["request", "created_at", "id"], name="approval_log_request")]

    def __str__(self):
        return f"{self.request_id} {self.action}"
