"""Server-rendered deal pages: the kanban board (drag to move, totals, load more per column), the
list, the form, the detail page (stage history, move), and the funnel analysis.

Pages only translate between HTTP and the domain: reads come from ``opportunities.selectors``,
writes go through ``opportunities.services``. A rule found here is a bug."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.defaultfilters import floatformat
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.errors import ConflictError, DomainError
from customers import selectors as customer_selectors
from customers.models import Customer
from opportunities import selectors, services
from opportunities.filters import OpportunityFilterSet, ReportFilterSet
from opportunities.forms import OpportunityForm
from opportunities.models import LostReason, Stage, StageGroup, StageKind
from staff.models import Department
from staff.selectors import user_list

LIST_PAGE_SIZE = 20
# The board's filters (kept in every column's "load more" link and in each move's totals).
BOARD_FILTERS = ("owner", "department", "expected_close_after", "expected_close_before", "q", "group")


def _money(value):
    return floatformat(value, "2g")


def _filter_params(querydict, names):
    params = QueryDict(mutable=True)
    for name in names:
        for value in querydict.getlist(name):
            if value != "":
                params.appendlist(name, value)
    return params


def _filtered_deals(request, data):
    """The user's deals through the shared FilterSet; invalid filters are ignored (shown as such)."""
    filterset = OpportunityFilterSet(data=data, queryset=selectors.opportunity_list(user=request.user), request=request)
    if filterset.is_valid():
        return filterset.qs.order_by(), filterset
    return selectors.opportunity_list(user=request.user).order_by(), filterset


def _group(request, data):
    raw = data.get("group")
    if raw and str(raw).isdigit():
        group = StageGroup.objects.filter(pk=raw).first()
        if group is not None:
            return group
    return selectors.stage_group_for(request.user.department)


def _filter_choices():
    return {
        "owners": user_list().filter(is_active=True),
        "departments": Department.objects.all(),
        "groups": StageGroup.objects.all(),
    }


def _error_text(error):
    texts = [str(error.message)]
    for value in getattr(error, "fields", {}).values():
        texts.extend(str(message) for message in (value if isinstance(value, list) else [value]))
    return " ".join(dict.fromkeys(texts))


# --- board --------------------------------------------------------------------------------------


@login_required
@permission_required("opportunities.view_opportunity", raise_exception=True)
@require_GET
def board(request):
    params = _filter_params(request.GET, BOARD_FILTERS)
    deals, filterset = _filtered_deals(request, params)
    group = _group(request, params)
    columns = selectors.board(deals=deals, group=group)
    return render(
        request,
        "opportunities/board.html",
        {
            "active_nav": "opportunities",
            "group": group,
            "columns": columns,
            "filter_query": params.urlencode(),
            "selected": params,
            "filter_errors": filterset.errors,
            "lost_reasons": LostReason.objects.filter(is_active=True),
            "can_move": request.user.has_perm("opportunities.change_opportunity"),
            **_filter_choices(),
        },
    )


@login_required
@permission_required("opportunities.view_opportunity", raise_exception=True)
@require_GET
def board_column(request):
    """The next cards of one column (htmx: the column's "load more" sentinel swaps itself)."""
    params = _filter_params(request.GET, BOARD_FILTERS)
    raw = request.GET.get("stage", "")
    stage = Stage.objects.filter(pk=raw).first() if raw.isdigit() else None
    if stage is None:
        raise Http404
    deals, _filterset = _filtered_deals(request, params)
    page = selectors.board_column(deals=deals, stage=stage, after=request.GET.get("after"))
    return render(
        request,
        "opportunities/partials/_column_page.html",
        {
            "stage": stage,
            "cards": page["cards"],
            "next": page["next"],
            "filter_query": params.urlencode(),
            "can_move": request.user.has_perm("opportunities.change_opportunity"),
        },
    )


