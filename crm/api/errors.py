"""One JSON error shape for the whole API:

    {"error": {"code": "not_found", "message": "未找到。", "fields": {}}}

``message`` is in the request's language (Accept-Language, zh-hans first); ``fields`` maps each
invalid input field to its list of messages.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from crm.errors import DomainError


def error_body(*, code, message, fields=None, **extra):
    return {"error": {"code": code, "message": str(message), "fields": fields or {}, **extra}}


def error_response(*, status, code, message, fields=None):
    """A plain Django response in the API's error shape, for code outside DRF views."""
    return JsonResponse(error_body(code=code, message=message, fields=fields), status=status)


def _flatten(detail):
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [str(item) for item in detail]
        return [_flatten(item) for item in detail]
    return [str(detail)]


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, DomainError):
        set_rollback()
        fields = {key: _flatten(value) for key, value in exc.fields.items()}
        return Response(error_body(code=exc.code, message=exc.message, fields=fields, **exc.extra), status=exc.status)

    if not isinstance(exc, exceptions.APIException):
        return None

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = _flatten(detail)
        message = _("提交的数据有误，请检查后重试。")
        non_field = fields.get("non_field_errors")
        if non_field and len(fields) == 1:
            message = non_field[0]
        body = error_body(code="invalid", message=message, fields=fields)
    else:
        detail, codes = exc.detail, exc.get_codes()
        if isinstance(detail, dict):  # e.g. simplejwt: {"detail": ..., "code": ..., "messages": [...]}
            message, code = detail.get("detail", ""), codes.get("detail")
        elif isinstance(detail, list):
            message, code = " ".join(str(item) for item in detail), None
        else:
            message, code = detail, codes
        code = code if isinstance(code, str) else exc.default_code
        body = error_body(code=code, message=message)

    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def not_found_json(request, exception=None):
    return error_response(status=status.HTTP_404_NOT_FOUND, code="not_found", message=_("未找到。"))


def server_error_json(request):
    return error_response(status=500, code="server_error", message=_("服务器内部错误，请稍后重试。"))
