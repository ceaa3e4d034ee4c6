"""Settings pages for admins: approval chains with their steps (审批流). The general manager
approval of the default contract chain is the permission "可以作为总经理审批"
(approvals.approve_as_general_manager): give it to a role (e.g. 总经理) or a person in the staff
admin. Requests are shown read-only, with their tasks and history, for support."""

from django.contrib import admin
from django.contrib.auth.models import Permission

from approvals.models import ApprovalChain, ApprovalLog, ApprovalRequest, ApprovalStep, ApprovalTask


class ApprovalStepInline(admin.StackedInline):
    model = ApprovalStep
    extra = 0
    fields = [("order", "name"), ("kind", "mode"), "levels", "users", ("role", "within_department"), "permission"]
    filter_horizontal = ["users"]
    ordering = ["order", "id"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "permission":
            kwargs["queryset"] = Permission.objects.select_related("content_type").order_by(
                "content_type__app_label", "codename"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ApprovalChain)
class ApprovalChainAdmin(admin.ModelAdmin):
    list_display = ["name", "doc_type", "min_amount", "max_amount", "priority", "active"]
    list_filter = ["doc_type", "active"]
    list_editable = ["priority", "active"]
    search_fields = ["name"]
    filter_horizontal = ["departments"]
    fields = ["name", "doc_type", "departments", ("min_amount", "max_amount"), "priority", "active", "description"]
    inlines = [ApprovalStepInline]


class ApprovalTaskInline(admin.TabularInline):
    model = ApprovalTask
    extra = 0
    can_delete = False
    fields = ["step", "approver", "decision", "comment", "decided_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class ApprovalLogInline(admin.TabularInline):
    model = ApprovalLog
    extra = 0
    can_delete = False
    fields = ["created_at", "action", "step", "step_name", "actor", "comment"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    list_display = ["title", "doc_type", "amount", "status", "current_step", "submitted_by", "submitted_at"]
    list_filter = ["doc_type", "status"]
    search_fields = ["title"]
    list_select_related = ["submitted_by"]
    inlines = [ApprovalTaskInline, ApprovalLogInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
