"""Server-rendered payment pages: the payments list with confirm / reject / void buttons (htmx swaps
the row), the payment entry form, the receivables page (ECharts ageing chart and the same figures
in tables), and the contract page's payments panel (``contract_payments_panel``).

Pages only translate between HTTP and the domain: reads come from
``contracts.selectors.payments``, writes go through ``contracts.services.payments``."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from contracts.api.payments import PaymentFilterSet, ReceivablesFilterSet
from contracts.models import SALES_STATUSES, Contract, ContractStatus, PaymentMethod, PaymentPlan, PaymentStatus
from contracts.selectors import payments as selectors
from contracts.services import payments as services
from crm.errors import DomainError
from customers import selectors as customer_selectors
from staff.models import Department
from staff.selectors import user_list

LIST_PAGE_SIZE = 20
PANEL_ROWS = 50  # rows per table on the contract page; the payments list has the rest
CONFIRM_PERMISSION = services.CONFIRM_PERMISSION
AGEING_LABELS = {
    "0-30": gettext_lazy("0–30 天"),
    "31-60": gettext_lazy("31–60 天"),
    "61-90": gettext_lazy("61–90 天"),
    "90+": gettext_lazy("90 天以上"),
}


def _is_htmx(request):
    return request.headers.get("HX-Request") == "true"


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
        texts.extend(str(message) for message in (value if isinstance(value, list) else [value]))
    return " ".join(dict.fromkeys(texts))


def _safe_next(request, fallback):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


# --- payments list and actions ------------------------------------------------------------------


@login_required
@permission_required("contracts.view_payment", raise_exception=True)
@require_GET
def payment_list(request):
    names = ("status", "method", "contract", "customer", "date_after", "date_before", "confirmed", "owner")
    params = _filter_params(request.GET, names)
    base = selectors.payment_list(user=request.user)
    filterset = PaymentFilterSet(data=params, queryset=base, request=request)
    rows = (filterset.qs if filterset.is_valid() else base).order_by("-date", "-id")
    count, capped = customer_selectors.capped_count(rows)
    try:
        number = max(1, min(int(request.GET.get("page", 1)), 10_000))
    except ValueError:
        number = 1
    return render(
        request,
        "contracts/payments/list.html",
        {
            "active_nav": "contracts",
            "rows": list(rows[(number - 1) * LIST_PAGE_SIZE : number * LIST_PAGE_SIZE]),
            "count": count,
            "capped": capped,
            "page": number,
            "has_next": number * LIST_PAGE_SIZE < count,
            "filter_query": params.urlencode(),
            "selected": params,
            "statuses": PaymentStatus.choices,
            "methods": PaymentMethod.choices,
            "filter_errors": filterset.errors,
            "can_confirm": request.user.has_perm(CONFIRM_PERMISSION),
        },
    )


def _payment_action(request, pk, action):
    payment = selectors.payment_get_for_user(user=request.user, pk=pk)
    error = None
    try:
        if action == "confirm":
            services.payment_confirm(user=request.user, payment=payment)
            done = _("回款已确认。")
        elif action == "reject":
            services.payment_reject(user=request.user, payment=payment, remark=request.POST.get("remark", "")[:100])
            done = _("已拒绝该回款。")
        else:
            services.payment_void(user=request.user, payment=payment)
            done = _("回款已作废。")
    except (DomainError, ValidationError) as exc:
        error = _error_text(exc)
    if _is_htmx(request):
        row = selectors.payment_get_for_user(user=request.user, pk=pk)
        return render(
            request,
            "contracts/payments/_row.html",
            {
                "payment": row,
                "can_confirm": request.user.has_perm(CONFIRM_PERMISSION),
                "error": error,
                "done": None if error else done,
                "compact": request.POST.get("compact") == "1",
                "next": _safe_next(request, reverse("payments:list")),
            },
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect(_safe_next(request, "payments:list"))


@login_required
@permission_required(CONFIRM_PERMISSION, raise_exception=True)
@require_POST
def payment_confirm(request, pk):
    return _payment_action(request, pk, "confirm")


@login_required
@permission_required(CONFIRM_PERMISSION, raise_exception=True)
@require_POST
def payment_reject(request, pk):
    return _payment_action(request, pk, "reject")


@login_required
@permission_required(CONFIRM_PERMISSION, raise_exception=True)
@require_POST
def payment_void(request, pk):
    return _payment_action(request, pk, "void")


# --- entry form ---------------------------------------------------------------------------------


class PaymentForm(forms.Form):
    """Types only; the rules (approved contract, outstanding amount, instalment) are the service's."""

    contract = forms.ModelChoiceField(queryset=Contract.objects.none(), label=gettext_lazy("合同"))
    plan = forms.ModelChoiceField(
        queryset=PaymentPlan.objects.none(), required=False, label=gettext_lazy("回款计划（期次）")
    )
    amount = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), label=gettext_lazy("回款金额（元）")
    )
    date = forms.DateField(
        label=gettext_lazy("回款日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    method = forms.ChoiceField(choices=PaymentMethod.choices, label=gettext_lazy("回款方式"))
    remark = forms.CharField(max_length=200, required=False, label=gettext_lazy("备注"))

    def __init__(self, *args, user, contract=None, **kwargs):
        super().__init__(*args, **kwargs)
        contracts = selectors.receivable_contracts(user=user).select_related("customer")
        if contract is not None:
            contracts = contracts.filter(pk=contract.pk)
            self.fields["plan"].queryset = selectors.contract_plans(contract=contract)
        else:
            # The most recent open contracts (a contract page's link preselects any other).
            contracts = contracts.filter(paid_amount__lt=F("total")).order_by("-updated_at")[:200]
            self.fields["plan"].widget = forms.HiddenInput()
        self.fields["contract"].queryset = Contract.objects.filter(pk__in=contracts.values("pk")).select_related(
            "customer"
        )
        self.fields["contract"].label_from_instance = lambda c: f"{c.number} {c.title}（{c.customer.name}）"
        self.fields["plan"].label_from_instance = lambda p: (
            _("第 %(number)s 期 %(due)s ¥%(amount)s")
            % {
                "number": p.number,
                "due": p.due_date.isoformat(),
                "amount": f"{p.amount:,.2f}",
            }
        )
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)


@login_required
@permission_required("contracts.add_payment", raise_exception=True)
def payment_create(request):
    """登记回款: from the contract page (``?contract=<id>``: its instalments to pick from) or the
    payments list (a recent open contract)."""
    contract = None
    raw = request.GET.get("contract") or request.POST.get("contract_ref") or ""
    if raw.isdigit():
        contract = (
            Contract.objects.visible_to(request.user)
            .filter(pk=raw, status__in=SALES_STATUSES)
            .select_related("customer")
            .first()
        )
        if contract is None:
            raise Http404
    figures = selectors.contract_payment_figures(contract=contract) if contract is not None else None
    initial = {"date": timezone.localdate(), "method": PaymentMethod.WIRE}
    if contract is not None:  # what is still open: outstanding less the payments awaiting confirmation
        initial.update(contract=contract.pk, amount=max(figures["outstanding"] - figures["awaiting"], Decimal(0)))
    form = PaymentForm(initial=initial, user=request.user, contract=contract)
    error = None
    if request.method == "POST":
        form = PaymentForm(data=request.POST, user=request.user, contract=contract)
        if form.is_valid():
            data = form.cleaned_data
            try:
                payment = services.payment_create(
                    user=request.user,
                    contract=data["contract"],
                    plan=data.get("plan"),
                    amount=data["amount"],
                    date=data["date"],
                    method=data["method"],
                    remark=data.get("remark", ""),
                )
            except DomainError as exc:
                error = _error_text(exc)
                for name, texts in exc.fields.items():
                    if name in form.fields:
                        for text in texts:
                            form.add_error(name, str(text))
            else:
                messages.success(request, _("已登记回款，待确认。"))
                listed = f"{reverse('payments:list')}?contract={payment.contract_id}"
                return redirect(_safe_next(request, listed))
    return render(
        request,
        "contracts/payments/form.html",
        {"active_nav": "contracts", "form": form, "contract": contract, "figures": figures, "error": error},
    )


# --- payment plan -------------------------------------------------------------------------------

PLAN_EMPTY_ROWS = 3  # blank rows offered below the current instalments
PLAN_MAX_ROWS = services.MAX_INSTALMENTS + PLAN_EMPTY_ROWS


def _plan_rows_from_post(post):
    """The submitted rows as the service's instalment dicts (blank rows skipped) and as they were
    typed (to show them again after an error)."""
    try:
        count = min(int(post.get("rows", 0)), PLAN_MAX_ROWS)
    except ValueError:
        count = 0
    typed, instalments = [], []
    for index in range(count):
        row = {
            name: post.get(f"{name}-{index}", "").strip()
            for name in ("number", "due_date", "amount", "reminder_days", "remark")
        }
        typed.append(row)
        if not (row["due_date"] or row["amount"]):
            continue
        instalments.append({key: (value or None) for key, value in row.items()} | {"remark": row["remark"]})
    return typed, instalments


@login_required
@permission_required("contracts.change_paymentplan", raise_exception=True)
def payment_plan_edit(request, contract_pk):
    """回款计划: the contract's instalments as editable rows plus blank ones; saved as a whole
    (``payment_plan_set``: the amounts must add up to the contract total)."""
    contract = (
        Contract.objects.visible_to(request.user).exclude(status=ContractStatus.VOID).filter(pk=contract_pk).first()
    )
    if contract is None:
        raise Http404
    error, error_fields = None, {}
    if request.method == "POST":
        rows, instalments = _plan_rows_from_post(request.POST)
        try:
            services.payment_plan_set(user=request.user, contract=contract, instalments=instalments)
        except DomainError as exc:
            error, error_fields = _error_text(exc), exc.fields
        else:
            messages.success(request, _("回款计划已保存。"))
            return redirect(_safe_next(request, f"{reverse('payments:plan', args=[contract.pk])}"))
    else:
        rows = [
            {
                "number": plan.number,
                "due_date": plan.due_date.isoformat(),
                "amount": f"{plan.amount:.2f}",
                "reminder_days": plan.reminder_days,
                "remark": plan.remark,
                "paid_amount": plan.paid_amount,
                "status": plan.get_status_display(),
            }
            for plan in selectors.contract_plans(contract=contract)
        ]
        rows += [{"reminder_days": 3} for _ in range(PLAN_EMPTY_ROWS)]
    return render(
        request,
        "contracts/payments/plan_form.html",
        {
            "active_nav": "contracts",
            "contract": contract,
            "rows": rows,
            "error": error,
            "error_fields": error_fields,
        },
    )


# --- receivables page ---------------------------------------------------------------------------


@login_required
@permission_required("contracts.view_contract", raise_exception=True)
@require_GET
def receivables(request):
    params = _filter_params(request.GET, ("group", "owner", "department"))
    group = params.get("group") if params.get("group") in ("customer", "owner") else "customer"
    base = selectors.receivable_contracts(user=request.user)
    filterset = ReceivablesFilterSet(data=params, queryset=base, request=request)
    contracts = filterset.qs if filterset.is_valid() else base
    report = selectors.receivables_report(contracts=contracts, group=group, today=timezone.localdate())
    ageing = [{**row, "label": str(AGEING_LABELS[row["bucket"]])} for row in report["ageing"]]
    chart = {
        "labels": [row["label"] for row in ageing],
        "amounts": [str(row["amount"]) for row in ageing],
        "counts": [row["count"] for row in ageing],
    }
    return render(
        request,
        "contracts/payments/receivables.html",
        {
            "active_nav": "reports",
            "group": group,
            "summary": report["summary"],
            "rows": report["rows"],
            "ageing": ageing,
            "chart": chart,
            "selected": params,
            "filter_errors": filterset.errors,
            "owners": user_list().filter(is_active=True),
            "departments": Department.objects.all(),
        },
    )


# --- the contract page's panel (registered in the contracts app's CONTRACT_PANELS at merge) --------


def contract_payments_panel(request, contract):
    """Paid / outstanding / progress %, invoiced vs paid, the plan's instalments, the payments
    (with confirm buttons for those allowed) and the invoices of ``contract`` — which the caller
    fetched through the viewer's scope. None for someone without ``contracts.view_payment``."""
    user = request.user
    if not user.has_perm("contracts.view_payment"):
        return None
    return {
        "template": "contracts/payments/_panel.html",
        "contract": contract,
        "figures": selectors.contract_payment_figures(contract=contract),
        "plans": list(selectors.contract_plans(contract=contract)[:PANEL_ROWS]),
        "payments": list(selectors.contract_payments(contract=contract).order_by("-date", "-id")[:PANEL_ROWS]),
        "invoices": list(selectors.contract_invoices(contract=contract).order_by("-created_at", "-id")[:PANEL_ROWS]),
        "can_add": user.has_perm("contracts.add_payment") and contract.status in SALES_STATUSES,
        "can_confirm": user.has_perm(CONFIRM_PERMISSION),
        "can_plan": user.has_perm("contracts.change_paymentplan") and contract.status != ContractStatus.VOID,
    }
