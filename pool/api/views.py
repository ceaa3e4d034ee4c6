from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api.base import ScopedGenericViewSet, ScopedReadOnlyViewSet
from crm.errors import DomainError
from customers import selectors as customer_selectors
from customers.api.views import CountedCursorPagination
from customers.models import Customer
from pool import selectors, services
from pool.api.serializers import (
    AssignSerializer,
    PoolActionResultSerializer,
    PoolCustomerSerializer,
    ReleaseSerializer,
)
from pool.filters import PoolCustomerFilterSet
from staff.models import User


class PoolCustomerViewSet(ScopedReadOnlyViewSet):
    """公海: the customers of the pools serving the caller's department (and of the pools they
    administer), contact details masked until claimed."""

    model = Customer
    serializer_class = PoolCustomerSerializer
    filterset_class = PoolCustomerFilterSet
    pagination_class = CountedCursorPagination
    ordering_fields = ["updated_at", "created_at", "id"]
    search_fields = []

    def get_scoped_queryset(self, user):
        return selectors.pool_customer_list(user=user)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "default_pool": selectors.default_pool()}


def _result(customer_id):
    return Response(PoolActionResultSerializer(selectors.pool_action_result(customer_id)).data)


class PoolActionViewSet(ScopedGenericViewSet):
    """Pool actions on one customer: claim and assign take a customer of the caller's pools;
    release, lock and unlock one in the caller's scope. Anything else is the same 404."""

    model = Customer
    serializer_class = PoolActionResultSerializer
    filter_backends = []
    action_permissions = {
        "claim": [selectors.CLAIM_PERMISSION],
        "assign": ["customers.view_customer"],
        "release": ["customers.view_customer"],
        "lock": ["customers.view_customer"],
        "unlock": ["customers.view_customer"],
    }

    def get_scoped_queryset(self, user):
        if self.action in ("claim", "assign"):
            return selectors.pool_customer_list(user=user)
        return customer_selectors.customer_list(user=user)

    @extend_schema(request=None, responses=PoolActionResultSerializer)
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        """领取: the customer becomes the caller's (409 ``already_claimed`` if someone was faster)."""
        customer = self.get_object()
        services.pool_customer_claim(user=request.user, customer=customer, request=request)
        return _result(customer.pk)

    @extend_schema(request=ReleaseSerializer, responses=PoolActionResultSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        """退回公海 with a reason."""
        customer = self.get_object()
        serializer = ReleaseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.pool_customer_release(
            user=request.user, customer=customer, reason=serializer.validated_data["reason"], request=request
        )
        return _result(customer.pk)

    @extend_schema(request=AssignSerializer, responses=PoolActionResultSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """分配 a pool customer to a staff member (pool admins, or managers within their scope)."""
        customer = self.get_object()
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        to_user = User.objects.filter(pk=data["to_user"], is_active=True).first()
        if to_user is None:
            raise DomainError(_("该员工不存在或已停用。"), fields={"to_user": [_("该员工不存在或已停用。")]})
        services.pool_customer_assign(
            user=request.user, customer=customer, to_user=to_user, reason=data.get("reason", ""), request=request
        )
        return _result(customer.pk)

    @extend_schema(request=None, responses=PoolActionResultSerializer)
    @action(detail=True, methods=["post"])
    def lock(self, request, pk=None):
        """锁定: never recalled (owner or pool admin; within the owner's lock limit)."""
        customer = self.get_object()
        services.pool_customer_lock(user=request.user, customer=customer, request=request)
        return _result(customer.pk)

    @extend_schema(request=None, responses=PoolActionResultSerializer)
    @action(detail=True, methods=["post"])
    def unlock(self, request, pk=None):
        customer = self.get_object()
        services.pool_customer_unlock(user=request.user, customer=customer, request=request)
        return _result(customer.pk)
