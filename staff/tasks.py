from datetime import timedelta

from axes.models import AccessAttempt, AccessLog
from celery import shared_task
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from crm.periodic import period_key, run_once_per_period


@shared_task
def clear_expired_sessions_task():
    def effect():
        deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
        return {"deleted": deleted}

    return run_once_per_period(job="staff.clear_expired_sessions", period=period_key(), effect=effect)[1]


@shared_task
def purge_old_login_attempts_task():
    def effect():
        cutoff = timezone.now() - timedelta(days=settings.LOGIN_ATTEMPT_RETENTION_DAYS)
        attempts, _ = AccessAttempt.objects.filter(attempt_time__lt=cutoff).delete()
        logs, _ = AccessLog.objects.filter(attempt_time__lt=cutoff).delete()
        return {"attempts": attempts, "logs": logs}

    return run_once_per_period(job="staff.purge_old_login_attempts", period=period_key(), effect=effect)[1]
