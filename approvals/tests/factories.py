"""Helpers for approval tests: the org fixture's departments given leaders and a general manager,
and contracts with one line ready to submit."""

from decimal import Decimal

from django.contrib.auth.models import Permission

from approvals.models import GENERAL_MANAGER_CODENAME, ApprovalChain, ApprovalStep
from contracts.tests.factories import ContractFactory, ContractLineFactory, ProductFactory
from staff.tests.factories import UserFactory


def general_manager_permission():
    return Permission.objects.get(codename=GENERAL_MANAGER_CODENAME, content_type__app_label="approvals")


def setup_approvers(org):
    """Leaders: 总公司 ceo, 销售一部 s1_director, 华东组 east_manager (华南组, 销售二部 and 华北组
    have none). The org fixture's roles hold every permission: the general manager approval is
    taken off them and given to one person, ``gm`` (总公司, scope self)."""
    permission = general_manager_permission()
    for role in org.roles.values():
        role.permissions.remove(permission)
    org.users["norole"].user_permissions.remove(permission)
    departments = org.departments
    for key, leader in (("root", "ceo"), ("s1", "s1_director"), ("east", "east_manager")):
        departments[key].leader = org.users[leader]
        departments[key].save(update_fields=["leader", "updated_at"])
    gm = UserFactory(username="gm", department=departments["root"], roles=[org.roles["self"]])
    gm.user_permissions.add(permission)
    org.users["gm"] = gm
    return org


def make_contract(owner, total="10000.00", **kwargs):
    """A draft contract of ``owner`` with one line making up ``total``."""
    total = Decimal(total)
    contract = ContractFactory(owner=owner, total=total, **kwargs)
    if total > 0:
        product = ProductFactory(price=total)
        ContractLineFactory(contract=contract, product=product, quantity=Decimal("1"), unit_price=total)
    return contract


def make_chain(doc_type="contract", *, departments=(), min_amount=None, max_amount=None, priority=100, steps=()):
    """A chain with ``steps``: dicts of ApprovalStep fields (``users`` a list)."""
    chain = ApprovalChain.objects.create(
        name=f"chain-{ApprovalChain.objects.count() + 1}",
        doc_type=doc_type,
        min_amount=min_amount,
        max_amount=max_amount,
        priority=priority,
    )
    chain.departments.set(departments)
    for order, spec in enumerate(steps, start=1):
        spec = dict(spec)
        users = spec.pop("users", [])
        step = ApprovalStep.objects.create(chain=chain, order=order, **spec)
        step.users.set(users)
    return chain
