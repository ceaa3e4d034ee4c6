from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from analytics import selectors, services
from analytics.api.serializers import CustomerProfileSerializer
from crm.api.base import ScopedGenericViewSet
from customers.models import Customer


class CustomerProfileViewSet(ScopedGenericViewSet):
    """A customer's profile (客户画像): scoped like the customer — missing and out of scope are
    both 404. Computed on the spot for a customer no recompute has reached yet."""

    model = Customer
    serializer_class = CustomerProfileSerializer
    pagination_class = None
    filter_backends = []

    def get_scoped_queryset(self, user):
        return Customer.objects.visible_to(user)

    @extend_schema(responses=CustomerProfileSerializer)
    def retrieve(self, request, pk=None):
        customer = self.get_object()
        profile = services.profile_ensure(customer=customer)
        context = {**self.get_serializer_context(), "churn_model_auc": selectors.churn_model_auc(profile=profile)}
        return Response(CustomerProfileSerializer(profile, context=context).data)
