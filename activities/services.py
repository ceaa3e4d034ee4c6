"""Writes of follow-ups and tasks. API, pages, the demo loader and tasks all come here."""

import mimetypes
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import PurePath

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from activities.models import FollowUp, FollowUpAttachment, FollowUpType, Task, TaskPriority, TaskStatus
from analytics.services import profile_recompute_schedule
from crm.errors import DomainError
from customers import services as customer_services
from customers.selectors import customer_editable
from staff.scope import scope_filter

# A follow-up "now" from a phone whose clock runs a little fast is still now.
CLOCK_SKEW = timedelta(minutes=5)
CONTENT_MAX_LENGTH = 5000
TITLE_MAX_LENGTH = 200

# Extension → (content type, accepted leading bytes). The content must start like its extension
# says (a renamed executable is refused); text formats have no signature.
OLE = b"\xd0\xcf\x11\xe0"  # legacy Office
ZIP = b"PK\x03\x04"  # OOXML, zip
ATTACHMENT_TYPES = {
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    ".webp": ("image/webp", (b"RIFF",)),
    ".heic": ("image/heic", None),
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".doc": ("application/msword", (OLE,)),
    ".xls": ("application/vnd.ms-excel", (OLE,)),
    ".ppt": ("application/vnd.ms-powerpoint", (OLE,)),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (ZIP,)),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (ZIP,)),
    ".pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", (ZIP,)),
    ".zip": ("application/zip", (ZIP,)),
    ".txt": ("text/plain", None),
    ".csv": ("text/csv", None),
}


def _invalid(field, message):
    raise DomainError(_("提交的数据有误，请检查后重试。"), fields={field: [message]})


# --- attachments --------------------------------------------------------------------------------


def attachments_validate(files):
    """(file, name, size, content type) for each upload, or a refusal naming the file: at most
    FOLLOW_UP_ATTACHMENT_MAX_COUNT files, each at most FOLLOW_UP_ATTACHMENT_MAX_MB and of an
    accepted type whose first bytes match its extension."""
    files = [upload for upload in files or [] if upload]
    limit = settings.FOLLOW_UP_ATTACHMENT_MAX_COUNT
    if len(files) > limit:
        _invalid("attachments", _("最多上传 %(n)s 个附件。") % {"n": limit})
    max_bytes = settings.FOLLOW_UP_ATTACHMENT_MAX_MB * 1024 * 1024
    accepted = []
    for upload in files:
        name = PurePath(str(getattr(upload, "name", "") or "file")).name[:200]
        size = getattr(upload, "size", None) or 0
        if size > max_bytes:
            _invalid(
                "attachments",
                _("附件「%(name)s」超过 %(mb)s MB。") % {"name": name, "mb": settings.FOLLOW_UP_ATTACHMENT_MAX_MB},
            )
        if size == 0:
            _invalid("attachments", _("附件「%(name)s」是空文件。") % {"name": name})
        suffix = PurePath(name).suffix.lower()
        known = ATTACHMENT_TYPES.get(suffix)
        if known is None:
            _invalid("attachments", _("不支持的附件类型：「%(name)s」。") % {"name": name})
        content_type, signatures = known
        if signatures:
            upload.seek(0)
            head = upload.read(16)
            upload.seek(0)
            if not any(head.startswith(signature) for signature in signatures):
                _invalid("attachments", _("附件「%(name)s」的内容与扩展名不符。") % {"name": name})
        accepted.append((upload, name, size, content_type or mimetypes.guess_type(name)[0] or ""))
    return accepted


# --- follow-ups ---------------------------------------------------------------------------------


def _coordinate(value, field, bound):
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value)).quantize(Decimal("0.000001"))
    except (InvalidOperation, ValueError):
        _invalid(field, _("坐标格式不正确。"))
    if not -bound <= number <= bound:
        _invalid(field, _("坐标超出范围。"))
    return number


def _check_in(type_, latitude, longitude):
    """(latitude, longitude) to store: both or neither, visits only; nothing when check-in is
    switched off (FOLLOW_UP_CHECKIN_ENABLED) — phones may send them anyway."""
    if not settings.FOLLOW_UP_CHECKIN_ENABLED:
        return None, None
    latitude = _coordinate(latitude, "latitude", 90)
    longitude = _coordinate(longitude, "longitude", 180)
    if (latitude is None) != (longitude is None):
        _invalid("latitude" if latitude is None else "longitude", _("签到需要同时提供纬度和经度。"))
    if latitude is not None and type_ != FollowUpType.VISIT:
        _invalid("latitude", _("只有拜访可以签到定位。"))
    return latitude, longitude


