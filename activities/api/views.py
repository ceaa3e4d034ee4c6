from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import parsers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from activities import selectors, services
from activities.api.serializers import (
    FollowUpSerializer,
    FollowUpWriteSerializer,
    TaskSerializer,
    TaskWriteSerializer,
)
from activities.filters import FollowUpFilterSet, TaskFilterSet
from activities.models import FollowUp, Task
from crm.api.base import ScopedModelViewSet
from crm.errors import DomainError
from customers.api.views import CountedCursorPagination


class FollowUpViewSet(ScopedModelViewSet):
    """Follow-ups (跟进记录) of the customers in the caller's scope. POST as JSON, or multipart
    with ``attachments`` files; saving one updates the customer's last/next follow-up times."""

    model = FollowUp
    serializer_class = FollowUpSerializer
    filterset_class = FollowUpFilterSet
    pagination_class = CountedCursorPagination
    parser_classes = [parsers.JSONParser, parsers.MultiPartParser, parsers.FormParser]
    ordering_fields = ["updated_at", "occurred_at", "id"]
    search_fields = ["content"]
    http_method_names = ["get", "post", "head", "options"]
    action_permissions = {"attachment": ["activities.view_followup"]}

    def get_scoped_queryset(self, user):
        return selectors.follow_up_list(user=user)

    @extend_schema(request=FollowUpWriteSerializer, responses={201: FollowUpSerializer})
    def create(self, request, *args, **kwargs):
        serializer = FollowUpWriteSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        follow_up = services.follow_up_create(
            user=request.user,
            customer=data["customer"],
            contact=data.get("contact"),
            type=data["type"],
            content=data.get("content", ""),
            occurred_at=data.get("occurred_at"),
            next_follow_up_at=data.get("next_follow_up_at"),
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            files=data.get("attachments") or [],
            create_task=data.get("create_task", False),
        )
        follow_up = selectors.follow_up_get_for_user(user=request.user, pk=follow_up.pk)
        return Response(self.get_serializer(follow_up).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>[0-9]+)")
    def attachment(self, request, pk=None, attachment_id=None):
        """One attachment's file (images inline, other files as a download)."""
        attachment = selectors.attachment_get_for_user(user=request.user, pk=attachment_id, follow_up_id=pk)
        return attachment_response(attachment)


def attachment_response(attachment):
    """The file with its own name and type; never rendered as HTML by the browser."""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not attachment.is_image,
        filename=attachment.name,
        content_type=attachment.content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


class TaskViewSet(ScopedModelViewSet):
    """Tasks (待办) the caller may see: ``mine``, ``overdue`` and ``today`` (Asia/Shanghai) filter
    them; status changes are the ``complete`` / ``cancel`` / ``reopen`` actions."""

    model = Task
    serializer_class = TaskSerializer
    filterset_class = TaskFilterSet
    pagination_class = CountedCursorPagination
    ordering_fields = ["updated_at", "due_at", "id"]
    search_fields = ["title"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    action_permissions = {
        "complete": ["activities.change_task"],
        "cancel": ["activities.change_task"],
        "reopen": ["activities.change_task"],
    }

    def get_scoped_queryset(self, user):
        return selectors.task_list(user=user)

    def _respond(self, task, status_code=status.HTTP_200_OK):
        task = selectors.task_get_for_user(user=self.request.user, pk=task.pk)
        return Response(self.get_serializer(task).data, status=status_code)

    @extend_schema(request=TaskWriteSerializer, responses={201: TaskSerializer})
    def create(self, request, *args, **kwargs):
        serializer = TaskWriteSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        task = services.task_create(user=request.user, **serializer.validated_data)
        return self._respond(task, status.HTTP_201_CREATED)

    @extend_schema(request=TaskWriteSerializer, responses=TaskSerializer)
    def partial_update(self, request, *args, **kwargs):
        task = self.get_object()
        serializer = TaskWriteSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        services.task_update(user=request.user, task=task, data=serializer.validated_data)
        return self._respond(task)

    def update(self, request, *args, **kwargs):
        if not kwargs.get("partial"):
            raise DomainError(_("请使用 PATCH 修改待办。"), code="method_not_allowed", status=405)
        return super().update(request, *args, **kwargs)

    @extend_schema(request=None, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self._respond(services.task_complete(user=request.user, task=self.get_object()))

    @extend_schema(request=None, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._respond(services.task_cancel(user=request.user, task=self.get_object()))

    @extend_schema(request=None, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self._respond(services.task_reopen(user=request.user, task=self.get_object()))
