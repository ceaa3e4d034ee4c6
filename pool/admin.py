from django.contrib import admin

from pool.models import Pool, PoolEvent, PoolLevelRule, PoolSettings, RoleLimit


class PoolLevelRuleInline(admin.TabularInline):
    model = PoolLevelRule
    extra = 0


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default", "serves_everyone", "recall_enabled", "no_follow_up_days", "no_deal_days"]
    filter_horizontal = ["departments", "admins"]
    inlines = [PoolLevelRuleInline]


@admin.register(PoolSettings)
class PoolSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "max_owned", "max_locked", "count_dealt", "claim_daily_limit", "reclaim_cooldown_days"]

    def has_add_permission(self, request):
        return not PoolSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RoleLimit)
class RoleLimitAdmin(admin.ModelAdmin):
    list_display = ["role", "max_owned", "max_locked", "claim_daily_limit"]


@admin.register(PoolEvent)
class PoolEventAdmin(admin.ModelAdmin):
    list_display = ["at", "kind", "customer", "actor", "previous_owner", "new_owner", "pool", "reason"]
    list_filter = ["kind", "pool"]
    list_select_related = ["customer", "actor", "previous_owner", "new_owner", "pool"]
    raw_id_fields = ["customer", "actor", "previous_owner", "new_owner"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
