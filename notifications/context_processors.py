from django.utils.functional import SimpleLazyObject


def inbox(request):
    """``unread_notifications`` for the navbar badge: counted only when a template reads it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from notifications.selectors import unread_count

    return {"unread_notifications": SimpleLazyObject(lambda: unread_count(user=user))}
