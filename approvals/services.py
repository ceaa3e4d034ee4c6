"""Writes of approvals: start, approve, reject, withdraw. Every one runs in a transaction with the
request row locked (``select_for_update``), writes the history, notifies, and — when the approval
ends — calls the document type's callback (approvals.registry) in the same transaction.

Routing rules (审批路由), in one place:

1. **Which chain**: ``selectors.approval_chain_for`` — amount range first, then the most specific
   department (a chain for a department covers its sub-departments), then ``priority``. No chain
   (e.g. an admin switched the defaults off): one step, the admins.
2. **Who approves a step** is resolved when the step starts (the first at submission), from the
   request's snapshot of its chain: see ``ApprovalStep`` and ``selectors.step_approvers``.
3. **Nobody approves their own document**: the document's owner and the submitter are left out of
   every step. A leader step whose leader is one of them goes to the leader of the department above;
   a manager step one manager further up.
4. **No approver found** → the active superusers (admins); logged as 转管理员.
5. **An approver who already approved an earlier step of the same request counts as having
   approved** later steps: a step of mode "any" with such an approver completes at once, a step of
   mode "all" only waits for the others (logged as 自动同意). So a department leader who also holds
   the general manager permission approves a large contract once, not twice.
6. Mode "any": the first approval completes the step (the others' tasks become 无需审批); mode
   "all": every approver must approve. A rejection at any step rejects the request (comment
   required). The submitter or the owner may withdraw while the request is pending.
7. Notifications (notifications.services.notification_send): each step's approvers when the step
   starts (occasion ``step-N`` of that request — a resubmission is a new request, so it notifies
   again); the submitter and owner when a step is passed and when the request ends; the pending
   approvers when it is withdrawn. Nobody is notified of their own action."""

from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from approvals import registry, selectors
from approvals.models import (
    ApprovalLog,
    ApprovalRequest,
    ApprovalTask,
    Decision,
    LogAction,
    RequestStatus,
    StepMode,
)
from crm.errors import DomainError

# Notification kinds (notifications.models.Notification.kind); target_id is the request's id.
APPROVAL_PENDING = "approval_pending"
APPROVAL_PROGRESS = "approval_progress"
APPROVAL_RESULT = "approval_result"
APPROVAL_WITHDRAWN = "approval_withdrawn"

COMMENT_MAX_LENGTH = 1000


class ApprovalErrorCode:
    ALREADY_PENDING = "approval_already_pending"
    NOT_PENDING = "approval_not_pending"
    COMMENT_REQUIRED = "comment_required"
    COMMENT_TOO_LONG = "comment_too_long"
    NOT_SUBMITTER = "not_submitter"
    DOCUMENT_GONE = "document_gone"
    UNKNOWN_TYPE = "unknown_document_type"


def _comment(comment, *, required=False):
    comment = (comment or "").strip()
    if required and not comment:
        raise DomainError(
            _("请填写拒绝理由。"), code=ApprovalErrorCode.COMMENT_REQUIRED, fields={"comment": [_("请填写拒绝理由。")]}
        )
    if len(comment) > COMMENT_MAX_LENGTH:
        message = _("意见最多 %(n)s 字。") % {"n": COMMENT_MAX_LENGTH}
        raise DomainError(message, code=ApprovalErrorCode.COMMENT_TOO_LONG, fields={"comment": [message]})
    return comment


def _detail_link(request):
    return reverse("approvals:detail", args=[request.pk])


def _step_name(request, step):
    if step is None:
        return ""
    if not request.steps:
        return str(_("管理员审批"))
    if 1 <= step <= len(request.steps):
        return request.steps[step - 1].get("name", "")[:50]
    return ""


def _log(request, action, *, actor=None, actor_id=None, step=None, comment=""):
    return ApprovalLog.objects.create(
        request=request,
        action=action,
        actor_id=actor.pk if actor is not None else actor_id,
        step=step,
        step_name=_step_name(request, step),
        comment=comment,
    )


def _notify(*, recipient_ids, kind, request, occasion, title, actor=None, comment="", link=None):
    from notifications.services import notification_send

    recipients = [pk for pk in dict.fromkeys(recipient_ids) if pk is not None and (actor is None or pk != actor.pk)]
    if not recipients:
        return []
    return notification_send(
        recipient_ids=recipients,
        kind=kind,
        target_id=request.pk,
        occasion=occasion,
        title=title,
        body=gettext_lazy("意见：%(comment)s") if comment else "",
        params={
            "title": request.title,
            "actor": str(actor) if actor else "",
            "submitter": str(request.submitted_by) if request.submitted_by_id else "",
            "comment": comment,
        },
        link=link if link is not None else (request.link or _detail_link(request)),
    )


