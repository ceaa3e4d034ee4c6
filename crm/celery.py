"""The Celery application: Redis broker, configuration from Django settings (CELERY_*), tasks
autodiscovered from every app's tasks.py. Beat's schedule is CELERY_BEAT_SCHEDULE in settings."""

import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")


class CrmTask(DjangoTask):
    """Base for every task: a lost database connection (PostgreSQL restarting) is retried with
    back-off instead of failing the job; Celery's Django fix-up closes the broken connection after
    the failed attempt, so the retry opens a fresh one. Services enqueue with ``delay_on_commit``
    so a task never sees a row its caller's transaction has not committed yet."""

    autoretry_for = (OperationalError, InterfaceError)
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 5


app = Celery("crm", task_cls=CrmTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
