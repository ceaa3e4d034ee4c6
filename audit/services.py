"""Writes of the audit log. Every other app records through audit_record / audit_record_many,
inside its own transaction: an action rolled back leaves no event, and an event that fails to
write rolls the action back."""

from datetime import timedelta
from itertools import islice

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from audit.models import APPEND_ONLY_DAYS, AuditAction, AuditEvent
from staff.auth import client_ip

# Rows per INSERT in audit_record_many: 11 columns × 1,000 rows stays far below PostgreSQL's
# 65,535 bind parameters and keeps one statement's memory small on a 100,000-row import.
BULK_BATCH_SIZE = 1_000


def _actor_fields(actor):
    """The actor and their name as it reads now; anonymous users and None record no actor."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"actor": None, "actor_repr": ""}
    username = actor.get_username()
    name = str(actor)
    return {"actor": actor, "actor_repr": (name if name == username else f"{name} ({username})")[:200]}


def _target_fields(target):
    if target is None:
        return {"target_type": "", "target_id": "", "target_repr": ""}
    return {
        "target_type": target._meta.label_lower,
        "target_id": str(target.pk),
        "target_repr": str(target)[:200],
    }


def _request_fields(request):
    """Client address (as staff.auth.client_ip sees it, proxies included) and user agent, from a
    Django HttpRequest or a DRF Request (which passes ``META`` through)."""
    if request is None:
        return {"ip": None, "user_agent": ""}
    return {"ip": client_ip(request), "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300]}


def _check_action(action):
    if action not in AuditAction.values:
        raise ValueError(f"Unknown audit action: {action!r}")


def audit_record(*, actor, action, target=None, data=None, request=None) -> AuditEvent:
    """Record that ``actor`` (a user; None for the system) did ``action`` to ``target`` (a model
    instance or None). ``data`` is a JSON-serialisable dict of details — never passwords or full
    contact details; ``request`` supplies IP and user agent."""
    _check_action(action)
    return AuditEvent.objects.create(
        action=action,
        data=data or {},
        **_actor_fields(actor),
        **_target_fields(target),
        **_request_fields(request),
    )


@transaction.atomic
def audit_record_many(*, actor, action, targets, data=None, request=None) -> int:
    """One event per target (the same actor, action, data and time), inserted in batches; returns
    the number of events. ``targets`` may be any iterable of model instances."""
    _check_action(action)
    common = {
        "at": timezone.now(),
        "action": action,
        **_actor_fields(actor),
        **_request_fields(request),
    }
    data = data or {}
    count = 0
    targets = iter(targets)
    while batch := list(islice(targets, BULK_BATCH_SIZE)):
        events = [AuditEvent(data=data, **common, **_target_fields(target)) for target in batch]
        AuditEvent.objects.bulk_create(events, batch_size=BULK_BATCH_SIZE)
        count += len(events)
    return count


def audit_purge_expired(*, now=None) -> int:
    """Delete events older than AUDIT_RETENTION_DAYS (at least 180, SPEC §1); returns how many.
    Run daily by audit.tasks, once per day through crm.periodic.run_once_per_period."""
    # settings already refuse fewer than 180 days; the max() also covers an override in tests.
    days = max(settings.AUDIT_RETENTION_DAYS, APPEND_ONLY_DAYS)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    # No relation or signal hangs off AuditEvent, so this is a single DELETE … WHERE at < cutoff
    # on the ``at`` index; the trigger lets it through because every row is older than 180 days.
    deleted, _counts = AuditEvent.objects.filter(at__lt=cutoff).delete()
    return deleted


# --- Logins -------------------------------------------------------------------------------------
# Both front doors authenticate through django.contrib.auth.authenticate(): the web form (Django's
# AuthenticationForm) and the API token view (staff.services.user_authenticate). Where each event
# is recorded is explained in audit/receivers.py.

LOGIN_MAX_LENGTH = 150  # what the login form and serializer accept; longer input is cut, not stored


def _login_channel(request):
    if request is None:
        return ""
    return "api" if request.path.startswith("/api/") else "web"


def _account_for_login(login):
    """The account a login name (username or mobile, any spelling) belongs to, or None."""
    user_model = get_user_model()
    try:
        return user_model._default_manager.get_by_natural_key(login)
    except (user_model.DoesNotExist, user_model.MultipleObjectsReturned):
        return None


def audit_login(*, user, login, request) -> AuditEvent:
    """A successful login: the user is both actor and target; ``login`` is the name they typed."""
    login = str(login or user.get_username()).strip()[:LOGIN_MAX_LENGTH]
    return audit_record(
        actor=user,
        action=AuditAction.LOGIN,
        target=user,
        data={"login": login, "channel": _login_channel(request)},
        request=request,
    )


def audit_login_failed(*, login, request, locked_out=False) -> AuditEvent:
    """A refused login: no actor; the target is the account the name belongs to, if any (so an
    account's history shows attempts on it). ``login`` is the name tried — never the password.
    ``locked_out``: the client was refused as locked out (including the attempt that locked it)."""
    login = str(login or "").strip()[:LOGIN_MAX_LENGTH]
    account = _account_for_login(login) if login else None
    return audit_record(
        actor=None,
        action=AuditAction.LOGIN_FAILED,
        target=account,
        data={"login": login, "channel": _login_channel(request), "locked_out": bool(locked_out)},
        request=request,
    )
