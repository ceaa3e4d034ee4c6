"""Pages: the import page (template, upload, preview with errors, policy, commit, progress,
undo) and export jobs started from the customer list (progress, download link)."""

from urllib.parse import parse_qs

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.errors import DomainError
from imports import selectors, services
from imports.api.views import file_response, template_response
from imports.models import ImportStatus, Policy, Target

PREVIEW_ERRORS = 200  # errors listed on the page; the rest are in the error sheet and the API


def _messages_of(error):
    texts = [str(error.message)]
    for value in (error.fields or {}).values():
        texts += [str(item) for item in (value if isinstance(value, list) else [value])]
    return list(dict.fromkeys(texts))


@login_required
@permission_required("imports.add_importjob", raise_exception=True)
@require_GET
def index(request):
    jobs = selectors.import_job_list(user=request.user)[:20]
    return render(
        request,
        "imports/index.html",
        {"active_nav": "customers", "jobs": jobs, "targets": Target.choices, "target": request.GET.get("model")},
    )


@login_required
@permission_required("imports.add_importjob", raise_exception=True)
@require_GET
def template_download(request, target):
    if target not in Target.values:
        return redirect("imports:index")
    return template_response(request.user, target)


@login_required
@permission_required("imports.add_importjob", raise_exception=True)
@require_POST
def upload(request):
    target = request.POST.get("model", Target.CUSTOMER)
    uploaded = request.FILES.get("file")
    errors = []
    if uploaded is None:
        errors = [_("请选择要上传的文件。")]
    elif not request.user.has_perm(f"customers.add_{target}"):
        errors = [_("您没有执行该操作的权限。")]
    else:
        try:
            job = services.import_upload(user=request.user, target=target, uploaded=uploaded)
        except DomainError as error:
            errors = _messages_of(error)
        else:
            return redirect("imports:detail", pk=job.pk)
    jobs = selectors.import_job_list(user=request.user)[:20]
    context = {"active_nav": "customers", "jobs": jobs, "targets": Target.choices, "target": target, "errors": errors}
    return render(request, "imports/index.html", context, status=400)


def _job_context(request, job):
    done, total = services.job_progress(job)
    return {
        "job": job,
        "done": done,
        "total": total,
        "percent": int(done * 100 / total) if total else 0,
        "errors": list(selectors.import_errors(job=job)[:PREVIEW_ERRORS]),
        "more_errors": max(job.counts.get("invalid", 0), 0),
        "policies": [
            (value, label)
            for value, label in Policy.choices
            if not (job.target == Target.CONTACT and value == "update")
        ],
        "statuses": ImportStatus,
    }


@login_required
@permission_required("imports.view_importjob", raise_exception=True)
@require_GET
def detail(request, pk):
    job = selectors.import_job_get(user=request.user, pk=pk)
    context = {"active_nav": "customers", **_job_context(request, job)}
    if request.headers.get("HX-Request") == "true":
        return render(request, "imports/partials/_job.html", context)
    return render(request, "imports/detail.html", context)


@login_required
@permission_required("imports.add_importjob", raise_exception=True)
@require_POST
def commit(request, pk):
    job = selectors.import_job_get(user=request.user, pk=pk)
    try:
        services.import_commit_start(user=request.user, job=job, policy=request.POST.get("policy", ""))
    except DomainError as error:
        for text in _messages_of(error):
            messages.error(request, text)
    return redirect("imports:detail", pk=job.pk)


@login_required
@permission_required("imports.add_importjob", raise_exception=True)
@require_POST
def undo(request, pk):
    job = selectors.import_job_get(user=request.user, pk=pk)
    try:
        result = services.import_undo(user=request.user, job=job, request=request)
    except DomainError as error:
        for text in _messages_of(error):
            messages.error(request, text)
    else:
        messages.success(request, _("已撤销：%(removed)s 条移入回收站，%(reverted)s 条恢复原值。") % result)
    return redirect("imports:detail", pk=job.pk)


@login_required
@permission_required("imports.view_importjob", raise_exception=True)
@require_GET
def error_file(request, pk):
    job = selectors.import_job_get(user=request.user, pk=pk)
    stem = job.file_name.rsplit(".", 1)[0]
    return file_response(job.error_file, f"{stem}-错误数据.xlsx")


# --- export -----------------------------------------------------------------------------------


@login_required
@permission_required("imports.export_data", raise_exception=True)
@require_POST
def export_start(request):
    params = {
        name: values if len(values) > 1 else values[0]
        for name, values in parse_qs(request.POST.get("query", "")).items()
    }
    try:
        job = services.export_start(
            user=request.user,
            target=request.POST.get("model", Target.CUSTOMER),
            file_format=request.POST.get("format", "xlsx"),
            params=params,
            request=request,
        )
    except DomainError as error:
        for text in _messages_of(error):
            messages.error(request, text)
        return redirect("customers:list")
    return redirect("imports:export_detail", pk=job.pk)


@login_required
@permission_required("imports.export_data", raise_exception=True)
@require_GET
def export_detail(request, pk):
    job = selectors.export_job_get(user=request.user, pk=pk)
    done, total = services.job_progress(job)
    context = {
        "active_nav": "customers",
        "job": job,
        "done": done,
        "total": total,
        "percent": int(done * 100 / total) if total else (100 if not job.running else 0),
    }
    if request.headers.get("HX-Request") == "true":
        return render(request, "imports/partials/_export.html", context)
    return render(request, "imports/export_detail.html", context)


@login_required
@permission_required("imports.export_data", raise_exception=True)
@require_GET
def export_download(request, pk):
    job = selectors.export_job_get(user=request.user, pk=pk)
    return file_response(job.file, job.download_name)
