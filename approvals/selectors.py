"""Reads of approvals: which chain applies to a document, who approves a step, the inbox (我的审批)
and the history of a request or a document."""

from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import Http404

from approvals.models import (
    ApprovalChain,
    ApprovalLog,
    ApprovalRequest,
    ApprovalTask,
    Decision,
    RequestStatus,
    StepKind,
    StepMode,
)
from staff.models import Department, User

# How far up a chain of managers the routing walks before giving up (bad data may hold a cycle).
MAX_MANAGER_LEVELS = 20


def department_ancestor_ids(department):
    """The department's ids from the root down to itself ([] for None), read from its path."""
    if department is None:
        return []
    ids = [int(part) for part in (department.path or "").strip("/").split("/") if part.isdigit()]
    return ids or [department.pk]


# --- which chain ------------------------------------------------------------------------------


def approval_chain_for(*, doc_type, department, amount):
    """The active chain of ``doc_type`` for a document of ``department`` and ``amount``, or None.

    Among the chains whose amount range holds ``amount`` (``min_amount`` exclusive,
    ``max_amount`` inclusive) and whose departments include the document's department or one
    above it (no departments: every department), the most specific wins — the chain naming the
    deepest such department, a chain for every department last — then the lowest ``priority``,
    then the oldest. Chains are few (a handful per type): they are matched in Python."""
    ancestors = department_ancestor_ids(department)
    depth_of = {pk: index for index, pk in enumerate(ancestors)}
    chains = (
        ApprovalChain.objects.filter(doc_type=doc_type, active=True)
        .prefetch_related("departments", "steps__users")
        .order_by("priority", "id")
    )
    best, best_key = None, None
    for chain in chains:
        if not chain.matches_amount(amount):
            continue
        department_ids = [department.pk for department in chain.departments.all()]
        if department_ids:
            depths = [depth_of[pk] for pk in department_ids if pk in depth_of]
            if not depths:
                continue
            specificity = max(depths)
        else:
            specificity = -1
        key = (-specificity, chain.priority, chain.pk)
        if best_key is None or key < best_key:
            best, best_key = chain, key
    return best


def chain_steps_snapshot(chain):
    """The chain's steps as the request keeps them (see ApprovalRequest.steps)."""
    if chain is None:
        return []
    return [
        {
            "name": step.name or str(step.get_kind_display()),
            "kind": step.kind,
            "levels": step.levels,
            "mode": step.mode,
            "user_ids": sorted(user.pk for user in step.users.all()),
            "role_id": step.role_id,
            "within_department": step.within_department,
            "permission_id": step.permission_id,
        }
        for step in chain.steps.all()
    ]


# --- who approves -----------------------------------------------------------------------------


def _active(queryset):
    return queryset.filter(is_active=True)


def _leader(*, request, excluded):
    """The leader of the document's department, else of the nearest department above it with
    one — skipping a leader who is the owner or submitter (their own document goes up a level)."""
    ancestors = department_ancestor_ids(request.department)
    if not ancestors:
        return []
    leaders = dict(
        Department.objects.filter(pk__in=ancestors, leader__isnull=False, leader__is_active=True).values_list(
            "pk", "leader_id"
        )
    )
    for department_id in reversed(ancestors):
        leader_id = leaders.get(department_id)
        if leader_id is not None and leader_id not in excluded:
            return [leader_id]
    return []


def _manager(*, request, levels, excluded):
    """The owner's manager ``levels`` levels up (the submitter's when the document has no owner);
    the highest manager there is when the chain is shorter; one further up when that one is
    inactive or the owner/submitter themselves."""
    start_id = request.owner_id or request.submitted_by_id
    if start_id is None:
        return []
    chain, seen, current = [], {start_id}, start_id
    while len(chain) < MAX_MANAGER_LEVELS:
        row = User.objects.filter(pk=current).values("manager_id", "manager__is_active").first()
        if not row or row["manager_id"] is None or row["manager_id"] in seen:
            break
        current = row["manager_id"]
        seen.add(current)
        chain.append((current, row["manager__is_active"]))
        if len(chain) >= levels and row["manager__is_active"] and current not in excluded:
            break
    for manager_id, is_active in chain[min(levels, len(chain)) - 1 :] if chain else []:
        if is_active and manager_id not in excluded:
            return [manager_id]
    return []


def _role_holders(*, request, role_id, within_department, excluded):
    holders = _active(User.objects.filter(roles__id=role_id)).exclude(pk__in=excluded).distinct()
    if not within_department:
        return sorted(holders.values_list("pk", flat=True))
    ancestors = department_ancestor_ids(request.department)
    by_department = {}
    for pk, department_id in holders.filter(department_id__in=ancestors).values_list("pk", "department_id"):
        by_department.setdefault(department_id, []).append(pk)
    for department_id in reversed(ancestors):
        if department_id in by_department:
            return sorted(by_department[department_id])
    return []


def permission_holders(permission_id):
    """Active users given the permission directly or through one of their roles (superusers only
    when they are given it explicitly: "no approver" falls back to them anyway)."""
    return _active(
        User.objects.filter(Q(user_permissions__id=permission_id) | Q(roles__permissions__id=permission_id))
    ).distinct()


