"""Nightly upkeep of contract and instalment statuses (Celery beat → ``contracts.tasks``).

Both services are set-based SQL — a handful of UPDATE statements whatever the number of rows — and
idempotent: a second run on the same day changes nothing."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contracts.models import Contract, ContractStatus, PaymentPlan
from contracts.services.payments import plans_refresh_statuses
from contracts.services.status import TRANSITIONS


@transaction.atomic
def payment_plans_refresh(*, today):
    """Every instalment's status as of ``today``: 逾期 when its due date is before ``today`` and it
    is not fully paid, 作废 when its contract is void, otherwise 回款完成 / 部分回款 / 待回款 from
    what is paid (``payments.plan_status_case``). Returns the number of instalments changed."""
    return plans_refresh_statuses(plans=PaymentPlan.objects.all(), today=today)


@transaction.atomic
def contracts_expire_due(*, today):
    """Contracts whose end date is before ``today`` become 已到期, from every status the status
    machine lets move to expired (``status.TRANSITIONS``: only 执行中 today) — one UPDATE that also
    bumps each row's version, so an edit form opened before the night gets a 409. Returns the number
    of contracts expired."""
    sources = [status for status, targets in TRANSITIONS.items() if ContractStatus.EXPIRED in targets]
    return Contract.objects.filter(status__in=sources, end_date__lt=today).update(
        status=ContractStatus.EXPIRED, version=F("version") + 1, updated_at=timezone.now()
    )
