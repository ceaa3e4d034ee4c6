from celery import shared_task

from activities import services
from crm.periodic import period_key, run_once_per_period


@shared_task
def follow_up_purge_check_ins_task():
    return run_once_per_period(
        job="activities.purge_check_ins", period=period_key(), effect=services.follow_up_purge_check_ins
    )[1]
