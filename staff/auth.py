"""Glue between django-axes (login lockout) and our two front doors, the web and the API."""

from django.conf import settings
from django.shortcuts import render
from django.utils.translation import gettext as _

from crm.api.errors import error_response
from crm.validators import normalize_cn_mobile


def client_ip(request):
    """The client's address as DRF's throttles see it: the connection's, or — behind
    TRUSTED_PROXY_COUNT proxies — the address the outermost trusted proxy received from."""
    remote = request.META.get("REMOTE_ADDR") or None  # None, not "": axes matches NULL rows
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    return addresses[-min(count, len(addresses))] if addresses else remote


def axes_username(request, credentials):
    """The name attempts are counted under: a mobile number counts as the account it belongs to,
    so switching between username and mobile does not buy extra attempts."""
    from staff.selectors import username_for_mobile

    login = (credentials or {}).get("username") or request.POST.get("username") or ""
    login = str(login).strip()
    mobile = normalize_cn_mobile(login)
    if mobile:
        return username_for_mobile(mobile) or mobile
    return login


def lockout_message():
    return _("登录失败次数过多，账号已被临时锁定，请稍后再试。")


def lockout_response(request, original_response=None, credentials=None):
    if request.path.startswith("/api/"):
        return error_response(status=429, code="locked_out", message=lockout_message())
    return render(request, "registration/locked_out.html", {"message": lockout_message()}, status=429)
