"""Profiles are read-only in the admin (the recompute writes them); settings are edited on the
analytics settings page, shown here for reference."""

from django.contrib import admin

from analytics.models import AnalyticsSettings, CustomerProfile, SummaryDelivery, SummarySubscription


@admin.register(CustomerProfile)
class CustomerProfileAdmin(admin.ModelAdmin):
    list_display = ["customer", "lifecycle", "recency", "frequency", "monetary", "churn_risk", "computed_at"]
    list_filter = ["lifecycle", "churn_source"]
    raw_id_fields = ["customer"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AnalyticsSettings)
class AnalyticsSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "scoring_mode", "churn_model_auc", "churn_model_trained_at", "last_bulk_at"]
    readonly_fields = [
        "churn_model_auc",
        "churn_model_trained_at",
        "churn_model_samples",
        "last_bulk_at",
        "last_bulk_seconds",
        "last_bulk_count",
    ]

    def has_add_permission(self, request):
        return not AnalyticsSettings.objects.exists()


@admin.register(SummarySubscription)
class SummarySubscriptionAdmin(admin.ModelAdmin):
    """日报 / 周报 / 月报 subscriptions (made by each person on the summary page)."""

    list_display = ["user", "frequency", "department", "active", "created_at"]
    list_filter = ["frequency", "active"]
    raw_id_fields = ["user", "department"]
    list_select_related = ["user", "department"]


@admin.register(SummaryDelivery)
class SummaryDeliveryAdmin(admin.ModelAdmin):
    """What was sent: one row per subscription and period (read-only)."""

    list_display = ["subscription", "period_start", "period_end", "sent_at"]
    list_filter = ["subscription__frequency"]
    list_select_related = ["subscription__user", "subscription__department"]
    date_hierarchy = "period_start"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
