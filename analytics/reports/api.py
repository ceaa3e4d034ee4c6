"""``GET /api/v1/reports/<key>/``: any registered report as JSON — the period, the summary
figures, the table (columns with their kind, rows; money and rates as exact strings), any extra
tables, and the ECharts option the page draws. The report reads through the caller's scope."""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.reports.base import parse_params, result_json
from analytics.reports.periods import PERIOD_CHOICES
from analytics.reports.registry import REPORTS, get_report


class ReportView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        operation_id="reports_retrieve",
        parameters=[
            OpenApiParameter("key", str, OpenApiParameter.PATH, enum=sorted(REPORTS), description=_("报表")),
            OpenApiParameter("period", str, enum=[key for key, _label in PERIOD_CHOICES], description=_("统计周期")),
            OpenApiParameter("start", OpenApiTypes.DATE, description=_("开始日期 YYYY-MM-DD")),
            OpenApiParameter("end", OpenApiTypes.DATE, description=_("结束日期 YYYY-MM-DD")),
            OpenApiParameter("department", int, description=_("部门（含下级）")),
            OpenApiParameter("owner", int, many=True, description=_("负责人")),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, key):
        """A report's figures over the caller's data scope (see the report's page for what each
        one counts). Bad filters are a 400 naming the field."""
        report = get_report(key)
        if report is None:
            raise NotFound(_("没有这个报表。"))
        if not report.allowed(request.user):
            raise PermissionDenied(_("你没有查看该报表的权限。"))
        params = parse_params(report, request.query_params)
        result = report.run(user=request.user, params=params)
        return Response(result_json(report, params, result))
