"""Run a periodic job's effect at most once per period.

    run_once_per_period(job="staff.clear_sessions", period="2026-11-22", effect=clear)

The PeriodicRun row for (job, period) is created and locked in the same transaction as the effect:
a second beat, a retried delivery or a concurrent worker either waits on the lock and then finds
the run finished, or finds it finished straight away, and does nothing. If the effect raises, the
transaction (and the claim with it) rolls back and a retry may run it again.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.models import PeriodicRun

DAY = "%Y-%m-%d"
HOUR = "%Y-%m-%dT%H"
MONTH = "%Y-%m"


def period_key(fmt=DAY, *, now=None):
    """The current period in the company's time zone (Asia/Shanghai), e.g. '2026-11-22'."""
    return timezone.localtime(now or timezone.now()).strftime(fmt)


def run_once_per_period(*, job, period, effect):
    """Run ``effect()`` unless (job, period) already ran; returns (ran, result)."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                run = PeriodicRun.objects.create(job=job, period=period)
        except IntegrityError:
            run = PeriodicRun.objects.select_for_update().get(job=job, period=period)
            if run.finished_at is not None:
                return False, run.result
        result = effect() or {}
        run.finished_at = timezone.now()
        run.result = result
        run.save(update_fields=["finished_at", "result"])
        return True, result
