"""Thin tasks: ids in, a service does the work. Each may run twice (acks_late): the services
claim the job's status first and start over cleanly."""

from celery import shared_task

from crm.periodic import period_key, run_once_per_period
from imports import services


@shared_task
def import_validate_task(job_id):
    services.import_validate(job_id=job_id)


@shared_task
def import_commit_task(job_id):
    services.import_commit(job_id=job_id)


@shared_task
def export_run_task(job_id):
    services.export_run(job_id=job_id)


@shared_task
def import_purge_expired_task():
    return run_once_per_period(job="imports.purge_expired", period=period_key(), effect=services.import_purge_expired)[
        1
    ]
