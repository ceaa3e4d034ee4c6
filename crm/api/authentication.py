"""The API's token authentication: simplejwt's, with the user's department joined to the user's
row. Every scoped read asks for ``user.department`` (its path is the department-tree scope), so a
plain lookup cost every request a second query."""

from django.contrib.auth import get_user_model
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication


class _Users:
    """What simplejwt's ``get_user`` uses of ``user_model``: ``objects.get`` and ``DoesNotExist``.
    Its own checks (active user, password-change revocation) run unchanged on the row it gets."""

    def __init__(self, model):
        self.objects = model._default_manager.select_related("department")
        self.DoesNotExist = model.DoesNotExist


class JWTAuthentication(authentication.JWTAuthentication):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_model = _Users(get_user_model())


class JWTScheme(SimpleJWTScheme):
    """Its OpenAPI security scheme: simplejwt's (drf-spectacular matches the exact class only)."""

    target_class = "crm.api.authentication.JWTAuthentication"
