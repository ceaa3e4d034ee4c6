"""Pages of the analytics app: the profile card on the customer's 360 page and the settings page
(thresholds, quantile mode, CLV, churn model, auto-tags; recompute now, with a progress bar)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics import selectors, services
from analytics.forms import AnalyticsSettingsForm
from analytics.services import PROGRESS_KEY
from crm.errors import DomainError

# --- the customer's 360 page (registered in customers.views.DETAIL_PANELS) ------------------------


def customer_panel(request, customer):
    """The profile card: scores with the figures behind them (computed on the spot for a customer
    no recompute has reached yet). The customer was fetched through the viewer's scope by the 360
    page."""
    profile = services.profile_ensure(customer=customer)
    return {
        "template": "analytics/partials/_customer_profile.html",
        "customer": customer,
        "profile": profile,
        "reasons": selectors.profile_reasons(profile=profile),
        "auc": selectors.churn_model_auc(profile=profile),
    }


# --- settings ---------------------------------------------------------------------------------------


def _progress():
    from django.core.cache import cache

    state = cache.get(PROGRESS_KEY) or {}
    total = state.get("total") or 0
    if state.get("state") == "done":
        state["percent"] = 100
    else:
        state["percent"] = int(state.get("done", 0) * 100 / total) if total else 0
    return state


@login_required
@permission_required("analytics.change_analyticssettings", raise_exception=True)
@require_http_methods(["GET", "POST"])
def settings_page(request):
    settings = selectors.analytics_settings()
    form = AnalyticsSettingsForm(request.POST or None, instance=settings)
    if request.method == "POST" and form.is_valid():
        try:
            services.analytics_settings_update(
                user=request.user, data={**form.cleaned_data, "tag_rules": form.cleaned_data["tag_rules"]}
            )
        except DomainError as error:
            for field, errors in error.fields.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, _("设置已保存，下次计算时生效。"))
            return redirect("analytics:settings")
    return render(
        request,
        "analytics/settings.html",
        {"active_nav": "settings", "form": form, "settings": settings, "progress": _progress()},
    )


@login_required
@permission_required("analytics.change_analyticssettings", raise_exception=True)
@require_POST
def recompute_start(request):
    try:
        services.profiles_recompute_all_start(user=request.user)
    except DomainError as error:
        messages.warning(request, error.message)
    if request.headers.get("HX-Request") == "true":
        return render(request, "analytics/partials/_progress.html", {"progress": _progress()})
    return redirect("analytics:settings")


@login_required
@permission_required("analytics.change_analyticssettings", raise_exception=True)
@require_GET
def recompute_progress(request):
    return render(request, "analytics/partials/_progress.html", {"progress": _progress()})