def _lock(request):
    return ApprovalRequest.objects.select_for_update(of=("self",)).select_related("submitted_by").get(pk=request.pk)


def _prior_approver_ids(request, before_step):
    return set(
        ApprovalTask.objects.filter(request=request, step__lt=before_step, decision=Decision.APPROVED).values_list(
            "approver_id", flat=True
        )
    )


def _start_step(request, position, *, actor):
    """Start step ``position`` (1-based) of a locked request: resolve its approvers, count those
    who already approved an earlier step, create the others' tasks and notify them. Returns True
    when the step completed at once (rule 5)."""
    request.current_step = position
    request.save(update_fields=["current_step", "updated_at"])
    step = request.steps[position - 1] if request.steps else {"name": str(_("管理员审批")), "mode": StepMode.ANY}
    approvers = selectors.step_approvers(request=request, step=step) if request.steps else []
    if not approvers:
        approvers = selectors.fallback_approvers(request=request)
        _log(request, LogAction.FALLBACK, step=position, comment=_("未找到审批人，转系统管理员审批。"))
    prior = _prior_approver_ids(request, position)
    already = [pk for pk in approvers if pk in prior]
    if already and (selectors.step_mode(step) == StepMode.ANY or set(approvers) <= prior):
        _log(request, LogAction.AUTO_APPROVE, actor_id=already[0], step=position, comment=_("审批人已在前序步骤同意。"))
        return True
    remaining = [pk for pk in approvers if pk not in prior]
    ApprovalTask.objects.bulk_create([ApprovalTask(request=request, step=position, approver_id=pk) for pk in remaining])
    _notify(
        recipient_ids=remaining,
        kind=APPROVAL_PENDING,
        request=request,
        occasion=f"step-{position}",
        title=gettext_lazy("%(submitter)s 提交的审批待你处理：%(title)s"),
        link=_detail_link(request),
    )
    return False


def _advance(request, *, actor):
    """The current step is complete: start the next ones (some may complete at once); when none
    is left, the request is approved. Returns True when the request ended approved."""
    position = request.current_step
    total = max(1, len(request.steps))
    while position < total:
        position += 1
        if not _start_step(request, position, actor=actor):
            _notify(
                recipient_ids=[request.submitted_by_id, request.owner_id],
                kind=APPROVAL_PROGRESS,
                request=request,
                occasion=f"step-{position}",
                title=gettext_lazy("你提交的审批已进入下一步：%(title)s"),
                actor=actor,
            )
            return False
    _finish(request, RequestStatus.APPROVED)
    document = _document(request)
    registry.get(request.doc_type).on_approved(document, actor)
    _notify(
        recipient_ids=[request.submitted_by_id, request.owner_id],
        kind=APPROVAL_RESULT,
        request=request,
        occasion=RequestStatus.APPROVED,
        title=gettext_lazy("审批已通过：%(title)s"),
        actor=actor,
    )
    return True


def _finish(request, status):
    now = timezone.now()
    ApprovalTask.objects.filter(request=request, decision=Decision.PENDING).update(
        decision=Decision.CANCELLED, decided_at=now
    )
    request.status = status
    request.decided_at = now
    request.save(update_fields=["status", "decided_at", "updated_at"])


def _document(request):
    document = registry.load_document(request.doc_type, request.object_id)
    if document is None:
        raise DomainError(_("单据已不存在。"), code=ApprovalErrorCode.DOCUMENT_GONE)
    return document


@transaction.atomic
def approval_start(*, user, doc_type, document, amount, department, owner, title, link="", comment=""):
    """Submit ``document`` for approval through the chain that matches it; returns the request.
    The caller has checked the user may submit it and moved the document to its pending state
    in the same transaction. 400 when the document is already under approval."""
    comment = _comment(comment)
    if doc_type not in registry.DOCUMENT_TYPES:
        raise DomainError(_("不支持的单据类型。"), code=ApprovalErrorCode.UNKNOWN_TYPE)
    if selectors.open_request(doc_type=doc_type, object_id=document.pk) is not None:
        raise DomainError(_("该单据正在审批中。"), code=ApprovalErrorCode.ALREADY_PENDING)
    chain = selectors.approval_chain_for(doc_type=doc_type, department=department, amount=amount)
    request = ApprovalRequest.objects.create(
        doc_type=doc_type,
        object_id=document.pk,
        title=str(title)[:200],
        link=str(link or "")[:300],
        amount=amount,
        department=department,
        owner=owner,
        chain=chain,
        chain_name=chain.name if chain else "",
        steps=selectors.chain_steps_snapshot(chain),
        current_step=1,
        status=RequestStatus.PENDING,
        submitted_by=user,
        submitted_at=timezone.now(),
    )
    _log(request, LogAction.SUBMIT, actor=user, comment=comment)
    # The first step never completes at once (nobody approved anything yet).
    _start_step(request, 1, actor=user)
    return request


