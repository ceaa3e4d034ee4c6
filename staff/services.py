"""Writes of staff, departments and roles. Views, admin, the API and commands call these."""

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from crm.validators import MOBILE_MESSAGE, normalize_cn_mobile
from staff.models import Department, Role, User


def user_authenticate(*, request, login, password):
    """Check a username-or-mobile and password; None when refused. ``request`` is the Django
    HttpRequest, which django-axes needs to count failures and lock out."""
    return authenticate(request, username=login, password=password)


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
