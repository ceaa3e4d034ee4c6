from celery import shared_task

from crm.periodic import period_key, run_once_per_period
from pool import services


@shared_task
def pool_recall_task():
    """The nightly recall (02:00 Asia/Shanghai), once per day however often beat fires."""
    return run_once_per_period(job="pool.recall", period=period_key(), effect=services.pool_recall_run)[1]