def _current_task(request, user):
    task = (
        ApprovalTask.objects.select_for_update()
        .filter(request=request, step=request.current_step, approver_id=user.pk, decision=Decision.PENDING)
        .first()
    )
    if request.status != RequestStatus.PENDING or task is None or not user.is_active:
        # The same answer for "not yours", "already decided" and "missing".
        raise Http404
    return task


@transaction.atomic
def approval_approve(*, user, request, comment=""):
    """The user, an approver of the current step, approves. Completes the step by the step's mode;
    the last step approves the request and calls the document's ``on_approved``. 404 for anyone
    who is not a current approver."""
    comment = _comment(comment)
    request = _lock(request)
    task = _current_task(request, user)
    now = timezone.now()
    task.decision, task.comment, task.decided_at = Decision.APPROVED, comment, now
    task.save(update_fields=["decision", "comment", "decided_at"])
    _log(request, LogAction.APPROVE, actor=user, step=request.current_step, comment=comment)
    step = request.steps[request.current_step - 1] if request.steps else {}
    open_tasks = ApprovalTask.objects.filter(request=request, step=request.current_step, decision=Decision.PENDING)
    if selectors.step_mode(step) == StepMode.ANY:
        open_tasks.update(decision=Decision.CANCELLED, decided_at=now)
    elif open_tasks.exists():
        return request
    _advance(request, actor=user)
    return request


@transaction.atomic
def approval_reject(*, user, request, comment):
    """The user, an approver of the current step, rejects (comment required): the request is
    rejected and the document's ``on_rejected`` called. 404 for anyone else."""
    comment = _comment(comment, required=True)
    request = _lock(request)
    task = _current_task(request, user)
    task.decision, task.comment, task.decided_at = Decision.REJECTED, comment, timezone.now()
    task.save(update_fields=["decision", "comment", "decided_at"])
    _log(request, LogAction.REJECT, actor=user, step=request.current_step, comment=comment)
    _finish(request, RequestStatus.REJECTED)
    registry.get(request.doc_type).on_rejected(_document(request), user, comment)
    _notify(
        recipient_ids=[request.submitted_by_id, request.owner_id],
        kind=APPROVAL_RESULT,
        request=request,
        occasion=RequestStatus.REJECTED,
        title=gettext_lazy("审批被拒绝：%(title)s（%(actor)s）"),
        actor=user,
        comment=comment,
    )
    return request


def can_withdraw(*, user, request):
    return request.status == RequestStatus.PENDING and user.pk in (request.submitted_by_id, request.owner_id)


@transaction.atomic
def approval_withdraw(*, user, request, comment=""):
    """The submitter or the owner withdraws a pending request; the document's ``on_withdrawn`` is
    called and the approvers who were waiting are told. 400 when it is no longer pending, 403 for
    anyone else (callers fetch the request through the document's scope or the user's requests)."""
    comment = _comment(comment)
    request = _lock(request)
    if request.status != RequestStatus.PENDING:
        raise DomainError(_("审批已结束，不能撤回。"), code=ApprovalErrorCode.NOT_PENDING)
    if user.pk not in (request.submitted_by_id, request.owner_id):
        raise DomainError(_("只有提交人或负责人可以撤回。"), code=ApprovalErrorCode.NOT_SUBMITTER, status=403)
    waiting = selectors.pending_approver_ids(request)
    _log(request, LogAction.WITHDRAW, actor=user, step=request.current_step, comment=comment)
    _finish(request, RequestStatus.WITHDRAWN)
    registry.get(request.doc_type).on_withdrawn(_document(request), user)
    _notify(
        recipient_ids=waiting,
        kind=APPROVAL_WITHDRAWN,
        request=request,
        occasion=RequestStatus.WITHDRAWN,
        title=gettext_lazy("%(actor)s 撤回了审批：%(title)s"),
        actor=user,
        link=_detail_link(request),
    )
    return request
