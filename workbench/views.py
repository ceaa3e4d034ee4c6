"""工作台: the page after login — my figures, and a manager's team figures and funnel."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from workbench import selectors


@login_required
@require_GET
def workbench(request):
    figures = selectors.workbench_figures(user=request.user)
    funnel = (figures["team"] or {}).get("funnel")
    chart = [{"name": row["name"], "value": row["count"]} for row in funnel["stages"]] if funnel else []
    context = {"active_nav": "workbench", "figures": figures, "mine": figures["mine"], "team": figures["team"]}
    context.update(funnel=funnel, chart=chart)
    return render(request, "workbench/workbench.html", context)