@login_required
@permission_required("opportunities.change_opportunity", raise_exception=True)
@require_POST
def move(request, pk):
    """Move a deal (the board's drag, or the detail page's form). The board gets JSON: the new
    version and both columns' totals under its filters, or the error (409 on a stale version)
    with the message to show; the form gets a redirect with a message."""
    opportunity = selectors.opportunity_get_for_user(user=request.user, pk=pk)
    wants_json = "application/json" in request.headers.get("Accept", "")
    raw_stage, raw_reason = request.POST.get("stage", ""), request.POST.get("lost_reason", "")
    stage = Stage.objects.filter(pk=raw_stage).first() if raw_stage.isdigit() else None
    reason = LostReason.objects.filter(pk=raw_reason).first() if raw_reason.isdigit() else None
    from_stage_id = opportunity.stage_id
    try:
        if stage is None:
            raise DomainError(_("阶段不存在。"))
        moved, won_actions = services.opportunity_move(
            user=request.user,
            opportunity=opportunity,
            stage=stage,
            version=request.POST.get("version"),
            lost_reason=reason,
            lost_note=request.POST.get("lost_note", ""),
        )
    except (DomainError, ValidationError) as error:
        if isinstance(error, ValidationError):
            error = DomainError(" ".join(error.messages))
        message = _error_text(error)
        if isinstance(error, ConflictError):
            message = _("该商机已被他人修改，卡片已放回原处，请刷新后重试。")
        if wants_json:
            return JsonResponse({"ok": False, "code": error.code, "message": message}, status=error.status)
        messages.error(request, message)
        return redirect("opportunities:detail", pk=pk)
    if wants_json:
        filters = QueryDict(request.POST.get("filters", ""))
        deals, _filterset = _filtered_deals(request, _filter_params(filters, BOARD_FILTERS))
        totals = selectors.column_totals(deals, [from_stage_id, moved.stage_id])
        return JsonResponse(
            {
                "ok": True,
                "version": moved.version,
                "probability": moved.probability,
                "won_actions": won_actions,
                "columns": {
                    str(stage_id): {
                        "count": figures["count"],
                        "amount": _money(figures["amount"]),
                        "weighted": _money(figures["weighted"]),
                    }
                    for stage_id, figures in totals.items()
                },
            }
        )
    messages.success(request, _("已移到「%(stage)s」。") % {"stage": moved.stage.name})
    return redirect("opportunities:detail", pk=pk)


# --- list, form, detail -------------------------------------------------------------------------


@login_required
@permission_required("opportunities.view_opportunity", raise_exception=True)
@require_GET
def opportunity_list(request):
    names = ("q", "stage", "kind", "owner", "department", "expected_close_after", "expected_close_before",
             "amount_min", "amount_max", "customer")  # fmt: skip
    params = _filter_params(request.GET, names)
    filterset = OpportunityFilterSet(
        data=params, queryset=selectors.opportunity_list(user=request.user), request=request
    )
    deals = filterset.qs if filterset.is_valid() else selectors.opportunity_list(user=request.user)
    deals = deals.order_by("-updated_at", "-id")
    count, capped = customer_selectors.capped_count(deals)
    try:
        number = max(1, min(int(request.GET.get("page", 1)), 10_000))
    except ValueError:
        number = 1
    rows = list(deals[(number - 1) * LIST_PAGE_SIZE : number * LIST_PAGE_SIZE])
    return render(
        request,
        "opportunities/list.html",
        {
            "active_nav": "opportunities",
            "rows": rows,
            "count": count,
            "capped": capped,
            "page": number,
            "has_next": number * LIST_PAGE_SIZE < count,
            "filter_query": params.urlencode(),
            "selected": params,
            "stages": Stage.objects.select_related("group").order_by("group", "order"),
            "kinds": StageKind.choices,
            "filter_errors": filterset.errors,
            **_filter_choices(),
        },
    )


def _form_data(post):
    names = ("customer", "title", "amount", "stage", "probability", "expected_close_date", "source", "remark")
    return {name: post.get(name, "") for name in names if name in post}


@login_required
@permission_required("opportunities.add_opportunity", raise_exception=True)
def opportunity_create(request):
    initial = {}
    raw = request.GET.get("customer", "")
    if raw.isdigit() and Customer.objects.visible_to(request.user).filter(pk=raw).exists():
        initial["customer"] = int(raw)
    group = selectors.stage_group_for(request.user.department)
    first = selectors.stages_of(group, kinds=[StageKind.OPEN]).first()
    if first is not None:
        initial["stage"] = first.pk
    form = OpportunityForm(initial=initial, user=request.user)
    if request.method == "POST":
        data = {key: value for key, value in _form_data(request.POST).items() if value != "" or key == "remark"}
        try:
            opportunity = services.opportunity_create(user=request.user, data=data)
        except services.FormValidationError as error:
            form = error.form
        else:
            messages.success(request, _("已保存。"))
            return redirect("opportunities:detail", pk=opportunity.pk)
    return render(request, "opportunities/form.html", {"active_nav": "opportunities", "form": form})


