from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def workbench(request):
    """工作台: the page after login. Each domain app adds its panel as it lands."""
    return render(request, "crm/workbench.html", {"active_nav": "workbench"})
