"""The profile's shape for the mini-program (GET /api/v1/customers/{id}/profile/)."""

from rest_framework import serializers

from analytics.models import CustomerProfile

PROFILE_FIELDS = [
    "recency", "frequency", "monetary", "lifecycle", "predicted_value", "clv", "churn_risk", "churn_source",
    "churn_model_auc", "preferences", "recommended_actions", "last_purchase_at", "purchase_count",
    "purchase_total", "last_contact_at", "computed_at",
]  # fmt: skip


class CustomerProfileSerializer(serializers.ModelSerializer):
    churn_model_auc = serializers.SerializerMethodField(help_text="流失模型的留出集 AUC；规则计算时为 null。")

    class Meta:
        model = CustomerProfile
        fields = PROFILE_FIELDS
        read_only_fields = fields

    def get_churn_model_auc(self, profile) -> float | None:
        return self.context.get("churn_model_auc")
