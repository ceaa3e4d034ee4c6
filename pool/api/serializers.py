from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from customers.models import Customer
from customers.presenters import Presenter
from pool.models import Pool

POOL_CUSTOMER_FIELDS = [
    "id", "name", "kind", "mobile", "phone", "email", "industry", "source", "level", "province", "city",
    "district", "deal_status", "last_follow_up_at", "created_at", "updated_at",
]  # fmt: skip


class PoolCustomerSerializer(serializers.ModelSerializer):
    """A pool customer as the pool list shows it: contact details masked (they show in full once
    claimed), the viewer's hidden fields dropped."""

    pool = serializers.SerializerMethodField()
    pool_name = serializers.SerializerMethodField()
    entered_pool_at = serializers.SerializerMethodField()
    level_name = serializers.CharField(source="level.name", read_only=True, default="")

    class Meta:
        model = Customer
        fields = [*POOL_CUSTOMER_FIELDS, "level_name", "pool", "pool_name", "entered_pool_at"]
        read_only_fields = fields

    def _state(self, customer):
        try:
            return customer.pool_state
        except Customer.pool_state.RelatedObjectDoesNotExist:
            return None

    def _pool(self, customer):
        state = self._state(customer)
        if state is not None and state.pool_id:
            return state.pool
        return self.context.get("default_pool")

    def get_pool(self, customer) -> int | None:
        pool = self._pool(customer)
        return pool.pk if pool else None

    def get_pool_name(self, customer) -> str:
        pool = self._pool(customer)
        return pool.name if pool else ""

    def get_entered_pool_at(self, customer) -> str | None:
        state = self._state(customer)
        return serializers.DateTimeField().to_representation(state.entered_at) if state and state.entered_at else None

    def to_representation(self, customer):
        data = super().to_representation(customer)
        presenter = self.context.get("presenter")
        if presenter is None:
            presenter = self.context["presenter"] = Presenter(self.context["request"].user, "customer")
        return presenter.record(data, full=False)


class ReleaseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text=_("退回原因"))


class AssignSerializer(serializers.Serializer):
    to_user = serializers.IntegerField(help_text=_("接收人（员工 id）"))
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class PoolActionResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    owner = serializers.IntegerField(allow_null=True)
    locked = serializers.BooleanField()


class PoolSerializer(serializers.ModelSerializer):
    class Meta:
        model = Pool
        fields = ["id", "name", "is_default", "serves_everyone", "no_follow_up_days", "no_deal_days", "exempt_dealt"]
        read_only_fields = fields
