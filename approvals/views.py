"""Pages: 我的审批 (pending and done tabs; approve / reject with a comment in place, via htmx), one
approval's page (what is approved, its history, the buttons the viewer may use), the navbar badge,
and the approval panel of the contract page with its actions.

Reads come from approvals.selectors, writes go through approvals.services and
contracts.services.approval. A rule found here is a bug."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from approvals import registry, selectors, services
from approvals.models import Decision, DocType, RequestStatus
from contracts.models import EDITABLE_STATUSES, Contract
from contracts.services import approval as contract_approval
from crm.errors import DomainError
from staff.scope import get_for_user

PAGE_SIZE = 30


def _is_htmx(request):
    return request.headers.get("HX-Request") == "true"


def _error_text(error):
    texts = [str(error.message)]
    for value in error.fields.values():
        texts.extend(str(message) for message in (value if isinstance(value, list) else [value]))
    return " ".join(dict.fromkeys(texts))


def _next(request, default):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


# --- 我的审批 -----------------------------------------------------------------------------------


@login_required
@require_GET
def inbox(request):
    done = request.GET.get("tab") == "done"
    try:
        page = max(1, min(int(request.GET.get("page", 1)), 10_000))
    except ValueError:
        page = 1
    start = (page - 1) * PAGE_SIZE
    rows = list(selectors.approval_inbox(user=request.user, done=done)[start : start + PAGE_SIZE + 1])
    return render(
        request,
        "approvals/inbox.html",
        {
            "active_nav": "approvals",
            "tasks": rows[:PAGE_SIZE],
            "done": done,
            "page": page,
            "has_next": len(rows) > PAGE_SIZE,
        },
    )


@login_required
@require_GET
def badge(request):
    """The navbar's pending count, loaded by htmx after the page (no query on every page render)."""
    count = selectors.approval_pending_count(user=request.user)
    if not count:
        return HttpResponse("")
    label = _("%(n)s 条待审批") % {"n": count}
    return HttpResponse(
        f'<span class="badge rounded-pill text-bg-warning" id="approval-badge" aria-label="{label}">{count}</span>'
    )


def _describe(approval):
    document_type = registry.DOCUMENT_TYPES.get(approval.doc_type)
    document = document_type.load(approval.object_id) if document_type else None
    if document is None or document_type.describe is None:
        return None
    return document_type.describe(document)


@login_required
@require_GET
def detail(request, pk):
    approval = selectors.approval_request_get_for_user(user=request.user, pk=pk)
    return render(
        request,
        "approvals/detail.html",
        {
            "active_nav": "approvals",
            "approval": approval,
            "document": _describe(approval),
            "tasks": list(selectors.request_tasks(request=approval)),
            "history": list(selectors.request_history(request=approval)),
            "waiting": selectors.pending_approver_ids(approval),
            "can_decide": selectors.is_current_approver(user=request.user, request=approval),
            "can_withdraw": services.can_withdraw(user=request.user, request=approval),
        },
    )


def _decided_row(request, task_pk, *, error=None):
    task = selectors.approval_inbox(user=request.user, done=True).filter(pk=task_pk).first()
    if task is None:  # no longer mine to show (cancelled meanwhile): the pending row, or nothing
        task = selectors.approval_inbox(user=request.user).filter(pk=task_pk).first()
    if task is None:
        return HttpResponse("")
    return render(request, "approvals/partials/_inbox_row.html", {"task": task, "error": error, "done": True})


def _decide(request, pk, *, reject):
    approval = selectors.approval_request_get_for_user(user=request.user, pk=pk)
    task_pk = request.POST.get("task", "")
    comment = request.POST.get("comment", "")
    try:
        if reject:
            services.approval_reject(user=request.user, request=approval, comment=comment)
        else:
            services.approval_approve(user=request.user, request=approval, comment=comment)
    except DomainError as error:
        if _is_htmx(request) and task_pk.isdigit():
            task = selectors.approval_inbox(user=request.user).filter(pk=task_pk).first()
            if task is not None:
                context = {"task": task, "error": _error_text(error), "comment": comment}
                return render(request, "approvals/partials/_inbox_row.html", context)
        messages.error(request, _error_text(error))
    else:
        if _is_htmx(request) and task_pk.isdigit():
            return _decided_row(request, task_pk)
        messages.success(request, _("已拒绝。") if reject else _("已同意。"))
    return redirect(_next(request, reverse("approvals:detail", args=[pk])))


