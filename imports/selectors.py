"""Reads of import and export jobs: each user sees only their own."""

from django.http import Http404

from imports.models import ExportJob, ImportJob, ImportRowError


def import_job_list(*, user):
    return ImportJob.objects.visible_to(user)


def import_job_get(*, user, pk):
    job = import_job_list(user=user).filter(pk=pk).first()
    if job is None:
        raise Http404
    return job


def import_errors(*, job):
    return ImportRowError.objects.filter(job=job)


def export_job_list(*, user):
    return ExportJob.objects.visible_to(user)


def export_job_get(*, user, pk):
    job = export_job_list(user=user).filter(pk=pk).first()
    if job is None:
        raise Http404
    return job
