"""Reads of products and contracts. Every contract read starts from
``Contract.objects.visible_to(user)`` — the list (API and page), the detail, the customer's 360
panel and timeline — and filters only narrow it. ``ContractFilterSet`` is the one filter set of the
list, shared by the API and the page."""

from types import SimpleNamespace

import django_filters
from django.db.models import Prefetch, Q
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contracts.models import Contract, ContractLine, ContractStatus, Product
from crm.api.filters import ScopedModelChoiceFilter, SyncFilterSet
from crm.errors import DomainError
from customers.models import Customer
from staff.models import Department, User
from staff.scope import get_for_user

# True for a customer row aliased ``c`` with a contract in force — approved or active — for the
# pool's exemption registry. Approved counts as well as active: an approved contract is signed and
# binding (activation is a later, manual step, and payments are already collected against it), so
# the customer is as much ours as with an active one; drafts and pending ones are not signed yet,
# and finished or void ones no longer bind. Index: contract_customer_status (customer, status).
ACTIVE_CONTRACT_SQL = (
    "EXISTS (SELECT 1 FROM contracts_contract k WHERE k.customer_id = c.id AND k.status IN ('approved', 'active'))"
)


def _department_subtree(queryset, name, value):
    """A department and the ones below it (materialised path prefix)."""
    if not value:
        return queryset
    return queryset.filter(department__path__startswith=value.path)


def _search(queryset, name, value):
    value = (value or "").strip()
    if not value:
        return queryset
    return queryset.filter(Q(number__icontains=value) | Q(title__icontains=value))


class ContractFilterSet(SyncFilterSet):
    """Status, owner, department (with the ones below), signed and end date ranges, amount range,
    customer (only those the user sees), and a search on number and title. Filters narrow the
    user's scoped contracts; none can widen them."""

    q = django_filters.CharFilter(method=_search, label=gettext_lazy("搜索"), max_length=100)
    # distinct=False: a filter on a column cannot duplicate rows, and DISTINCT over every column
    # made the list's count (and the workbench's sums) a sort of the whole match.
    status = django_filters.MultipleChoiceFilter(
        choices=ContractStatus.choices, distinct=False, label=gettext_lazy("状态")
    )
    owner = django_filters.ModelMultipleChoiceFilter(
        queryset=User.objects.all(), distinct=False, label=gettext_lazy("负责人")
    )
    department = django_filters.ModelChoiceFilter(
        queryset=Department.objects.all(), method=_department_subtree, label=gettext_lazy("部门（含下级）")
    )
    customer = ScopedModelChoiceFilter(model=Customer, label=gettext_lazy("客户"))
    signed = django_filters.DateFromToRangeFilter(field_name="signed_date", label=gettext_lazy("签约日期"))
    end = django_filters.DateFromToRangeFilter(field_name="end_date", label=gettext_lazy("结束日期"))
    amount = django_filters.RangeFilter(field_name="total", label=gettext_lazy("合同金额"))

    class Meta:
        model = Contract
        fields = []


# --- products -----------------------------------------------------------------------------------


def product_list(*, active=None):
    products = Product.objects.order_by("code")
    if active is not None:
        products = products.filter(active=active)
    return products


# --- contracts ----------------------------------------------------------------------------------


def _lines():
    return Prefetch("lines", queryset=ContractLine.objects.select_related("product").order_by("order", "pk"))


def contract_queryset(*, user):
    """Contracts ``user`` may see, with what a list shows joined (customer, owner) and lines
    prefetched: a fixed number of queries however many rows. Only those two joins: with all six
    lookups joined PostgreSQL spent ~200 ms planning each list page at a million contracts
    (executing it took 13 ms); the page of one contract joins the rest."""
    return Contract.objects.visible_to(user).select_related("customer", "owner").prefetch_related(_lines())


def contract_list(*, user, filters=None):
    """The user's contracts through ``ContractFilterSet`` (``filters``: a dict or QueryDict of its
    parameters), newest change first. Invalid filters → 400 with the fields."""
    contracts = contract_queryset(user=user)
    if filters:
        filterset = ContractFilterSet(data=filters, queryset=contracts, request=SimpleNamespace(user=user))
        if not filterset.is_valid():
            raise DomainError(
                _("筛选条件有误。"), fields={name: list(errors) for name, errors in filterset.errors.items()}
            )
        contracts = filterset.qs
    return contracts.order_by("-updated_at", "-id")


def contract_get_for_user(*, user, pk):
    """One contract the user may see, or 404 — the same for missing and out of scope."""
    contracts = contract_queryset(user=user).select_related("opportunity", "department", "signatory", "renewed_from")
    return get_for_user(contracts, user=user, pk=pk)


def contract_renewals(*, user, contract):
    return Contract.objects.visible_to(user).filter(renewed_from=contract).order_by("-pk")


def contract_initial_from_opportunity(*, user, opportunity):
    """What the contract form starts with when drafted from a deal (a read: nothing is saved until
    the form is): customer, deal, title, the primary contact as signatory, one line priced at the
    deal amount whose product the user picks."""
    from contracts.services.contracts import opportunity_draft_owner
    from customers.models import Contact

    signatory = (
        Contact.objects.visible_to(user)
        .filter(customer_id=opportunity.customer_id)
        .order_by("-is_primary", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    return {
        "header": {
            "customer": opportunity.customer_id,
            "opportunity": opportunity.pk,
            "title": opportunity.title,
            "signatory": signatory,
            "owner": opportunity_draft_owner(user=user, opportunity=opportunity).pk,
        },
        "lines": [{"product": None, "quantity": 1, "unit_price": opportunity.amount, "discount_rate": 0}],
    }


# --- the customer's 360 page (registered in apps.py) --------------------------------------------


def customer_contracts(*, user, customer):
    """The customer's contracts the user may see, newest first."""
    return (
        Contract.objects.visible_to(user)
        .filter(customer=customer)
        .select_related("owner")
        .order_by("-created_at", "-id")
    )


def customer_timeline_entries(*, user, customer, limit=200):
    """Milestones of the customer's contracts (those the user sees) for the 360 timeline: created,
    submitted for approval, approved, voided — from the contract's own timestamps."""
    rows = customer_contracts(user=user, customer=customer).select_related("created_by")[:limit]
    milestones = [
        ("created_at", _("新建合同")),
        ("submitted_at", _("合同提交审批")),
        ("approved_at", _("合同审批通过")),
        ("voided_at", _("合同作废")),
    ]
    entries = []
    for contract in rows:
        for field, title in milestones:
            at = getattr(contract, field)
            if at is None:
                continue
            by_creator = field == "created_at" and contract.created_by_id
            entries.append(
                {
                    "kind": "contract",
                    "id": contract.pk,
                    "milestone": field.removesuffix("_at"),
                    "at": at,
                    "user": contract.created_by_id if by_creator else None,
                    "user_name": str(contract.created_by) if by_creator else "",
                    "title": title,
                    "text": f"{contract.number} {contract.title}：¥{contract.total:,}",
                    "contract": contract.pk,
                    "url": reverse("contracts:detail", args=[contract.pk]),
                    "link_text": _("查看合同"),
                }
            )
    return entries