@transaction.atomic
def follow_up_create(
    *,
    user,
    customer,
    type=FollowUpType.CALL,  # noqa: A002 - the API's field name
    content="",
    occurred_at=None,
    next_follow_up_at=None,
    contact=None,
    latitude=None,
    longitude=None,
    files=(),
    create_task=False,
):
    """Log a follow-up on a customer the user may edit (``customer`` fetched through the user's
    scope). In the same transaction the customer's last follow-up time and content and its next
    follow-up time move (customers.services.customer_followed_up); ``create_task`` also puts the
    next follow-up on the user's 待办."""
    if not customer_editable(user=user, customer=customer):
        raise DomainError(_("您对该客户只有查看权限。"), code="read_only", status=403)
    now = timezone.now()
    if type not in FollowUpType.values:
        _invalid("type", _("跟进方式不正确。"))
    content = (content or "").strip()
    if len(content) > CONTENT_MAX_LENGTH:
        _invalid("content", _("跟进内容最多 %(n)s 字。") % {"n": CONTENT_MAX_LENGTH})
    occurred_at = occurred_at or now
    if occurred_at > now + CLOCK_SKEW:
        _invalid("occurred_at", _("跟进时间不能晚于现在。"))
    if next_follow_up_at is not None and next_follow_up_at <= now:
        _invalid("next_follow_up_at", _("下次跟进时间必须晚于现在。"))
    if create_task and next_follow_up_at is None:
        _invalid("next_follow_up_at", _("加入待办需要填写下次跟进时间。"))
    if contact is not None and contact.customer_id != customer.pk:
        _invalid("contact", _("联系人不属于该客户。"))
    latitude, longitude = _check_in(type, latitude, longitude)
    uploads = attachments_validate(files)

    follow_up = FollowUp.objects.create(
        customer=customer,
        contact=contact,
        type=type,
        content=content,
        occurred_at=occurred_at,
        next_follow_up_at=next_follow_up_at,
        latitude=latitude,
        longitude=longitude,
        created_by=user,
    )
    written = []
    try:
        for upload, name, size, content_type in uploads:
            attachment = FollowUpAttachment(follow_up=follow_up, name=name, size=size, content_type=content_type)
            attachment.file.save(name, upload, save=False)
            written.append(attachment.file)
            attachment.save()
        customer_services.customer_followed_up(
            customer_id=customer.pk, occurred_at=occurred_at, content=content, next_follow_up_at=next_follow_up_at
        )
        # The customer's profile (last contact, channels, churn risk) follows, debounced, after commit.
        profile_recompute_schedule(customer_ids=[customer.pk])
        if create_task:
            task_create(
                user=user,
                title=(_("跟进：%(name)s") % {"name": customer.name})[:TITLE_MAX_LENGTH],
                due_at=next_follow_up_at,
                customer=customer,
                description=content,
            )
    except BaseException:
        for field_file in written:  # the rows roll back; the files must not stay behind
            field_file.storage.delete(field_file.name)
        raise
    return follow_up


