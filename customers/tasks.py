from celery import shared_task

from crm.periodic import period_key, run_once_per_period
from customers import services


@shared_task
def customer_purge_recycle_bin_task():
    return run_once_per_period(
        job="customers.purge_recycle_bin", period=period_key(), effect=services.customer_purge_recycle_bin
    )[1]
