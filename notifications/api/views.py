import django_filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api.base import ScopedGenericViewSet
from crm.api.filters import IsoDateTimeFilter
from crm.api.pagination import CursorPagination
from notifications import selectors, services
from notifications.api.serializers import NotificationSerializer
from notifications.models import Notification


class NotificationPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class NotificationFilterSet(django_filters.FilterSet):
    """Not a SyncFilterSet: notifications are not synced by ``updated_since`` (they have no
    updated_at); ``created_since`` fetches what arrived after the last look."""

    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull")
    kind = django_filters.CharFilter()
    created_since = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Notification
        fields = []


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedGenericViewSet):
    """The caller's own inbox (站内信): list (``?unread=true``), ``unread-count``, ``read``,
    ``read-all``. Nobody reads another person's notifications — not even an admin here."""

    model = Notification
    serializer_class = NotificationSerializer
    permission_classes = [permissions.IsAuthenticated]
    pagination_class = NotificationPagination
    filterset_class = NotificationFilterSet
    ordering_fields = []
    search_fields = []

    def get_scoped_queryset(self, user):
        return selectors.notification_list(user=user)

    @extend_schema(responses=inline_serializer("UnreadCount", {"unread": serializers.IntegerField()}))
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        return Response({"unread": selectors.unread_count(user=request.user)})

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = services.notification_mark_read(user=request.user, notification=self.get_object())
        return Response(self.get_serializer(notification).data)

    @extend_schema(request=None, responses=inline_serializer("ReadAll", {"marked": serializers.IntegerField()}))
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        return Response({"marked": services.notifications_mark_all_read(user=request.user)})
