"""Report pages: the index (报表中心), one page per report — filters, headline figures, the ECharts
chart and the same figures in a table — and the table's .xlsx download."""

import io

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analytics.reports.base import PERCENT, TEXT, ReportParams, display_value, money
from analytics.reports.periods import PERIOD_CHOICES
from analytics.reports.registry import REPORTS, get_report
from crm.xlsx import XlsxWriter
from imports.workbooks import neutralise
from staff.models import Department
from staff.selectors import user_list

# Reports that kept their own pages in the app that owns their figures (url name, title,
# permission). None now: the funnel and receivables are registered reports too.
OTHER_REPORTS = []


def _report_for(request, key):
    report = get_report(key)
    if report is None:
        raise Http404
    if not report.allowed(request.user):
        raise PermissionDenied
    return report


def _params(request, report):
    """The filters from the query string; when they are invalid, the errors and the defaults."""
    params = ReportParams(request.GET, report=report)
    if params.is_valid():
        return params, {}
    errors = params.error_dict()
    defaults = ReportParams({}, report=report)
    defaults.is_valid()
    return defaults, errors


def _display_table(table, table_id):
    return {
        "id": table_id,
        "title": table.title,
        "columns": table.columns,
        # A row may link some of its cells: ``row["_links"] = {column key: url}``.
        "rows": [
            [
                (column, display_value(row.get(column.key), column.kind), row.get("_links", {}).get(column.key))
                for column in table.columns
            ]
            for row in table.rows
        ],
    }


@login_required
@require_GET
def report_index(request):
    user = request.user
    reports = [report for report in REPORTS.values() if report.allowed(user)]
    others = [(url, title) for url, title, permission in OTHER_REPORTS if user.has_perm(permission)]
    context = {"active_nav": "reports", "reports": reports, "others": others}
    return render(request, "analytics/reports/index.html", context)


@login_required
@require_GET
def report_page(request, key):
    report = _report_for(request, key)
    params, errors = _params(request, report)
    result = report.run(user=request.user, params=params)
    status = 400 if errors else 200
    return render(
        request,
        "analytics/reports/report.html",
        {
            "active_nav": "reports",
            "report": report,
            "params": params,
            "period": params.period,
            "period_choices": PERIOD_CHOICES,
            "selected_owners": [str(user.pk) for user in params.owners],
            "errors": errors,
            "summary": [(figure, display_value(figure.value, figure.kind)) for figure in result.summary],
            "extra_fields": [params[name] for name in report.extra_fields()],
            "table": _display_table(result.table, "report-table"),
            "extra_tables": [
                _display_table(table, f"report-extra-{index}") for index, table in enumerate(result.extra_tables, 1)
            ],
            "chart": result.chart,
            "owners": user_list().filter(is_active=True),
            "departments": Department.objects.order_by("path", "id"),
            "query": request.GET.urlencode(),
        },
        status=status,
    )


def xlsx_cell(value, kind):
    """Money as a number to the fen, rates as percentages (the header says %), the rest as is."""
    if value is None:
        return None
    if kind == PERCENT:
        return money(value * 100)
    if kind == TEXT:
        return neutralise(str(value))  # names typed by users: never a formula
    return value


@login_required
@require_GET
def report_xlsx(request, key):
    """The report's table as .xlsx, with the same filters as the page."""
    report = _report_for(request, key)
    params, errors = _params(request, report)
    if errors:
        return report_page(request, key)
    result = report.run(user=request.user, params=params)
    columns = result.table.columns
    headers = [f"{column.label}（%）" if column.kind == PERCENT else str(column.label) for column in columns]
    buffer = io.BytesIO()
    with XlsxWriter(buffer, sheet_name=str(report.title), headers=headers) as sheet:
        for row in result.table.rows:
            sheet.write_row([xlsx_cell(row.get(column.key), column.kind) for column in columns])
    buffer.seek(0)
    name = str(report.filename or report.title)
    if params.period:
        name = f"{name}_{params.period.start:%Y%m%d}-{params.period.end:%Y%m%d}"
    return FileResponse(buffer, as_attachment=True, filename=f"{name}.xlsx")
