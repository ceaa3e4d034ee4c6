"""Pool pages: 公海 (the list of the user's pools with filters, claim, and assign for pool admins
and managers), 待进入公海 (the owner's customers returning within the warning lead, with lock and
release), and the pool settings page. Reads from ``pool.selectors``, writes through
``pool.services``; a rule found here is a bug."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from crm.errors import DomainError
from customers import selectors as customer_selectors
from customers.models import CustomerLevel
from customers.presenters import Presenter
from pool import selectors, services
from pool.filters import PoolCustomerFilterSet
from pool.models import Pool, PoolSettings
from staff.models import User

PER_PAGE = 20
MAX_PAGE = 10_000


def _page(request):
    try:
        return min(max(int(request.GET.get("page", 1)), 1), MAX_PAGE)
    except (TypeError, ValueError):
        return 1


def _error(request, error):
    texts = [str(error.message)]
    for value in error.fields.values():
        texts.extend(str(message) for message in value)
    for text in dict.fromkeys(texts):
        messages.error(request, text)


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_GET
def pool_list(request):
    user = request.user
    params = request.GET.copy()
    for key in list(params):  # the form's "全部" options submit empty values
        values = [value for value in params.getlist(key) if value.strip()]
        if values:
            params.setlist(key, values)
        else:
            del params[key]
    filterset = PoolCustomerFilterSet(params, queryset=selectors.pool_customer_list(user=user), request=request)
    queryset = filterset.qs if filterset.is_valid() else selectors.pool_customer_list(user=user).none()
    if "search_rank" in queryset.query.annotations:
        queryset = queryset.order_by("-search_rank", "-id")
    else:
        queryset = queryset.order_by("-updated_at", "-id")
    page = _page(request)
    offset = (page - 1) * PER_PAGE
    rows = list(queryset[offset : offset + PER_PAGE + 1])
    presenter = Presenter(user, "customer")
    default = selectors.default_pool()
    shown = []
    for customer in rows[:PER_PAGE]:
        state = getattr(customer, "pool_state", None)  # None when it has no state row
        pool = state.pool if state is not None and state.pool_id else default
        # Through the presenter: contact details masked, fields hidden from the viewer dropped.
        data = presenter.record(
            {
                "mobile": customer.mobile,
                "phone": customer.phone,
                "email": customer.email,
                "level": customer.level.name if customer.level_id else "",
            },
            full=False,
        )
        shown.append(
            {"customer": customer, "pool": pool, "contact": data, "entered_at": state.entered_at if state else None}
        )
    pools = list(selectors.pools_for_user(user))
    assign_pools = {pool.pk for pool in pools if selectors.can_assign(user=user, pool=pool)}
    assignees = []
    if assign_pools:
        assignees = list(
            User.objects.filter(pk__in=_assignable_ids(user, pools, assign_pools)).order_by("display_name", "username")
        )
    context = {
        "active_nav": "pool",
        "rows": shown,
        "filterset": filterset,
        "pools": pools,
        "levels": CustomerLevel.objects.all(),
        "can_claim": user.has_perm(selectors.CLAIM_PERMISSION),
        "assign_pools": assign_pools,
        "assignees": assignees,
        "page": page,
        "has_next": len(rows) > PER_PAGE,
        "has_previous": page > 1,
        "q": request.GET.get("q", ""),
        "selected_pool": request.GET.get("pool", ""),
        "selected_levels": request.GET.getlist("level"),
    }
    return render(request, "pool/list.html", context)


def _assignable_ids(user, pools, assign_pools):
    ids = set()
    for pool in pools:
        if pool.pk in assign_pools:
            ids |= set(selectors.assignable_users(user=user, pool=pool).values_list("pk", flat=True)[:500])
    return ids


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_POST
def pool_claim(request, pk):
    customer = selectors.pool_customer_get(user=request.user, pk=pk)
    try:
        services.pool_customer_claim(user=request.user, customer=customer, request=request)
    except DomainError as error:
        _error(request, error)
        return redirect("pool:list")
    messages.success(request, _("已领取客户「%(name)s」") % {"name": customer.name})
    return redirect("customers:detail", pk=customer.pk)


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_POST
def pool_assign(request, pk):
    customer = selectors.pool_customer_get(user=request.user, pk=pk)
    to_user = User.objects.filter(pk=_int(request.POST.get("to_user")), is_active=True).first()
    try:
        services.pool_customer_assign(
            user=request.user,
            customer=customer,
            to_user=to_user,
            reason=request.POST.get("reason", ""),
            request=request,
        )
    except DomainError as error:
        _error(request, error)
        return redirect("pool:list")
    messages.success(request, _("已将客户「%(name)s」分配给 %(user)s") % {"name": customer.name, "user": to_user})
    return redirect("pool:list")


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_GET
def returning_soon(request):
    rows = [
        {"customer": customer, "deadline": deadline, "reason": selectors.reason_text(reason, days)}
        for customer, deadline, reason, days in selectors.returning_soon(user=request.user)
    ]
    limits = selectors.limits_for(request.user)
    context = {"active_nav": "pool", "rows": rows, "warn_days": limits.warn_days}
    return render(request, "pool/returning.html", context)


def _back(request):
    """Where a release or lock form came from (the 360 page sends ``next``), else 待进入公海."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("pool:returning")


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_POST
def customer_release(request, pk):
    customer = customer_selectors.customer_get_for_user(user=request.user, pk=pk)
    try:
        services.pool_customer_release(
            user=request.user, customer=customer, reason=request.POST.get("reason", ""), request=request
        )
    except DomainError as error:
        _error(request, error)
        return _back(request)
    messages.success(request, _("已将客户「%(name)s」退回公海") % {"name": customer.name})
    # The customer is no longer the releaser's to see: back to the list it was released from.
    return redirect("pool:returning")


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_POST
def customer_lock(request, pk):
    customer = customer_selectors.customer_get_for_user(user=request.user, pk=pk)
    try:
        if request.POST.get("unlock"):
            services.pool_customer_unlock(user=request.user, customer=customer, request=request)
            messages.success(request, _("已解锁客户「%(name)s」") % {"name": customer.name})
        else:
            services.pool_customer_lock(user=request.user, customer=customer, request=request)
            messages.success(request, _("已锁定客户「%(name)s」") % {"name": customer.name})
    except DomainError as error:
        _error(request, error)
    return _back(request)


