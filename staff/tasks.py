from celery import shared_task
from django.conf import settings

from crm.periodic import period_key, run_once_per_period
from staff import services


@shared_task
def clear_expired_sessions_task():
    return run_once_per_period(
        job="staff.clear_expired_sessions", period=period_key(), effect=services.sessions_clear_expired
    )[1]


@shared_task
def purge_old_login_attempts_task():
    def effect():
        return services.login_attempts_purge(older_than_days=settings.LOGIN_ATTEMPT_RETENTION_DAYS)

    return run_once_per_period(job="staff.purge_old_login_attempts", period=period_key(), effect=effect)[1]
