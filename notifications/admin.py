"""Settings pages: holidays (节日营销), department group robots, people's notification settings."""

from django.contrib import admin

from notifications.models import DepartmentWebhook, Holiday, Notification, NotificationPreference


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["name", "date", "remind_days_before", "is_active"]
    list_editable = ["remind_days_before", "is_active"]
    list_filter = ["name", "is_active"]
    date_hierarchy = "date"


@admin.register(DepartmentWebhook)
class DepartmentWebhookAdmin(admin.ModelAdmin):
    list_display = ["department", "provider", "is_active", "show_details"]
    list_filter = ["provider", "is_active"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "language", "email_enabled"]
    raw_id_fields = ["user"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "recipient", "kind", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind"]
    raw_id_fields = ["recipient"]
    readonly_fields = [field.name for field in Notification._meta.fields]

    def has_add_permission(self, request):
        return False
