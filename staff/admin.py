from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from audit.models import AuditAction
from audit.services import audit_record
from staff.models import Department, FieldPermission, Role, User

# Roles replace groups: one place for permissions and data scope.
admin.site.unregister(Group)
admin.site.site_header = _("客户关系管理系统 · 后台管理")
admin.site.site_title = _("CRM 后台")


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["indented_name", "parent", "leader", "order"]
    list_select_related = ["parent", "leader"]
    search_fields = ["name"]
    autocomplete_fields = ["parent", "leader"]
    ordering = ["path"]

    @admin.display(description=_("名称"), ordering="path")
    def indented_name(self, obj):
        return f"{'— ' * obj.depth}{obj.name}"


class FieldPermissionInline(admin.TabularInline):
    """字段权限: per field of customers/contacts (custom fields as ``cf.<key>``), hidden or read-only
    for this role. Fields without a row are editable."""

    model = FieldPermission
    extra = 1
    fields = ["target", "field", "access"]


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["name", "data_scope", "description"]
    list_filter = ["data_scope"]
    search_fields = ["name"]
    filter_horizontal = ["permissions"]
    inlines = [FieldPermissionInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        role = form.instance
        audit_record(
            actor=request.user,
            action=AuditAction.PERMISSION_CHANGE,
            target=role,
            data={
                "data_scope": role.data_scope,
                "permissions": sorted(role.permissions.values_list("codename", flat=True)),
                "field_permissions": sorted(
                    f"{target}.{field}:{access}"
                    for target, field, access in role.field_permissions.values_list("target", "field", "access")
                ),
            },
            request=request,
        )


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "display_name", "mobile", "department", "manager", "is_active", "is_staff"]
    list_filter = ["is_active", "is_staff", "is_superuser", "roles", "department"]
    list_select_related = ["department", "manager"]
    search_fields = ["username", "display_name", "mobile", "email"]
    autocomplete_fields = ["department", "manager"]
    filter_horizontal = ["roles", "user_permissions"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("个人信息"), {"fields": ["display_name", "mobile", "email"]}),
        (_("组织"), {"fields": ["department", "manager", "roles"]}),
        (_("权限"), {"fields": ["is_active", "is_staff", "is_superuser", "user_permissions"]}),
        (_("重要日期"), {"fields": ["last_login", "date_joined"]}),
    ]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        audit_record(
            actor=request.user,
            action=AuditAction.PERMISSION_CHANGE,
            target=user,
            data={
                "roles": sorted(user.roles.values_list("name", flat=True)),
                "is_superuser": user.is_superuser,
                "is_active": user.is_active,
                "permissions": sorted(user.user_permissions.values_list("codename", flat=True)),
            },
            request=request,
        )

    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["username", "display_name", "mobile", "password1", "password2"]}),
        (_("组织"), {"fields": ["department", "manager", "roles"]}),
    ]
