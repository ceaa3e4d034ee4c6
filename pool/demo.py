"""Demo pool for ``seed_demo``: sales roles may claim (managers also assign), a 销售二部公海 next to
the company pool, and a few demo customers released into the pools — through the services."""

from django.contrib.auth.models import Permission

from customers.models import Customer
from pool import services
from staff.models import DataScope, Department, Role, User

RELEASE_REASONS = ["客户暂无采购计划", "联系不上", "预算不足，明年再跟进", "非目标客户"]


def load_demo():
    claim = Permission.objects.get(codename="claim_customer", content_type__app_label="pool")
    assign = Permission.objects.get(codename="assign_customer", content_type__app_label="pool")
    for role in Role.objects.all():
        role.permissions.add(claim)
        if role.data_scope != DataScope.SELF:
            role.permissions.add(assign)
    second = Department.objects.filter(name="销售二部").first()
    if second is not None:
        admins = User.objects.filter(username="lina")
        services.pool_create(name="销售二部公海", departments=[second], admins=list(admins))
    # Every third demo customer back into its pool, released by its owner with a reason.
    customers = Customer.objects.alive().filter(owner__isnull=False).select_related("owner").order_by("pk")
    for index, customer in enumerate(customers[::3]):
        services.pool_customer_release(
            user=customer.owner, customer=customer, reason=RELEASE_REASONS[index % len(RELEASE_REASONS)]
        )
