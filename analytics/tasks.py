"""Thin tasks on the ``analytics`` queue (a long recompute never delays a reminder): ids in, a
service does the work. Idempotent: recomputing twice writes the same profiles."""

from datetime import date

from celery import shared_task

from analytics import services, summary_services
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


@shared_task(bind=True, queue="notifications", max_retries=5)
def summaries_send_task(self, frequency, day=None):
    """Beat (08:00 Asia/Shanghai): the daily / weekly / monthly summaries of the period just ended
    to their subscribers. Each (subscription, period) is sent once whatever runs twice; when some
    failed, the task retries the same period (``day`` pinned) and sends only what is missing."""
    result = summary_services.summaries_send(frequency=frequency, day=date.fromisoformat(day) if day else None)
    if result["failed"]:
        raise self.retry(
            args=(),  # all in kwargs, whether beat's call was positional or not
            kwargs={"frequency": frequency, "day": result["period_start"]},
            countdown=min(30 * 60, 60 * 2**self.request.retries),  # 1, 2, 4, 8, 16 minutes
        )
    return result
