"""Reads of the audit log."""

from audit.models import AuditEvent


def audit_event_list(*, action=None, actor=None, target_type=None, target_id=None, since=None, until=None):
    """Events newest first, each with its actor, filtered by any of: ``action``; ``actor`` (a user
    or a user id); ``target_type`` ("customers.customer") and ``target_id``; ``since`` (inclusive)
    and ``until`` (exclusive), aware datetimes. Every filter is served by one of the model's
    indexes: (action, at), (actor, at), (target_type, target_id) or at."""
    events = AuditEvent.objects.select_related("actor")
    if action is not None:
        events = events.filter(action=action)
    if actor is not None:
        events = events.filter(actor=actor)
    if target_type is not None:
        events = events.filter(target_type=target_type)
    if target_id is not None:
        events = events.filter(target_id=str(target_id))
    if since is not None:
        events = events.filter(at__gte=since)
    if until is not None:
        events = events.filter(at__lt=until)
    return events.order_by("-at", "-id")
