"""Thin tasks on the ``analytics`` queue (a long recompute never delays a reminder): ids in, a
service does the work. Idempotent: recomputing twice writes the same profiles."""

from celery import shared_task

from analytics import services
from crm.periodic import period_key, run_once_per_period


@shared_task(queue="analytics")
def profiles_recompute_task(customer_ids):
    """The debounced recompute of a few customers after a change (services.profile_recompute_schedule)."""
    return services.profiles_recompute_scheduled(customer_ids=customer_ids)


@shared_task(queue="analytics")
def profiles_recompute_all_task(report=False):
    """Every profile: nightly (once per day whatever the beats) and on demand (``report``: with
    progress for the settings page)."""
    if report:
        return services.profiles_recompute_all_reported()
    return run_once_per_period(
        job="analytics.profiles_recompute_all",
        period=period_key(),
        effect=lambda: {"written": services.profiles_recompute_all()},
    )[1]
