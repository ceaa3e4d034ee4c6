"""Settings pages for admins: sales pipelines (stage groups with their stages) and lost reasons.
Deals themselves are edited in the app, where scope applies. A stage that deals stand in (or name
in their history) cannot be deleted: the admin's protected-object check refuses it."""

from django.contrib import admin

from opportunities.models import LostReason, Stage, StageGroup


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    fields = ["order", "code", "name", "probability", "kind", "color"]
    ordering = ["order", "id"]


@admin.register(StageGroup)
class StageGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default", "order"]
    list_editable = ["order"]
    filter_horizontal = ["departments"]
    inlines = [StageInline]


@admin.register(LostReason)
class LostReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "order", "is_active"]
    list_editable = ["order", "is_active"]
    search_fields = ["name"]