@login_required
@require_POST
def approve(request, pk):
    return _decide(request, pk, reject=False)


@login_required
@require_POST
def reject(request, pk):
    return _decide(request, pk, reject=True)


@login_required
@require_POST
def withdraw(request, pk):
    approval = selectors.approval_request_get_for_user(user=request.user, pk=pk)
    try:
        services.approval_withdraw(user=request.user, request=approval, comment=request.POST.get("comment", ""))
    except DomainError as error:
        if error.status == 403:
            raise PermissionDenied(error.message) from error
        messages.error(request, _error_text(error))
    else:
        messages.success(request, _("已撤回。"))
    return redirect(_next(request, reverse("approvals:detail", args=[pk])))


# --- the contract page's approval panel and its actions ------------------------------------------


def contract_approval_panel(request, contract):
    """The approval panel of the contract page (registered in contracts.views.contracts
    CONTRACT_PANELS): every approval of the contract with its history, and the buttons the viewer
    may use — submit (who may edit it), withdraw (submitter / owner), approve and reject (an
    approver of the current step). The page fetched ``contract`` through the viewer's scope.
    None when there is nothing to show or do."""
    user = request.user
    approvals = list(selectors.document_history(doc_type=DocType.CONTRACT, object_id=contract.pk))
    latest = approvals[0] if approvals else None
    pending = latest is not None and latest.status == RequestStatus.PENDING
    can_decide = pending and any(
        task.approver_id == user.pk and task.step == latest.current_step and task.decision == Decision.PENDING
        for task in latest.tasks.all()
    )
    can_submit = contract.status in EDITABLE_STATUSES and user.has_perm("contracts.change_contract")
    if not approvals and not can_submit:
        return None
    waiting = []
    if pending:
        waiting = [task.approver for task in latest.tasks.all()
                   if task.step == latest.current_step and task.decision == Decision.PENDING]  # fmt: skip
    return {
        "template": "approvals/partials/_contract_panel.html",
        "contract": contract,
        "approvals": approvals,
        "latest": latest,
        "pending": pending,
        "waiting": waiting,
        "can_submit": can_submit,
        "can_withdraw": pending and services.can_withdraw(user=user, request=latest),
        "can_decide": can_decide,
        "next": request.get_full_path(),
    }


def _contract_action(request, pk, act, done_message, *, default=None):
    back = _next(request, default or contract_approval.contract_link(pk))
    try:
        act()
    except DomainError as error:
        if error.status == 403:
            raise PermissionDenied(error.message) from error
        messages.error(request, _error_text(error))
    else:
        messages.success(request, done_message)
    return redirect(back)


@login_required
@require_POST
def contract_submit(request, pk):
    contract = get_for_user(Contract.objects, user=request.user, pk=pk)
    if not request.user.has_perm("contracts.change_contract"):
        raise PermissionDenied
    return _contract_action(
        request,
        pk,
        lambda: contract_approval.contract_submit(
            user=request.user,
            contract=contract,
            version=request.POST.get("version") or None,
            comment=request.POST.get("comment", ""),
        ),
        _("已提交审批。"),
    )


@login_required
@require_POST
def contract_withdraw(request, pk):
    contract = get_for_user(Contract.objects, user=request.user, pk=pk)
    return _contract_action(
        request,
        pk,
        lambda: contract_approval.contract_withdraw(
            user=request.user, contract=contract, comment=request.POST.get("comment", "")
        ),
        _("已撤回。"),
    )


def _contract_for_approver(request, pk):
    contract = Contract.objects.filter(pk=pk).first()
    if contract is None:
        raise Http404
    selectors.open_request_for_approver(user=request.user, doc_type=DocType.CONTRACT, object_id=pk)
    return contract


@login_required
@require_POST
def contract_approve(request, pk):
    contract = _contract_for_approver(request, pk)
    return _contract_action(
        request,
        pk,
        lambda: contract_approval.contract_approve(
            user=request.user, contract=contract, comment=request.POST.get("comment", "")
        ),
        _("已同意。"),
        default=reverse("approvals:inbox"),
    )


@login_required
@require_POST
def contract_reject(request, pk):
    contract = _contract_for_approver(request, pk)
    return _contract_action(
        request,
        pk,
        lambda: contract_approval.contract_reject(
            user=request.user, contract=contract, comment=request.POST.get("comment", "")
        ),
        _("已拒绝。"),
        default=reverse("approvals:inbox"),
    )
