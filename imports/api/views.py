from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from crm.api.base import ScopedGenericViewSet
from crm.api.pagination import CursorPagination
from crm.errors import DomainError
from imports import selectors, services
from imports.api.serializers import (
    CommitSerializer,
    ExportJobSerializer,
    ExportStartSerializer,
    ImportJobSerializer,
    ImportRowErrorSerializer,
    ImportUploadSerializer,
)
from imports.models import ExportJob, ImportJob, Target
from imports.workbooks import template

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class JobPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class ErrorPagination(CursorPagination):
    ordering = ("row", "id")
    page_size = 100


def file_response(stored, name):
    if not stored:
        raise DomainError(_("文件已过期或不存在。"), code="not_found", status=404)
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise DomainError(_("文件已过期或不存在。"), code="not_found", status=404) from None
    return FileResponse(handle, as_attachment=True, filename=name)


class ImportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedGenericViewSet):
    """The caller's import jobs: upload (POST, multipart ``file`` + ``model``), then the preview
    (counts, errors), ``commit`` with a policy, ``undo``; ``template`` is the .xlsx to fill in."""

    model = ImportJob
    serializer_class = ImportJobSerializer
    pagination_class = JobPagination
    filter_backends = []
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    action_permissions = {
        "create": ["imports.add_importjob"],
        "template": ["imports.add_importjob"],
        "commit": ["imports.add_importjob"],
        "undo": ["imports.add_importjob"],
        "errors": ["imports.view_importjob"],
        "error_file": ["imports.view_importjob"],
    }

    def get_scoped_queryset(self, user):
        return selectors.import_job_list(user=user)

    @extend_schema(request={"multipart/form-data": ImportUploadSerializer}, responses={201: ImportJobSerializer})
    def create(self, request):
        serializer = ImportUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not request.user.has_perm(f"customers.add_{data['model']}"):
            raise DomainError(_("您没有执行该操作的权限。"), code="permission_denied", status=403)
        job = services.import_upload(user=request.user, target=data["model"], uploaded=data["file"])
        return Response(ImportJobSerializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ImportRowErrorSerializer(many=True))
    @action(detail=True, methods=["get"])
    def errors(self, request, pk=None):
        job = self.get_object()
        paginator = ErrorPagination()
        page = paginator.paginate_queryset(selectors.import_errors(job=job), request, view=self)
        return paginator.get_paginated_response(ImportRowErrorSerializer(page, many=True).data)

    @extend_schema(responses={(200, XLSX): bytes})
    @action(detail=True, methods=["get"], url_path="error-file")
    def error_file(self, request, pk=None):
        job = self.get_object()
        stem = job.file_name.rsplit(".", 1)[0]
        return file_response(job.error_file, f"{stem}-错误数据.xlsx")

    @extend_schema(request=CommitSerializer, responses={202: ImportJobSerializer})
    @action(detail=True, methods=["post"])
    def commit(self, request, pk=None):
        job = self.get_object()
        serializer = CommitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = services.import_commit_start(user=request.user, job=job, policy=serializer.validated_data["policy"])
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=ImportJobSerializer)
    @action(detail=True, methods=["post"])
    def undo(self, request, pk=None):
        job = self.get_object()
        services.import_undo(user=request.user, job=job, request=request)
        job.refresh_from_db()
        return Response(ImportJobSerializer(job).data)

    @extend_schema(
        parameters=[OpenApiParameter("model", enum=Target.values, default=Target.CUSTOMER)],
        responses={(200, XLSX): bytes},
    )
    @action(detail=False, methods=["get"])
    def template(self, request):
        target = request.query_params.get("model", Target.CUSTOMER)
        if target not in Target.values:
            raise DomainError(_("导入对象应为客户或联系人。"), fields={"model": [_("导入对象应为客户或联系人。")]})
        return template_response(request.user, target)


def template_response(user, target):
    from django.http import HttpResponse

    label = _("客户") if target == Target.CUSTOMER else _("联系人")
    response = HttpResponse(template(user, target), content_type=XLSX)
    from django.utils.http import content_disposition_header

    response["Content-Disposition"] = content_disposition_header(True, f"{label}导入模板.xlsx")
    return response


class ExportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedGenericViewSet):
    """The caller's exports: POST starts one (the customer list's ``filters``, ``model``,
    ``format``); the file is written in the background; ``download`` when done. Needs the export
    permission (imports.export_data)."""

    model = ExportJob
    serializer_class = ExportJobSerializer
    pagination_class = JobPagination
    filter_backends = []
    action_permissions = {
        "list": ["imports.export_data"],
        "retrieve": ["imports.export_data"],
        "create": ["imports.export_data"],
        "download": ["imports.export_data"],
    }

    def get_scoped_queryset(self, user):
        return selectors.export_job_list(user=user)

    @extend_schema(request=ExportStartSerializer, responses={202: ExportJobSerializer})
    def create(self, request):
        serializer = ExportStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = services.export_start(
            user=request.user, target=data["model"], file_format=data["format"], params=data["filters"]
        )
        return Response(ExportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, XLSX): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        job = self.get_object()
        return file_response(job.file, job.download_name)
