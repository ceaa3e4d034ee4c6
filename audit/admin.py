from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: the log is append-only (the database refuses
    changes anyway). Holders of ``audit.view_auditevent`` browse, filter and open events."""

    list_display = ["at", "action", "actor_display", "target_type", "target_repr", "ip"]
    list_filter = ["action", "at"]
    list_select_related = ["actor"]
    # data__login: failed logins name no account when the name tried does not exist.
    search_fields = ["actor__username", "actor_repr", "target_repr", "data__login"]
    date_hierarchy = "at"
    ordering = ["-at", "-id"]
    # The table grows without end: no unfiltered COUNT(*) next to every search result.
    show_full_result_count = False
    fields = [
        "at",
        "action",
        "actor",
        "actor_repr",
        "target_type",
        "target_id",
        "target_repr",
        "data",
        "ip",
        "user_agent",
    ]
    readonly_fields = fields

    @admin.display(description=_("操作人"), ordering="actor_repr")
    def actor_display(self, obj):
        return obj.actor_repr or "—"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
