from datetime import timedelta

from django.utils import timezone

from audit.models import AuditAction, AuditEvent


def old_event(*, days, action=AuditAction.EXPORT, **fields):
    """An event written ``days`` ago (inserting a past ``at`` is allowed; changing one is not)."""
    return AuditEvent.objects.create(at=timezone.now() - timedelta(days=days), action=action, **fields)
