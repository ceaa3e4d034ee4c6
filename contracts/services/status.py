"""The contract's status machine, in one place. Every service that changes a contract's status
goes through ``contract_transition``: it locks the row, checks the transition is legal and the
version current, and saves the status with the other fields the transition sets."""

from django.db.models import F
from django.utils.translation import gettext as _

from contracts.models import SALES_STATUSES, Contract, ContractStatus
from crm.errors import ConflictError, DomainError

S = ContractStatus

# from status -> the statuses it may move to.
TRANSITIONS = {
    S.DRAFT: {S.PENDING, S.VOID},
    S.PENDING: {S.APPROVED, S.REJECTED, S.WITHDRAWN},
    S.REJECTED: {S.PENDING, S.VOID},
    S.WITHDRAWN: {S.PENDING, S.VOID},
    S.APPROVED: {S.ACTIVE, S.VOID},
    S.ACTIVE: {S.COMPLETED, S.EXPIRED, S.TERMINATED, S.VOID},
    S.COMPLETED: set(),
    S.EXPIRED: set(),
    S.TERMINATED: set(),
    S.VOID: set(),
}


class ContractErrorCode:
    ILLEGAL_TRANSITION = "illegal_transition"
    READ_ONLY = "read_only"
    NOT_APPROVED = "not_approved"


def can_transition(from_status, to_status):
    return to_status in TRANSITIONS.get(from_status, set())


def illegal_transition_error(contract, to_status):
    return DomainError(
        _("合同当前状态为“%(current)s”，不能变更为“%(target)s”。")
        % {"current": ContractStatus(contract.status).label, "target": ContractStatus(to_status).label},
        code=ContractErrorCode.ILLEGAL_TRANSITION,
    )


def contract_transition(*, contract, to, version=None, **fields):
    """Move ``contract`` to status ``to`` (inside the caller's transaction), setting ``fields``
    too. Locks the row first; raises a 400 for an illegal transition and a 409 when ``version``
    is given and stale. Returns the refreshed contract."""
    locked = Contract.objects.select_for_update().get(pk=contract.pk)
    if version is not None and int(version) != locked.version:
        raise ConflictError(_("合同已被他人修改，请刷新后重试。"), code="version_conflict")
    if not can_transition(locked.status, to):
        raise illegal_transition_error(locked, to)
    if (locked.status in SALES_STATUSES) != (to in SALES_STATUSES):
        # The contract starts or stops counting as a purchase: its customer's profile changes.
        from analytics.services import profile_recompute_schedule

        profile_recompute_schedule(customer_ids=[locked.customer_id])
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.status = to
    locked.version = F("version") + 1
    locked.save(update_fields=["status", "version", "updated_at", *fields])
    locked.refresh_from_db()
    return locked
