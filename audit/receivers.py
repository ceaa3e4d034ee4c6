"""Login auditing through Django's own authentication signals, connected in AuditConfig.ready().

Why signals here (STYLE keeps side effects out of signals): these are Django's own auth events,
and they are the one place that sees every attempt, whatever the door:

- ``user_login_failed`` is sent by django.contrib.auth.authenticate() for every refusal — the web
  form, the API token view (staff.services.user_authenticate), the admin login — including the
  refusal of a locked-out client, which django-axes raises from inside authenticate() and no
  caller could tell apart otherwise.
- ``user_logged_in`` is sent by django.contrib.auth.login(), i.e. every session login (web, admin).

The API's token login opens no session, so it sends no ``user_logged_in`` (sending it would also
make axes create a session row per token); staff.services.user_authenticate records that success.

Order matters for ``locked_out``: axes's receiver flags ``request.axes_locked_out`` and runs first,
because "axes" comes before "audit" in INSTALLED_APPS (tests cover it).
"""

from audit import services


def record_login(sender, request, user, **kwargs):
    login = request.POST.get("username") if request is not None and request.method == "POST" else None
    services.audit_login(user=user, login=login, request=request)


def record_login_failed(sender, credentials, request=None, **kwargs):
    # ``credentials`` arrive cleansed by Django (the password is already starred out); only the
    # name is kept.
    services.audit_login_failed(
        login=(credentials or {}).get("username"),
        request=request,
        locked_out=getattr(request, "axes_locked_out", False),
    )
