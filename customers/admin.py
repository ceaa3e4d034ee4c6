"""Settings pages for the lists admins configure (levels, tags, sources, industries, custom
fields). Customers themselves are edited in the app, where scope and field permissions apply."""

from django.contrib import admin

from customers.models import CustomerLevel, CustomField, Industry, Source, Tag


@admin.register(CustomerLevel)
class CustomerLevelAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "color", "priority"]
    list_editable = ["name", "color", "priority"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "color"]
    search_fields = ["name"]


@admin.register(Source, Industry)
class NamedOptionAdmin(admin.ModelAdmin):
    list_display = ["name", "order", "is_active"]
    list_editable = ["order", "is_active"]
    search_fields = ["name"]


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ["label", "target", "key", "type", "required", "order", "is_active"]
    list_filter = ["target", "type", "is_active"]
    list_editable = ["order", "is_active"]
    search_fields = ["label", "key"]
