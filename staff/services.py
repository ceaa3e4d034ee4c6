"""Writes of staff, departments and roles. Views, admin, the API and commands call these."""

from datetime import timedelta

from axes.models import AccessAttempt, AccessLog
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from audit.services import audit_login
from crm.errors import DomainError
from crm.validators import MOBILE_MESSAGE, normalize_cn_mobile
from staff.models import Department, Role, User


def user_authenticate(*, request, login, password):
    """The API's token login: check a username-or-mobile and password; None when refused.
    ``request`` is the Django HttpRequest, which django-axes needs to count failures and lock out.
    Both outcomes are audit-logged: a refusal by audit's ``user_login_failed`` receiver (as every
    refusal of authenticate() is), a success here — a token login sends no ``user_logged_in``, the
    signal session logins are audited by (see audit/receivers.py)."""
    user = authenticate(request, username=login, password=password)
    if user is not None:
        audit_login(user=user, login=login, request=request)
    return user


def _invalid_token():
    return DomainError(_("登录已失效，请重新登录。"), code="token_not_valid", status=401)


def token_pair_issue(*, user):
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


@transaction.atomic
def token_refresh(*, refresh):
    """Rotate a refresh token: it must be valid and not yet used, and its user must still exist,
    be active and have the password the token was issued under."""
    try:
        token = RefreshToken(refresh)
    except TokenError:
        raise _invalid_token() from None
    user = User.objects.filter(pk=token.get(jwt_settings.USER_ID_CLAIM), is_active=True).first()
    if user is None or token.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        raise _invalid_token()
    serializer = TokenRefreshSerializer(data={"refresh": refresh})
    try:
        serializer.is_valid(raise_exception=True)
    except TokenError:
        raise _invalid_token() from None
    return serializer.validated_data


@transaction.atomic
def user_create(
    *,
    username,
    password,
    display_name="",
    mobile=None,
    email="",
    department=None,
    manager=None,
    roles=(),
    is_staff=False,
    is_superuser=False,
    validate=True,
):
    normalized = normalize_cn_mobile(mobile) if mobile else None
    if mobile and not normalized:
        raise ValidationError({"mobile": MOBILE_MESSAGE})
    user = User(
        username=username,
        display_name=display_name,
        mobile=normalized,
        email=email,
        department=department,
        manager=manager,
        is_staff=is_staff,
        is_superuser=is_superuser,
    )
    if validate:
        validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    if roles:
        user.roles.set(roles)
    return user


@transaction.atomic
def department_create(*, name, parent=None, leader=None, order=0):
    department = Department(name=name, parent=parent, leader=leader, order=order)
    department.full_clean()
    department.save()
    return department


@transaction.atomic
def role_create(*, name, data_scope, permissions=(), description=""):
    role = Role(name=name, data_scope=data_scope, description=description)
    role.full_clean()
    role.save()
    if permissions:
        role.permissions.set(permissions)
    return role


def sessions_clear_expired():
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return {"deleted": deleted}


def login_attempts_purge(*, older_than_days):
    """Drop login attempts and access logs older than the retention window (SPEC: ≥ 6 months)."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    attempts, _ = AccessAttempt.objects.filter(attempt_time__lt=cutoff).delete()
    logs, _ = AccessLog.objects.filter(attempt_time__lt=cutoff).delete()
    return {"attempts": attempts, "logs": logs}
