"""The inbox page (站内信): the signed-in user's own notifications only."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from notifications import selectors, services

PAGE_SIZE = 50


@login_required
def inbox(request):
    unread_only = request.GET.get("unread") == "1"
    rows = list(selectors.notification_list(user=request.user, unread=True if unread_only else None)[:PAGE_SIZE])
    context = {"active_nav": "notifications", "notifications": rows, "unread_only": unread_only}
    return render(request, "notifications/inbox.html", context)


@login_required
@require_POST
def notification_open(request, pk):
    """Mark read and go to what the notification is about."""
    notification = selectors.notification_get_for_user(user=request.user, pk=pk)
    services.notification_mark_read(user=request.user, notification=notification)
    link = notification.link
    if link and url_has_allowed_host_and_scheme(link, allowed_hosts={request.get_host()}):
        return redirect(link)
    return redirect("notifications:inbox")


@login_required
@require_POST
def read_all(request):
    services.notifications_mark_all_read(user=request.user)
    return redirect("notifications:inbox")