def customer_panel(request, customer):
    """The 360 page's 公海 card (registered in customers.views.DETAIL_PANELS): whether the customer
    is locked, with lock / unlock and release (with a reason) for whoever the services allow."""
    if customer.owner_id is None:
        return None
    return {
        "template": "pool/partials/_customer_pool.html",
        "customer": customer,
        "state": selectors.customer_pool_state(customer),
    }


# --- settings -----------------------------------------------------------------------------------


class LimitsForm(forms.ModelForm):
    class Meta:
        model = PoolSettings
        fields = ["max_owned", "max_locked", "count_dealt", "claim_daily_limit", "reclaim_cooldown_days", "warn_days"]


class PoolRulesForm(forms.ModelForm):
    """A pool's options plus one "days without a follow-up" field per level (empty: the pool's)."""

    class Meta:
        model = Pool
        fields = ["recall_enabled", "no_follow_up_days", "no_deal_days", "exempt_dealt"]

    def __init__(self, *args, levels=(), rules=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.levels = list(levels)
        for level in self.levels:
            self.fields[f"level_{level.pk}"] = forms.IntegerField(
                label=gettext_lazy("%(level)s 未跟进天数") % {"level": level},
                min_value=0,
                max_value=3650,
                required=False,
                initial=(rules or {}).get(level.pk),
            )

    def level_fields(self):
        return [self[f"level_{level.pk}"] for level in self.levels]

    def option_fields(self):
        return [self[name] for name in self.Meta.fields]

    def level_days(self):
        return {level.pk: self.cleaned_data.get(f"level_{level.pk}") for level in self.levels}


def _settings_forms(request, data=None, changed_pool=None):
    levels = list(CustomerLevel.objects.all())
    forms_ = []
    for pool in Pool.objects.prefetch_related("level_rules", "departments", "admins"):
        rules = {rule.level_id: rule.no_follow_up_days for rule in pool.level_rules.all()}
        bound = data if changed_pool is not None and changed_pool == pool.pk else None
        forms_.append((pool, PoolRulesForm(bound, instance=pool, levels=levels, rules=rules, prefix=f"pool{pool.pk}")))
    return forms_


@login_required
def pool_settings(request):
    """公海设置: company limits and each pool's recall rules (departments and admins: admin site)."""
    if not request.user.has_perm("pool.change_pool"):
        raise PermissionDenied
    company = PoolSettings.current()
    limits_form = LimitsForm(instance=company, prefix="limits")
    changed_pool = None
    if request.method == "POST":
        if "limits" in request.POST:
            limits_form = LimitsForm(request.POST, instance=company, prefix="limits")
            if limits_form.is_valid():
                services.pool_limits_update(user=request.user, data=limits_form.cleaned_data, request=request)
                messages.success(request, _("已保存公海设置"))
                return redirect("pool:settings")
        else:
            changed_pool = _int(request.POST.get("pool"))
            pool = Pool.objects.filter(pk=changed_pool).first()
            if pool is None:
                raise PermissionDenied
            pool_forms = _settings_forms(request, request.POST, changed_pool)
            form = next(form for candidate, form in pool_forms if candidate.pk == pool.pk)
            if form.is_valid():
                options = {name: form.cleaned_data[name] for name in PoolRulesForm.Meta.fields}
                services.pool_rules_update(
                    user=request.user, pool=pool, data=options, level_days=form.level_days(), request=request
                )
                messages.success(request, _("已保存「%(pool)s」的回收规则") % {"pool": pool.name})
                return redirect("pool:settings")
            return render(
                request,
                "pool/settings.html",
                {"active_nav": "pool", "limits_form": limits_form, "pool_forms": pool_forms},
                status=400,
            )
    context = {"active_nav": "pool", "limits_form": limits_form, "pool_forms": _settings_forms(request)}
    return render(request, "pool/settings.html", context, status=400 if limits_form.errors else 200)
