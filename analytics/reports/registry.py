"""Every report, by key: the page ``/reports/<key>/``, its .xlsx download and the API
``/api/v1/reports/<key>/`` all look reports up here. Add a report: one module with a Report
subclass, one line below."""

from analytics.reports.sales import SALES_TREND

REPORTS = {report.key: report for report in (SALES_TREND,)}


def get_report(key):
    """The report registered under ``key``, or None."""
    return REPORTS.get(key)
