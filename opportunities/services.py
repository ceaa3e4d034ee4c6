"""Writes on deals. Every caller — API, web pages, board, demo data — comes here. Every path that
changes a deal's stage goes through ``_enter_stage``, which writes the stage-history row in the
same transaction."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditAction
from audit.services import audit_record
from crm.errors import ConflictError, DomainError
from customers import services as customer_services
from opportunities.forms import UPDATE_FIELDS, OpportunityForm
from opportunities.models import (
    FUNNEL_KINDS,
    LostReason,
    Opportunity,
    OpportunityTeamMember,
    Stage,
    StageGroup,
    StageHistory,
    StageKind,
)
from staff import teams

# Kept in step with migration 0002 (which must not import this module): code, name, %, kind, colour.
DEFAULT_STAGES = [
    ("lead", "线索", 10, StageKind.OPEN, "#6c757d"),
    ("opportunity", "商机", 30, StageKind.OPEN, "#0dcaf0"),
    ("proposal", "报价", 50, StageKind.OPEN, "#0d6efd"),
    ("negotiation", "谈判", 75, StageKind.OPEN, "#6f42c1"),
    ("won", "成交", 100, StageKind.WON, "#198754"),
    ("lost", "输单", 0, StageKind.LOST, "#dc3545"),
    ("invalid", "无效", 0, StageKind.INVALID, "#adb5bd"),
]

# The hook for "moving into won offers to draft a contract": the contracts app registers a
# callable (user=, opportunity=) -> dict | None here; it runs inside the move's transaction and
# what it returns (e.g. {"draft_contract_url": …}) is handed back to the page / API caller as
# ``won_actions``. Products (product lines on a deal) also wait for that app.
DEAL_WON_HOOKS = {}


class FormValidationError(DomainError):
    """Invalid input (400, errors per field) carrying the bound form for the pages."""

    def __init__(self, form):
        super().__init__(
            _("提交的数据有误，请检查后重试。"),
            code="invalid",
            fields={name: list(messages) for name, messages in form.errors.items()},
        )
        self.form = form


# --- stage groups -------------------------------------------------------------------------------


@transaction.atomic
def stage_group_ensure_default():
    """The default pipeline, created with its seven stages if missing (the data migration does
    this on a new database; tests that flush tables call it again)."""
    group = StageGroup.objects.filter(is_default=True).first()
    if group is None:
        group = StageGroup.objects.create(name="默认销售流程", is_default=True)
        Stage.objects.bulk_create(
            Stage(group=group, code=code, name=name, probability=probability, kind=kind, color=color, order=i * 10)
            for i, (code, name, probability, kind, color) in enumerate(DEFAULT_STAGES, start=1)
        )
    return group


def stage_delete(*, stage):
    """A stage that deals stand in (now, or in their history) cannot be deleted."""
    in_use = (
        Opportunity.objects.filter(stage=stage).exists()
        or StageHistory.objects.filter(to_stage=stage).exists()
        or StageHistory.objects.filter(from_stage=stage).exists()
    )
    if in_use:
        raise ConflictError(_("该阶段下有商机或阶段记录，不能删除。"), code="stage_in_use")
    stage.delete()


def stage_group_delete(*, group):
    if group.is_default:
        raise ConflictError(_("默认阶段组不能删除。"), code="default_group")
    if Opportunity.objects.filter(stage__group=group).exists():
        raise ConflictError(_("该阶段组下有商机，不能删除。"), code="stage_in_use")
    StageHistory.objects.filter(to_stage__group=group).delete()  # none without deals; kept explicit
    group.delete()


# --- deals --------------------------------------------------------------------------------------


def _form_input(value):
    if value is None or isinstance(value, bool | str):
        return value
    return str(value)


def _validated(*, user, data, instance=None):
    creating = instance is None
    current = {}
    if not creating:
        current = {name: getattr(instance, Opportunity._meta.get_field(name).attname) for name in UPDATE_FIELDS}
    merged = {**current, **{key: _form_input(value) for key, value in data.items()}}
    form = OpportunityForm(data=merged, instance=instance, user=user, creating=creating)
    if not form.is_valid():
        raise FormValidationError(form)
    return form


def _check_editable(user, opportunity):
    if not Opportunity.objects.editable_by(user).filter(pk=opportunity.pk).exists():
        raise DomainError(_("您对该商机只有查看权限。"), code="read_only", status=403)


def _check_version(locked, version):
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ValidationError({"version": [_("请提供当前版本号 version。")]}) from None
    if locked.version != version:
        raise ConflictError(
            _("该商机已被他人修改，请刷新后重试。"),
            code="stale_version",
            extra={"current_version": locked.version},
        )


def _enter_stage(*, user, opportunity, stage, at, lost_reason=None, lost_note=""):
    """Put the deal into ``stage`` (won/lost times, lost reason, probability) and write the
    history row — the one place a stage changes. The caller saves the deal."""
    previous = opportunity.stage if opportunity.stage_id else None
    opportunity.stage = stage
    opportunity.probability = stage.probability if previous is not None else opportunity.probability
    opportunity.won_at = at if stage.kind == StageKind.WON else None
    opportunity.lost_at = at if stage.kind == StageKind.LOST else None
    opportunity.lost_reason = lost_reason if stage.kind == StageKind.LOST else None
    opportunity.lost_note = lost_note if stage.kind == StageKind.LOST else ""
    if stage.kind in FUNNEL_KINDS and (
        opportunity.furthest_stage_order is None or stage.order > opportunity.furthest_stage_order
    ):
        opportunity.furthest_stage_order = stage.order  # the triggers agree (migration 0003)
    return StageHistory(opportunity=opportunity, from_stage=previous, to_stage=stage, changed_by=user, changed_at=at)


@transaction.atomic
def opportunity_create(*, user, data, owner=None):
    """A new deal for a customer the user sees, owned by ``owner`` (default: the creator) in the
    owner's department; its first stage-history row records the stage it starts in."""
    data = dict(data)
    form = _validated(user=user, data=data)
    opportunity = form.save(commit=False)
    owner = owner or user
    opportunity.owner = owner
    opportunity.department_id = owner.department_id
    opportunity.created_by = user
    stage = form.cleaned_data["stage"]
    if form.cleaned_data.get("probability") is None:
        opportunity.probability = stage.probability
    opportunity.stage_id = None
    history = _enter_stage(user=user, opportunity=opportunity, stage=stage, at=timezone.now())
    opportunity.save()
    history.opportunity = opportunity
    history.save()
    _run_won_hooks(user, opportunity, stage)
    return opportunity


