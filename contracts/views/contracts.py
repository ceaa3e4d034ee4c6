"""Server-rendered contract pages: the list (filters), the form with line items (totals live in the
browser, recomputed by the service), the detail page (lines, totals, paid / outstanding /
progress, the status actions, renew, and the panels other parts register), and the customer's
360 panel.

Pages only translate between HTTP and the domain: reads come from ``contracts.selectors``, writes
go through ``contracts.services``. A rule found here is a bug."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from contracts.forms import HEADER_FIELDS, LINE_FIELDS, ContractForm
from contracts.models import EDITABLE_STATUSES, ContractStatus, Product
from contracts.selectors import contracts as selectors
from contracts.services import contracts as services
from contracts.services.status import TRANSITIONS
from crm.errors import ConflictError, DomainError
from customers import selectors as customer_selectors
from customers.models import Customer
from opportunities.models import Opportunity
from staff.models import Department
from staff.selectors import user_list

LIST_PAGE_SIZE = 20
LIST_FILTERS = ("q", "status", "owner", "department", "customer", "signed_after", "signed_before",
                "amount_min", "amount_max")  # fmt: skip

# Sections of the contract page that other parts add (approval history and buttons, payment plan,
# payments, invoices…): callables (request, contract) -> {"template": ..., **context} or None,
# rendered in registration order. Registered from AppConfig.ready(); each reads through its own
# selectors (scope included). The template gets the dict as ``panel`` (and the page's ``contract``).
# ``"placement"`` picks where: "main" (default: the right column, below the lines), "side" (the
# left column, below the payment figures) or "actions" (inline in the header's button bar — e.g.
# submit / approve / reject forms).
CONTRACT_PANELS = {}
PANEL_PLACEMENTS = ("main", "side", "actions")

# The status actions of this page: action → (service, target status, button label, confirmation).
ACTIONS = {
    "activate": (services.contract_activate, ContractStatus.ACTIVE, gettext_lazy("开始执行"), ""),
    "complete": (
        services.contract_complete,
        ContractStatus.COMPLETED,
        gettext_lazy("完成"),
        gettext_lazy("确认合同已履行完毕？"),
    ),
    "terminate": (
        services.contract_terminate,
        ContractStatus.TERMINATED,
        gettext_lazy("终止"),
        gettext_lazy("确认提前终止合同？"),
    ),
    "void": (
        services.contract_void,
        ContractStatus.VOID,
        gettext_lazy("作废"),
        gettext_lazy("作废后不可恢复，确认作废？"),
    ),
}


def _filter_params(querydict, names):
    params = QueryDict(mutable=True)
    for name in names:
        for value in querydict.getlist(name):
            if value != "":
                params.appendlist(name, value)
    return params


def _error_text(error):
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    texts = [str(error.message)]
    for value in getattr(error, "fields", {}).values():
        items = value if isinstance(value, list) else [value]
        texts.extend(str(item) for item in items if not isinstance(item, dict | list))
    return " ".join(dict.fromkeys(texts))


# --- list ---------------------------------------------------------------------------------------


@login_required
@permission_required("contracts.view_contract", raise_exception=True)
@require_GET
def contract_list(request):
    params = _filter_params(request.GET, LIST_FILTERS)
    filter_errors = {}
    try:
        contracts = selectors.contract_list(user=request.user, filters=params)
    except DomainError as error:
        filter_errors = error.fields
        contracts = selectors.contract_list(user=request.user)
    count, capped = customer_selectors.capped_count(contracts)
    try:
        number = max(1, min(int(request.GET.get("page", 1)), 10_000))
    except ValueError:
        number = 1
    rows = list(contracts.prefetch_related(None)[(number - 1) * LIST_PAGE_SIZE : number * LIST_PAGE_SIZE])
    return render(
        request,
        "contracts/list.html",
        {
            "active_nav": "contracts",
            "rows": rows,
            "count": count,
            "capped": capped,
            "page": number,
            "has_next": number * LIST_PAGE_SIZE < count,
            "filter_query": params.urlencode(),
            "selected": params,
            "selected_statuses": params.getlist("status"),
            "statuses": ContractStatus.choices,
            "filter_errors": filter_errors,
            "owners": user_list().filter(is_active=True),
            "departments": Department.objects.all(),
        },
    )


# --- form ---------------------------------------------------------------------------------------


def _posted_lines(post):
    """The posted line rows (parallel lists ``line_product`` …), blank rows dropped."""
    columns = {name: post.getlist(f"line_{name}") for name in LINE_FIELDS}
    count = max((len(values) for values in columns.values()), default=0)
    lines = []
    for index in range(count):
        row = {name: (values[index].strip() if index < len(values) else "") for name, values in columns.items()}
        if any(row.values()):
            lines.append(row)
    return lines


def _posted_header(post):
    return {name: post.get(name, "") for name in (*HEADER_FIELDS, "owner") if name in post}


def _form_context(request, *, form, lines, line_errors=None, contract=None, conflict=None):
    on_contract = {line["product"] for line in lines if line.get("product")}
    products = Product.objects.filter(active=True) | Product.objects.filter(
        pk__in=[int(pk) for pk in on_contract if str(pk).isdigit()]
    )
    rows = []
    per_line = [item if isinstance(item, dict) else {} for item in (line_errors or [])]
    for index, line in enumerate(lines or [{"quantity": 1}]):
        errors = per_line[index] if index < len(per_line) else {}
        rows.append({**{name: line.get(name, "") for name in LINE_FIELDS}, "errors": errors})
    return {
        "active_nav": "contracts",
        "form": form,
        "lines": rows,
        "lines_have_errors": any(row["errors"] for row in rows),
        "line_messages": [item for item in (line_errors or []) if isinstance(item, str)],
        "products": products.distinct().order_by("code"),
        "contract": contract,
        "conflict": conflict,
        "can_choose_owner": request.user.has_perm(services.TRANSFER_PERMISSION),
    }


def _clean_header(data):
    return {key: (None if value == "" and key not in ("title", "remark") else value) for key, value in data.items()}


@login_required
@permission_required("contracts.add_contract", raise_exception=True)
def contract_create(request):
    """New contract; ``?opportunity=<id>`` pre-fills it from a deal, ``?customer=<id>`` picks the
    customer. Nothing is saved until the form is posted."""
    initial, lines = {}, []
    raw = request.GET.get("opportunity", "")
    if raw.isdigit():
        opportunity = Opportunity.objects.visible_to(request.user).filter(pk=raw).first()
        if opportunity is not None:
            prefill = selectors.contract_initial_from_opportunity(user=request.user, opportunity=opportunity)
            initial, lines = prefill["header"], prefill["lines"]
    raw = request.GET.get("customer", "")
    if not initial and raw.isdigit() and Customer.objects.visible_to(request.user).filter(pk=raw).exists():
        initial["customer"] = int(raw)
    form = ContractForm(initial=initial, user=request.user)
    line_errors = None
    if request.method == "POST":
        data = _clean_header(_posted_header(request.POST))
        lines = _posted_lines(request.POST)
        try:
            contract = services.contract_create(user=request.user, data={**data, "lines": lines})
        except services.FormValidationError as error:
            form, line_errors = error.form, error.line_errors
        except DomainError as error:
            form = ContractForm(data=_posted_header(request.POST), user=request.user)
            messages.error(request, _error_text(error))
        else:
            messages.success(request, _("已保存合同 %(number)s。") % {"number": contract.number})
            return redirect("contracts:detail", pk=contract.pk)
    context = _form_context(request, form=form, lines=lines, line_errors=line_errors)
    return render(request, "contracts/form.html", context)


@login_required
@permission_required("contracts.change_contract", raise_exception=True)
def contract_edit(request, pk):
    contract = selectors.contract_get_for_user(user=request.user, pk=pk)
    if contract.status not in EDITABLE_STATUSES:
        messages.error(request, _("合同当前状态为“%(status)s”，不能修改。") % {"status": contract.get_status_display()})
        return redirect("contracts:detail", pk=pk)
    form = ContractForm(instance=contract, user=request.user, initial={"owner": contract.owner_id})
    lines = [
        {"product": line.product_id, "quantity": line.quantity, "unit_price": line.unit_price,
         "discount_rate": line.discount_rate}
        for line in contract.lines.all()
    ]  # fmt: skip
    line_errors, conflict = None, None
    if request.method == "POST":
        data = _clean_header(_posted_header(request.POST))
        lines = _posted_lines(request.POST)
        try:
            services.contract_update(
                user=request.user,
                contract=contract,
                version=request.POST.get("version"),
                data={**data, "lines": lines},
            )
        except services.FormValidationError as error:
            form, line_errors = error.form, error.line_errors
        except ConflictError as error:
            conflict = error.message
        except DomainError as error:
            messages.error(request, _error_text(error))
        else:
            messages.success(request, _("已保存。"))
            return redirect("contracts:detail", pk=pk)
    context = _form_context(
        request, form=form, lines=lines, line_errors=line_errors, contract=contract, conflict=conflict
    )
    return render(request, "contracts/form.html", context)


@login_required
@permission_required("contracts.add_contract", raise_exception=True)
@require_GET
def customer_fields(request):
    """htmx: the deal and signatory pickers for the customer just chosen in the form."""
    form = ContractForm(initial={"customer": request.GET.get("customer", "")}, user=request.user)
    return render(request, "contracts/partials/_customer_fields.html", {"form": form})


# --- detail and actions -------------------------------------------------------------------------


@login_required
@permission_required("contracts.view_contract", raise_exception=True)
@require_GET
def contract_detail(request, pk):
    contract = selectors.contract_get_for_user(user=request.user, pk=pk)
    user = request.user
    can_change = user.has_perm("contracts.change_contract")
    allowed = TRANSITIONS.get(ContractStatus(contract.status), set())
    actions = [
        {"name": name, "label": label, "confirm": confirm, "danger": name in ("void", "terminate")}
        for name, (_service, target, label, confirm) in ACTIONS.items()
        if can_change and target in allowed
    ]
    return render(
        request,
        "contracts/detail.html",
        {
            "active_nav": "contracts",
            "contract": contract,
            "lines": contract.lines.all(),
            "actions": actions,
            "can_edit": can_change and contract.status in EDITABLE_STATUSES,
            "can_delete": user.has_perm("contracts.delete_contract") and contract.status == ContractStatus.DRAFT,
            "can_renew": user.has_perm("contracts.add_contract") and contract.status in services.RENEWABLE_STATUSES,
            "renewals": selectors.contract_renewals(user=user, contract=contract),
            "panels": _panels(request, contract),
        },
    )


def _panels(request, contract):
    """{placement: [panel, …]} of the registered panels that have something to show."""
    placed = {placement: [] for placement in PANEL_PLACEMENTS}
    for source in CONTRACT_PANELS.values():
        panel = source(request, contract)
        if panel:
            placement = panel.get("placement", "main")
            placed[placement if placement in placed else "main"].append(panel)
    return placed


@login_required
@permission_required("contracts.change_contract", raise_exception=True)
@require_POST
def contract_action(request, pk, action):
    if action not in ACTIONS:
        raise Http404
    contract = selectors.contract_get_for_user(user=request.user, pk=pk)
    service, target, _label, _confirm = ACTIONS[action]
    try:
        changed = service(user=request.user, contract=contract, version=request.POST.get("version") or None)
    except DomainError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, _("合同已变更为“%(status)s”。") % {"status": changed.get_status_display()})
    return redirect("contracts:detail", pk=pk)


@login_required
@permission_required("contracts.add_contract", raise_exception=True)
@require_POST
def contract_renew(request, pk):
    contract = selectors.contract_get_for_user(user=request.user, pk=pk)
    try:
        renewal = services.contract_renew(user=request.user, contract=contract)
    except DomainError as error:
        messages.error(request, _error_text(error))
        return redirect("contracts:detail", pk=pk)
    messages.success(request, _("已起草续签合同 %(number)s。") % {"number": renewal.number})
    return redirect("contracts:detail", pk=renewal.pk)


@login_required
@permission_required("contracts.delete_contract", raise_exception=True)
@require_POST
def contract_remove(request, pk):
    contract = selectors.contract_get_for_user(user=request.user, pk=pk)
    try:
        services.contract_delete(user=request.user, contract=contract, request=request)
    except DomainError as error:
        messages.error(request, _error_text(error))
        return redirect("contracts:detail", pk=pk)
    messages.success(request, _("已删除合同。"))
    return redirect("contracts:list")


# --- the customer's 360 page (registered in customers.views.DETAIL_PANELS) ----------------------


def customer_panel(request, customer):
    """The customer's contracts the viewer may see: number, title, status, total, paid."""
    user = request.user
    if not user.has_perm("contracts.view_contract"):
        return None
    return {
        "template": "contracts/partials/_customer_contracts.html",
        "customer": customer,
        "contracts": list(selectors.customer_contracts(user=user, customer=customer)[:50]),
        "can_add": user.has_perm("contracts.add_contract"),
    }