@login_required
@permission_required("opportunities.change_opportunity", raise_exception=True)
def opportunity_edit(request, pk):
    opportunity = selectors.opportunity_get_for_user(user=request.user, pk=pk)
    form = OpportunityForm(instance=opportunity, user=request.user, creating=False)
    conflict = None
    if request.method == "POST":
        data = _form_data(request.POST)
        data = {key: (None if value == "" and key in ("probability", "expected_close_date", "source") else value)
                for key, value in data.items()}  # fmt: skip
        try:
            services.opportunity_update(
                user=request.user, opportunity=opportunity, version=request.POST.get("version"), data=data
            )
        except services.FormValidationError as error:
            form = error.form
        except ConflictError as error:
            conflict = error.message
        except (DomainError, ValidationError) as error:
            messages.error(request, _error_text(error) if isinstance(error, DomainError) else " ".join(error.messages))
        else:
            messages.success(request, _("已保存。"))
            return redirect("opportunities:detail", pk=pk)
    return render(
        request,
        "opportunities/form.html",
        {"active_nav": "opportunities", "form": form, "opportunity": opportunity, "conflict": conflict},
    )


@login_required
@permission_required("opportunities.view_opportunity", raise_exception=True)
@require_GET
def opportunity_detail(request, pk):
    opportunity = selectors.opportunity_get_for_user(user=request.user, pk=pk)
    editable = selectors.opportunity_editable(user=request.user, opportunity=opportunity)
    return render(
        request,
        "opportunities/detail.html",
        {
            "active_nav": "opportunities",
            "opportunity": opportunity,
            "history": selectors.stage_history(opportunity=opportunity),
            "stages": selectors.stages_of(opportunity.stage.group),
            "lost_reasons": LostReason.objects.filter(is_active=True),
            "can_edit": editable and request.user.has_perm("opportunities.change_opportunity"),
            "can_delete": editable and request.user.has_perm("opportunities.delete_opportunity"),
        },
    )


@login_required
@permission_required("opportunities.delete_opportunity", raise_exception=True)
@require_POST
def opportunity_remove(request, pk):
    opportunity = selectors.opportunity_get_for_user(user=request.user, pk=pk)
    try:
        services.opportunity_delete(user=request.user, opportunity=opportunity, request=request)
    except DomainError as error:
        messages.error(request, _error_text(error))
        return redirect("opportunities:detail", pk=pk)
    messages.success(request, _("已删除商机。"))
    return redirect("opportunities:list")


# --- funnel analysis ----------------------------------------------------------------------------


@login_required
@permission_required("opportunities.view_opportunity", raise_exception=True)
@require_GET
def funnel(request):
    names = ("period_after", "period_before", "owner", "department", "group")
    params = _filter_params(request.GET, names)
    base = selectors.opportunity_list(user=request.user).order_by()
    funnel_filter = ReportFilterSet(data=params, queryset=base, request=request, period_field="created_at")
    forecast_filter = ReportFilterSet(data=params, queryset=base, request=request, period_field="expected_close_date")
    valid = funnel_filter.is_valid() and forecast_filter.is_valid()
    group = _group(request, params)
    result = selectors.funnel(deals=funnel_filter.qs if valid else base, group=group)
    forecast = selectors.forecast(deals=forecast_filter.qs if valid else base)
    chart = [{"name": row["stage"].name, "value": row["count"]} for row in result["stages"]]
    return render(
        request,
        "opportunities/funnel.html",
        {
            "active_nav": "reports",
            "group": group,
            "funnel": result,
            "forecast": forecast,
            "chart": chart,
            "selected": params,
            "filter_errors": funnel_filter.errors,
            **_filter_choices(),
        },
    )


# --- the customer's 360 page (registered in customers.views.DETAIL_PANELS) ----------------------


def customer_panel(request, customer):
    """The customer's open deals the viewer may see, with a link to add one."""
    user = request.user
    if not user.has_perm("opportunities.view_opportunity"):
        return None
    deals = list(selectors.customer_open_deals(user=user, customer=customer)[:50])
    return {
        "template": "opportunities/partials/_customer_deals.html",
        "customer": customer,
        "deals": deals,
        "can_add": user.has_perm("opportunities.add_opportunity"),
    }
