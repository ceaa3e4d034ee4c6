from celery import shared_task

from audit import services
from crm.periodic import period_key, run_once_per_period


@shared_task
def audit_purge_expired_task():
    def effect():
        return {"deleted": services.audit_purge_expired()}

    return run_once_per_period(job="audit.purge_expired", period=period_key(), effect=effect)[1]
