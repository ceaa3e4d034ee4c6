"""Settings pages for admins: the product catalogue. Contracts themselves are edited in the app,
where scope, the status machine and the computed totals apply; the admin only lists them."""

from django.contrib import admin

from contracts.models import Contract, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "category", "unit", "price", "active"]
    list_filter = ["active", "category"]
    list_editable = ["active"]
    search_fields = ["code", "name"]
    ordering = ["code"]

    def has_delete_permission(self, request, obj=None):
        # A product on a contract line is protected; retire it with "active" instead.
        if obj is not None and obj.lines.exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    """Read-only: numbers, totals and statuses change only through the services."""

    list_display = ["number", "title", "customer", "status", "total", "paid_amount", "owner", "signed_date"]
    list_filter = ["status"]
    search_fields = ["number", "title"]
    list_select_related = ["customer", "owner"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