def follow_up_purge_check_ins(*, now=None):
    """Clear check-in coordinates older than FOLLOW_UP_CHECKIN_RETENTION_DAYS (personal data kept
    briefly, SPEC §3, §10c); one UPDATE over the partial index. Run nightly."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.FOLLOW_UP_CHECKIN_RETENTION_DAYS)
    cleared = FollowUp.objects.filter(latitude__isnull=False, occurred_at__lt=cutoff).update(
        latitude=None, longitude=None
    )
    return {"cleared": cleared}


# --- tasks --------------------------------------------------------------------------------------

TASK_ASSIGNED = "task_assigned"


def _task_values(*, title, due_at, remind_at, priority, assignee):
    title = (title or "").strip()
    if not title:
        _invalid("title", _("请填写标题。"))
    if len(title) > TITLE_MAX_LENGTH:
        _invalid("title", _("标题最多 %(n)s 字。") % {"n": TITLE_MAX_LENGTH})
    if due_at is None:
        _invalid("due_at", _("请填写截止时间。"))
    if remind_at is not None and remind_at > due_at:
        _invalid("remind_at", _("提醒时间不能晚于截止时间。"))
    if priority not in TaskPriority.values:
        _invalid("priority", _("优先级不正确。"))
    if assignee is None or not assignee.is_active:
        _invalid("assignee", _("执行人不存在或已停用。"))
    return title


def _notify_assignee(*, user, task):
    if task.assignee_id == user.pk:
        return
    from notifications.services import notification_send

    notification_send(
        recipient_ids=[task.assignee_id],
        kind=TASK_ASSIGNED,
        target_id=task.pk,
        # Each assignment is its own occasion: a task handed back to an earlier assignee tells them again.
        occasion=f"{task.assignee_id}@{task.updated_at.isoformat()}",
        title=gettext_lazy("%(name)s 给你分配了待办：%(title)s"),
        params={"name": str(user), "title": task.title},
        link="/tasks/",
    )


@transaction.atomic
def task_create(
    *,
    user,
    title,
    due_at,
    assignee=None,
    remind_at=None,
    customer=None,
    priority=TaskPriority.NORMAL,
    description="",
):
    """A new open task (``customer`` fetched through the user's scope; assignee: any active
    colleague, by default the creator, who is notified when it is someone else)."""
    assignee = assignee or user
    title = _task_values(title=title, due_at=due_at, remind_at=remind_at, priority=priority, assignee=assignee)
    task = Task.objects.create(
        title=title,
        description=(description or "")[:CONTENT_MAX_LENGTH],
        due_at=due_at,
        remind_at=remind_at,
        assignee=assignee,
        customer=customer,
        priority=priority,
        created_by=user,
    )
    _notify_assignee(user=user, task=task)
    return task


def _locked_editable(user, task):
    from activities.selectors import task_editable

    if not task_editable(user=user, task=task):
        raise DomainError(_("只有执行人、创建人或其上级可以修改待办。"), code="forbidden", status=403)
    return Task.objects.select_for_update().get(pk=task.pk)


TASK_EDITABLE_FIELDS = ("title", "description", "due_at", "remind_at", "priority", "assignee", "customer")


@transaction.atomic
def task_update(*, user, task, data):
    """Change a task's fields (``customer`` already checked against the user's scope)."""
    locked = _locked_editable(user, task)
    values = {name: data.get(name, getattr(locked, name)) for name in TASK_EDITABLE_FIELDS}
    values["title"] = _task_values(
        title=values["title"],
        due_at=values["due_at"],
        remind_at=values["remind_at"],
        priority=values["priority"],
        assignee=values["assignee"],
    )
    previous_assignee = locked.assignee_id
    for name, value in values.items():
        setattr(locked, name, value)
    locked.save(update_fields=[*TASK_EDITABLE_FIELDS, "updated_at"])
    if locked.assignee_id != previous_assignee:
        _notify_assignee(user=user, task=locked)
    return locked


def _set_status(user, task, status, *, allowed_from):
    locked = _locked_editable(user, task)
    if locked.status not in allowed_from:
        raise DomainError(_("待办当前状态不能执行该操作。"), code="invalid_status", status=409)
    locked.status = status
    locked.completed_at = timezone.now() if status == TaskStatus.DONE else None
    locked.save(update_fields=["status", "completed_at", "updated_at"])
    return locked


@transaction.atomic
def task_complete(*, user, task):
    return _set_status(user, task, TaskStatus.DONE, allowed_from={TaskStatus.OPEN})


@transaction.atomic
def task_cancel(*, user, task):
    return _set_status(user, task, TaskStatus.CANCELLED, allowed_from={TaskStatus.OPEN})


@transaction.atomic
def task_reopen(*, user, task):
    return _set_status(user, task, TaskStatus.OPEN, allowed_from={TaskStatus.DONE, TaskStatus.CANCELLED})


# --- followers of customer transfers and merges -------------------------------------------------


def tasks_follow_transfer(*, user, customer_ids, to_owner, options):
    """TRANSFER_FOLLOWERS entry: with ``options["tasks"]`` the open tasks of the transferred
    customers go to the new owner — those the transferrer may change (``task_editable``'s rule:
    their own, or assigned to someone in their data scope); a colleague's task elsewhere stays
    theirs. Returns how many moved."""
    if not options.get("tasks"):
        return 0
    changeable = Q(assignee_id=user.pk) | Q(created_by_id=user.pk)
    managed = scope_filter(user, owner_field="assignee", department_field="assignee__department")
    if managed:  # Q(): the "all" scope
        changeable |= managed
    else:
        changeable = Q()
    return (
        Task.objects.filter(changeable, customer_id__in=customer_ids, status=TaskStatus.OPEN)
        .exclude(assignee=to_owner)
        .update(assignee=to_owner, updated_at=timezone.now())
    )


def activities_merge(*, user, survivor, other):
    """MERGE_MOVERS entry: the other customer's follow-ups and tasks move to the survivor, whose
    last follow-up then reflects the newest of both. Returns how many rows moved."""
    now = timezone.now()
    moved = FollowUp.objects.filter(customer=other).update(customer=survivor, updated_at=now)
    moved += Task.objects.filter(customer=other).update(customer=survivor, updated_at=now)
    profile_recompute_schedule(customer_ids=[survivor.pk])
    latest = FollowUp.objects.filter(customer=survivor).order_by("-occurred_at", "-id").first()
    if latest is not None:
        customer_services.customer_followed_up(
            customer_id=survivor.pk, occurred_at=latest.occurred_at, content=latest.content
        )
    return moved
