"""Every report, by key: the page ``/reports/<key>/``, its .xlsx download and the API
``/api/v1/reports/<key>/`` all look reports up here. Add a report: one module with a Report
subclass, one line below."""

from analytics.reports.churn import CHURN_ANALYSIS
from analytics.reports.deals import FUNNEL, WIN_LOSS
from analytics.reports.distribution import CUSTOMER_DISTRIBUTION
from analytics.reports.followups import FOLLOW_UP_ANALYSIS
from analytics.reports.growth import CUSTOMER_GROWTH
from analytics.reports.products import PRODUCT_RANKING
from analytics.reports.ranking import RANKING
from analytics.reports.receivables import RECEIVABLES
from analytics.reports.sales import SALES_TREND
from analytics.reports.value import CUSTOMER_VALUE

REPORTS = {
    report.key: report
    for report in (
        SALES_TREND,
        CUSTOMER_GROWTH,
        PRODUCT_RANKING,
        CUSTOMER_DISTRIBUTION,
        FOLLOW_UP_ANALYSIS,
        CUSTOMER_VALUE,
        CHURN_ANALYSIS,
        FUNNEL,
        WIN_LOSS,
        RECEIVABLES,
        RANKING,
    )
}


def get_report(key):
    """The report registered under ``key``, or None."""
    return REPORTS.get(key)
