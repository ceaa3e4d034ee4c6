"""Thin Celery tasks of the contracts app: a service call each. The nightly jobs run through
``run_once_per_period`` like every periodic job (and are idempotent anyway)."""

from celery import shared_task
from django.utils import timezone

from contracts.services import nightly
from crm.periodic import period_key, run_once_per_period


@shared_task
def payment_plans_refresh_task():
    """Beat, nightly: instalment statuses (逾期 / 作废 …) as of today in Asia/Shanghai."""

    def effect():
        return {"changed": nightly.payment_plans_refresh(today=timezone.localdate())}

    return run_once_per_period(job="contracts.payment_plans_refresh", period=period_key(), effect=effect)[1]


@shared_task
def contracts_expire_due_task():
    """Beat, nightly: active contracts past their end date become 已到期."""

    def effect():
        return {"expired": nightly.contracts_expire_due(today=timezone.localdate())}

    return run_once_per_period(job="contracts.expire_due", period=period_key(), effect=effect)[1]
