"""Reads of notifications: a person's own inbox, nothing else."""

from django.http import Http404

from notifications.models import Notification


def notification_list(*, user, unread=None):
    queryset = Notification.objects.for_recipient(user)
    if unread is True:
        queryset = queryset.unread()
    elif unread is False:
        queryset = queryset.filter(read_at__isnull=False)
    return queryset


def notification_get_for_user(*, user, pk):
    try:
        return Notification.objects.for_recipient(user).get(pk=pk)
    except (Notification.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def unread_count(*, user):
    """The badge's number (an index-only count of the user's unread rows)."""
    return Notification.objects.for_recipient(user).unread().count()