def step_approvers(*, request, step):
    """The ids of the approvers of ``step`` (a snapshot dict) for ``request``; [] when nobody
    qualifies. The document's owner and its submitter never approve it."""
    excluded = {pk for pk in (request.owner_id, request.submitted_by_id) if pk is not None}
    kind = step.get("kind")
    if kind == StepKind.LEADER:
        return _leader(request=request, excluded=excluded)
    if kind == StepKind.MANAGER:
        return _manager(request=request, levels=max(1, int(step.get("levels") or 1)), excluded=excluded)
    if kind == StepKind.USERS:
        users = _active(User.objects.filter(pk__in=step.get("user_ids") or [])).exclude(pk__in=excluded)
        return sorted(users.values_list("pk", flat=True))
    if kind == StepKind.ROLE and step.get("role_id"):
        return _role_holders(
            request=request,
            role_id=step["role_id"],
            within_department=step.get("within_department", False),
            excluded=excluded,
        )
    if kind == StepKind.PERMISSION and step.get("permission_id"):
        return sorted(permission_holders(step["permission_id"]).exclude(pk__in=excluded).values_list("pk", flat=True))
    return []


def fallback_approvers(*, request):
    """No approver found → the active superusers (admins), the owner and submitter left out
    unless they are the only admins there are."""
    admins = _active(User.objects.filter(is_superuser=True))
    excluded = {pk for pk in (request.owner_id, request.submitted_by_id) if pk is not None}
    others = sorted(admins.exclude(pk__in=excluded).values_list("pk", flat=True))
    return others or sorted(admins.values_list("pk", flat=True))


def step_mode(step):
    return StepMode.ALL if step.get("mode") == StepMode.ALL else StepMode.ANY


# --- the inbox --------------------------------------------------------------------------------


def approval_inbox(*, user, done=False):
    """The user's approval tasks: pending ones (newest first), or with ``done`` the ones they
    decided (approved or rejected, latest decision first) — request and submitter joined."""
    tasks = ApprovalTask.objects.filter(approver_id=user.pk).select_related("request__submitted_by", "request__owner")
    if done:
        return tasks.filter(decision__in=[Decision.APPROVED, Decision.REJECTED]).order_by("-decided_at", "-id")
    return tasks.filter(decision=Decision.PENDING).order_by("-created_at", "-id")


def approval_pending_count(*, user):
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return 0
    return ApprovalTask.objects.filter(approver_id=user.pk, decision=Decision.PENDING).count()


# --- requests ---------------------------------------------------------------------------------


def approval_requests_visible_to(user):
    """Requests the user takes part in: as an approver (any task), the submitter or the owner;
    superusers see all. Whoever sees the document sees its history through the document's page
    (``document_history``), under the document's own scope."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ApprovalRequest.objects.none()
    if user.is_superuser:
        return ApprovalRequest.objects.all()
    mine = ApprovalTask.objects.filter(request_id=OuterRef("pk"), approver_id=user.pk)
    return ApprovalRequest.objects.filter(Q(submitted_by_id=user.pk) | Q(owner_id=user.pk) | Exists(mine))


def approval_request_get_for_user(*, user, pk):
    """One request the user takes part in, with submitter and owner; 404 for missing and others'."""
    try:
        return approval_requests_visible_to(user).select_related("submitted_by", "owner", "department").get(pk=pk)
    except (ApprovalRequest.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def open_request_for_approver(*, user, doc_type, object_id):
    """The document's pending request where ``user`` is an approver of the current step, or 404
    — the same for a missing document, one not under approval, and one that is not theirs to
    approve. Deliberately not through the document's data scope: the approver may be outside it."""
    current = ApprovalTask.objects.filter(request_id=OuterRef("pk"), approver_id=user.pk, decision=Decision.PENDING)
    request = (
        ApprovalRequest.objects.filter(doc_type=doc_type, object_id=object_id, status=RequestStatus.PENDING)
        .filter(Exists(current))
        .first()
    )
    if request is None or not user.is_active:
        raise Http404
    return request


def open_request(*, doc_type, object_id):
    """The document's pending request, or None (callers have checked the document's scope)."""
    return ApprovalRequest.objects.filter(doc_type=doc_type, object_id=object_id, status=RequestStatus.PENDING).first()


def latest_request(*, doc_type, object_id):
    return (
        ApprovalRequest.objects.filter(doc_type=doc_type, object_id=object_id).order_by("-submitted_at", "-id").first()
    )


def pending_approver_ids(request):
    return list(
        ApprovalTask.objects.filter(request=request, step=request.current_step, decision=Decision.PENDING)
        .order_by("id")
        .values_list("approver_id", flat=True)
    )


def is_current_approver(*, user, request):
    return (
        request.status == RequestStatus.PENDING
        and user.is_active
        and ApprovalTask.objects.filter(
            request=request, step=request.current_step, approver_id=user.pk, decision=Decision.PENDING
        ).exists()
    )


def request_history(*, request):
    """The request's log, oldest first, actors joined."""
    return ApprovalLog.objects.filter(request=request).select_related("actor").order_by("created_at", "id")


def request_tasks(*, request):
    return ApprovalTask.objects.filter(request=request).select_related("approver").order_by("step", "id")


def document_history(*, doc_type, object_id):
    """Every request of one document (resubmissions included), newest first, each with its log
    and tasks prefetched — the full approval history shown on the document (3 queries)."""
    return (
        ApprovalRequest.objects.filter(doc_type=doc_type, object_id=object_id)
        .select_related("submitted_by")
        .prefetch_related(
            Prefetch("logs", queryset=ApprovalLog.objects.select_related("actor").order_by("created_at", "id")),
            Prefetch("tasks", queryset=ApprovalTask.objects.select_related("approver").order_by("step", "id")),
        )
        .order_by("-submitted_at", "-id")
    )