@transaction.atomic
def opportunity_update(*, user, opportunity, version, data):
    """Change a deal's fields (not its stage: that is ``opportunity_move``, which keeps the
    history; nor its customer, owner or department). A stale ``version`` → 409, nothing written."""
    locked = Opportunity.objects.select_for_update().select_related("stage").get(pk=opportunity.pk)
    _check_editable(user, locked)
    _check_version(locked, version)
    data = dict(data)
    stage = data.pop("stage", None)
    if stage is not None and str(getattr(stage, "pk", stage)) != str(locked.stage_id):
        raise DomainError(
            _("请通过“移动阶段”修改商机阶段。"), code="use_move", fields={"stage": [_("请使用 move 修改阶段。")]}
        )
    customer = data.pop("customer", None)
    if customer is not None and str(getattr(customer, "pk", customer)) != str(locked.customer_id):
        raise DomainError(_("商机不能改到其他客户下。"), fields={"customer": [_("商机不能改到其他客户下。")]})
    form = _validated(user=user, data=data, instance=locked)
    if not form.has_changed():
        return locked
    opportunity = form.save(commit=False)
    if form.cleaned_data.get("probability") is None:
        opportunity.probability = locked.stage.probability
    opportunity.version = locked.version + 1
    opportunity.save()
    return opportunity


@transaction.atomic
def opportunity_move(*, user, opportunity, stage, version, lost_reason=None, lost_note=""):
    """Move a deal to ``stage`` of its own pipeline (the kanban drag, the API's ``move``). A stale
    ``version`` → 409; a lost stage needs a lost reason. Writes the stage-history row. Returns
    (deal, won_actions): what the won hooks offer (a contract draft, once contracts exist)."""
    locked = Opportunity.objects.select_for_update().select_related("stage").get(pk=opportunity.pk)
    _check_editable(user, locked)
    _check_version(locked, version)
    if stage.group_id != locked.stage.group_id:
        raise DomainError(
            _("只能移动到本阶段组的阶段。"), code="invalid", fields={"stage": [_("阶段不属于该商机的阶段组。")]}
        )
    if stage.pk == locked.stage_id:  # dropped where it was: nothing changes, no history row
        return locked, {}
    lost_note = (lost_note or "").strip()[:200]
    if stage.kind == StageKind.LOST:
        if lost_reason is None:
            raise DomainError(
                _("输单时请选择输单原因。"),
                code="lost_reason_required",
                fields={"lost_reason": [_("请选择输单原因。")]},
            )
        if not lost_reason.is_active:
            raise DomainError(_("该输单原因已停用。"), fields={"lost_reason": [_("该输单原因已停用。")]})
    now = timezone.now()
    history = _enter_stage(
        user=user, opportunity=locked, stage=stage, at=now, lost_reason=lost_reason, lost_note=lost_note
    )
    locked.version += 1
    locked.save(
        update_fields=[
            "stage", "probability", "won_at", "lost_at", "lost_reason", "lost_note", "furthest_stage_order",
            "version", "updated_at",
        ]
    )  # fmt: skip
    history.save()
    return locked, _run_won_hooks(user, locked, stage)


def _run_won_hooks(user, opportunity, stage):
    if stage.kind != StageKind.WON:
        return {}
    customer_services.customer_dealt(customer_id=opportunity.customer_id, at=opportunity.won_at)
    actions = {}
    for hook in DEAL_WON_HOOKS.values():
        actions.update(hook(user=user, opportunity=opportunity) or {})
    return actions


@transaction.atomic
def opportunity_delete(*, user, opportunity, request=None):
    """Delete a deal (and its stage history). Owners and their managers may; team members not."""
    from staff.scope import scope_filter

    if not Opportunity.objects.filter(scope_filter(user), pk=opportunity.pk).exists():
        raise DomainError(_("只有负责人或其上级可以删除商机。"), code="forbidden", status=403)
    audit_record(actor=user, action=AuditAction.DELETE, target=opportunity, request=request)
    opportunity.delete()


# --- team members -------------------------------------------------------------------------------


def _check_can_share(user, opportunity):
    from staff.scope import scope_filter

    if not Opportunity.objects.filter(scope_filter(user), pk=opportunity.pk).exists():
        raise DomainError(_("只有负责人或其上级可以管理团队成员。"), code="forbidden", status=403)


@transaction.atomic
def opportunity_team_member_set(*, user, opportunity, member, access, expires_at=None, request=None):
    _check_can_share(user, opportunity)
    if member.pk == opportunity.owner_id:
        raise ValidationError({"user": [_("负责人无需加入团队。")]})
    teams.team_member_set(
        OpportunityTeamMember, obj=opportunity, member=member, access=access, expires_at=expires_at, granted_by=user
    )
    audit_record(
        actor=user,
        action=AuditAction.TEAM_MEMBER_ADD,
        target=opportunity,
        data={"member": member.pk, "access": str(access)},
        request=request,
    )


@transaction.atomic
def opportunity_team_member_remove(*, user, opportunity, member, request=None):
    _check_can_share(user, opportunity)
    if not teams.team_member_remove(OpportunityTeamMember, obj=opportunity, member=member):
        raise DomainError(_("该员工不是团队成员。"), code="not_found", status=404)
    audit_record(
        actor=user,
        action=AuditAction.TEAM_MEMBER_REMOVE,
        target=opportunity,
        data={"member": member.pk},
        request=request,
    )


# --- followers of customer transfers and merges (registered in apps.py) -------------------------

# ``customer_transfer(options={"opportunities": True})`` moves the customers' open deals too.
TRANSFER_OPTION = "opportunities"


def opportunities_follow_transfer(*, user, customer_ids, to_owner, options):
    """Open deals of transferred customers follow them to the new owner when ``options`` asks
    (``{"opportunities": true}``); won and lost deals stay with who closed them. One UPDATE."""
    if not options.get(TRANSFER_OPTION):
        return 0
    from staff.scope import scope_filter

    return (
        # Only deals in the transferrer's data scope: a team member's own deal elsewhere stays theirs.
        Opportunity.objects.filter(scope_filter(user), customer_id__in=customer_ids, stage__kind=StageKind.OPEN)
        .exclude(owner_id=to_owner.pk)
        .update(
            owner_id=to_owner.pk,
            department_id=to_owner.department_id,
            version=F("version") + 1,
            updated_at=timezone.now(),
        )
    )


def opportunities_move_to_survivor(*, user, survivor, other):
    """A merge moves every deal of ``other`` to ``survivor`` (history comes along)."""
    return Opportunity.objects.filter(customer_id=other.pk).update(
        customer_id=survivor.pk, version=F("version") + 1, updated_at=timezone.now()
    )


def lost_reason_choices():
    return LostReason.objects.filter(is_active=True)
