"""Payment plans and payments: the plan's sum rule to the fen, what a payment may be recorded
against, overpayment refusal, confirmation (permission, scope, figures, statuses) and voiding."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.http import Http404
from django.utils import timezone

from contracts.models import (
    Contract,
    ContractStatus,
    Payment,
    PaymentMethod,
    PaymentPlan,
    PaymentStatus,
    PlanStatus,
)
from contracts.services import payments as services
from contracts.tests.factories import ContractFactory, PaymentFactory, PaymentPlanFactory
from crm.errors import ConflictError, DomainError
from staff.models import User
from staff.tests.factories import RoleFactory, UserFactory

D = Decimal
TODAY = timezone.localdate()


def day(offset):
    return TODAY + datetime.timedelta(days=offset)


@pytest.fixture
def contract(org):
    return ContractFactory(owner=org.east_rep, status=ContractStatus.APPROVED, total=D("10000.00"))


def instalments(*amounts, start=10):
    return [{"due_date": day(start + 30 * i), "amount": amount} for i, amount in enumerate(amounts)]


def reload(obj):
    obj.refresh_from_db()
    return obj


# --- payment plan -------------------------------------------------------------------------------


def test_plan_amounts_must_add_up_to_the_total_to_the_fen(org, contract):
    with pytest.raises(DomainError) as error:
        services.payment_plan_set(user=org.east_rep, contract=contract, instalments=instalments("3333.33", "6666.66"))
    assert error.value.code == "plan_sum_mismatch"
    assert "少 0.01 元" in str(error.value.message)
    assert error.value.extra["difference"] == "-0.01"
    with pytest.raises(DomainError) as error:
        services.payment_plan_set(user=org.east_rep, contract=contract, instalments=instalments("3333.34", "6666.67"))
    assert "多 0.01 元" in str(error.value.message)
    assert not PaymentPlan.objects.exists()

    plans = services.payment_plan_set(
        user=org.east_rep, contract=contract, instalments=instalments("3333.33", "3333.33", "3333.34")
    )
    assert [(p.number, p.amount, p.status) for p in plans] == [
        (1, D("3333.33"), PlanStatus.PENDING),
        (2, D("3333.33"), PlanStatus.PENDING),
        (3, D("3333.34"), PlanStatus.PENDING),
    ]


def test_plan_amount_with_more_than_two_decimals_is_refused_not_rounded(org, contract):
    with pytest.raises(DomainError) as error:
        services.payment_plan_set(user=org.east_rep, contract=contract, instalments=instalments("5000.005", "4999.995"))
    assert "instalments[0].amount" in error.value.fields
    assert not PaymentPlan.objects.exists()


def test_plan_is_numbered_in_due_date_order_and_keeps_reminder_days(org, contract):
    plans = services.payment_plan_set(
        user=org.east_rep,
        contract=contract,
        instalments=[
            {"due_date": day(90), "amount": "6000", "reminder_days": 7, "remark": "尾款"},
            {"due_date": day(10), "amount": "4000"},
        ],
    )
    assert [(p.number, p.due_date, p.amount, p.reminder_days, p.remark) for p in plans] == [
        (1, day(10), D("4000.00"), 3, ""),
        (2, day(90), D("6000.00"), 7, "尾款"),
    ]


def test_plan_replaces_the_whole_plan_keeping_named_instalments(org, contract):
    first = services.payment_plan_set(user=org.east_rep, contract=contract, instalments=instalments("4000", "6000"))
    kept_id = first[1].pk
    plans = services.payment_plan_set(
        user=org.east_rep,
        contract=contract,
        instalments=[
            {"number": 2, "due_date": day(5), "amount": "5000"},  # moves before the new one
            {"due_date": day(50), "amount": "5000"},
        ],
    )
    assert [(p.number, p.amount) for p in plans] == [(1, D("5000.00")), (2, D("5000.00"))]
    assert plans[0].pk == kept_id
    assert PaymentPlan.objects.filter(contract=contract).count() == 2


def test_a_paid_instalment_cannot_be_removed_or_lowered_below_what_is_paid(org, contract):
    plans = services.payment_plan_set(user=org.east_rep, contract=contract, instalments=instalments("4000", "6000"))
    payment = services.payment_create(
        user=org.east_rep, contract=contract, plan=plans[0], amount="3000", date=TODAY, method=PaymentMethod.WIRE
    )
    services.payment_confirm(user=org.ceo, payment=payment)

    with pytest.raises(DomainError) as error:  # removing instalment 1
        services.payment_plan_set(
            user=org.east_rep, contract=contract, instalments=[{"number": 2, "due_date": day(40), "amount": "10000"}]
        )
    assert error.value.code == "plan_instalment_paid"
    with pytest.raises(DomainError):  # lowering it to 2,999.99
        services.payment_plan_set(
            user=org.east_rep,
            contract=contract,
            instalments=[
                {"number": 1, "due_date": day(10), "amount": "2999.99"},
                {"number": 2, "due_date": day(40), "amount": "7000.01"},
            ],
        )
    plans = services.payment_plan_set(  # down to exactly what is paid: allowed, and then paid in full
        user=org.east_rep,
        contract=contract,
        instalments=[
            {"number": 1, "due_date": day(10), "amount": "3000"},
            {"number": 2, "due_date": day(40), "amount": "7000"},
        ],
    )
    assert (plans[0].paid_amount, plans[0].status) == (D("3000.00"), PlanStatus.PAID)


def test_plan_of_a_void_contract_cannot_be_changed(org):
    contract = ContractFactory(owner=org.east_rep, status=ContractStatus.VOID)
    with pytest.raises(DomainError):
        services.payment_plan_set(user=org.east_rep, contract=contract, instalments=instalments("10000"))


def test_unknown_instalment_number_is_refused(org, contract):
    with pytest.raises(DomainError):
        services.payment_plan_set(
            user=org.east_rep, contract=contract, instalments=[{"number": 7, "due_date": day(1), "amount": "10000"}]
        )


# --- payments: what they may be recorded against ---------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        ContractStatus.DRAFT,
        ContractStatus.PENDING,
        ContractStatus.REJECTED,
        ContractStatus.WITHDRAWN,
        ContractStatus.VOID,
    ],
)
def test_payment_against_a_contract_not_approved_or_void_is_refused(org, status):
    contract = ContractFactory(owner=org.east_rep, status=status)
    with pytest.raises(DomainError) as error:
        services.payment_create(user=org.east_rep, contract=contract, amount="100", date=TODAY, method="wire")
    assert error.value.code == "contract_not_approved"
    assert error.value.status == 400
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    "status", [ContractStatus.APPROVED, ContractStatus.ACTIVE, ContractStatus.COMPLETED, ContractStatus.EXPIRED]
)
def test_payment_against_an_approved_or_later_contract_is_recorded_unconfirmed(org, status):
    contract = ContractFactory(owner=org.east_rep, status=status)
    payment = services.payment_create(
        user=org.east_rep, contract=contract, amount="100.50", date=TODAY, method="alipay", remark="首款"
    )
    assert (payment.status, payment.entered_by, payment.amount, payment.confirmed) == (
        PaymentStatus.UNCONFIRMED,
        org.east_rep,
        D("100.50"),
        False,
    )
    assert reload(contract).paid_amount == 0  # only confirmed payments count


@pytest.mark.parametrize("amount", ["0", "-1", "0.001", "abc", "NaN"])
def test_payment_amount_must_be_positive_to_the_fen(org, contract, amount):
    with pytest.raises(DomainError):
        services.payment_create(user=org.east_rep, contract=contract, amount=amount, date=TODAY, method="wire")


def test_payment_with_an_instalment_of_another_contract_is_refused(org, contract):
    other = PaymentPlanFactory(contract=ContractFactory(owner=org.east_rep, status=ContractStatus.APPROVED))
    with pytest.raises(DomainError) as error:
        services.payment_create(
            user=org.east_rep, contract=contract, plan=other, amount="100", date=TODAY, method="wire"
        )
    assert error.value.code == "plan_not_of_contract"


# --- overpayment --------------------------------------------------------------------------------


def test_payment_above_the_outstanding_amount_is_refused_with_the_amount(org, contract):
    services.payment_confirm(
        user=org.ceo,
        payment=services.payment_create(user=org.east_rep, contract=contract, amount="6000", date=TODAY, method="wire"),
    )
    with pytest.raises(DomainError) as error:
        services.payment_create(user=org.east_rep, contract=contract, amount="4000.01", date=TODAY, method="wire")
    assert error.value.code == "overpayment"
    assert "4,000.00" in str(error.value.message)
    assert error.value.extra["outstanding"] == "4000.00"
    # exactly the outstanding amount is fine
    services.payment_create(user=org.east_rep, contract=contract, amount="4000.00", date=TODAY, method="wire")


def test_unconfirmed_payments_hold_their_amount_so_two_cannot_overpay(org, contract):
    services.payment_create(user=org.east_rep, contract=contract, amount="7000", date=TODAY, method="wire")
    with pytest.raises(DomainError) as error:
        services.payment_create(user=org.east_rep, contract=contract, amount="3000.01", date=TODAY, method="cash")
    assert error.value.extra["outstanding"] == "3000.00"


def test_a_rejected_or_voided_payment_frees_its_amount(org, contract):
    first = services.payment_create(user=org.east_rep, contract=contract, amount="10000", date=TODAY, method="wire")
    services.payment_reject(user=org.ceo, payment=first)
    second = services.payment_create(user=org.east_rep, contract=contract, amount="10000", date=TODAY, method="wire")
    services.payment_void(user=org.ceo, payment=second)
    services.payment_create(user=org.east_rep, contract=contract, amount="10000", date=TODAY, method="wire")


def test_payment_above_the_instalment_open_amount_is_refused(org, contract):
    plans = services.payment_plan_set(user=org.east_rep, contract=contract, instalments=instalments("4000", "6000"))
    with pytest.raises(DomainError) as error:
        services.payment_create(
            user=org.east_rep, contract=contract, plan=plans[0], amount="4000.01", date=TODAY, method="wire"
        )
    assert "第 1 期" in str(error.value.message)


def test_confirming_rechecks_against_the_contract(org, contract):
    # Two payments written around the service (e.g. before the total was lowered) that together overpay.
    first = PaymentFactory(contract=contract, amount=D("6000"))
    second = PaymentFactory(contract=contract, amount=D("6000"))
    services.payment_confirm(user=org.ceo, payment=first)
    with pytest.raises(DomainError) as error:
        services.payment_confirm(user=org.ceo, payment=second)
    assert error.value.code == "overpayment"
    assert reload(second).status == PaymentStatus.UNCONFIRMED
    assert reload(contract).paid_amount == D("6000.00")


# --- confirmation -------------------------------------------------------------------------------


def test_confirming_needs_the_permission_held_through_a_role(org, contract):
    payment = services.payment_create(user=org.east_rep, contract=contract, amount="100", date=TODAY, method="wire")
    clerk = UserFactory(username="clerk", department=org.departments["east"], roles=[org.roles["department"]])
    plain_role = RoleFactory(
        name="no-confirm",
        data_scope="department",
        permissions=list(Permission.objects.exclude(codename="confirm_payment")),
    )
    clerk.roles.set([plain_role])
    with pytest.raises(DomainError) as error:
        services.payment_confirm(user=User.objects.get(pk=clerk.pk), payment=payment)
    assert error.value.status == 403
    assert reload(payment).status == PaymentStatus.UNCONFIRMED

    finance = RoleFactory(
        name="finance", data_scope="department", permissions=[Permission.objects.get(codename="confirm_payment")]
    )
    clerk.roles.add(finance)
    confirmed = services.payment_confirm(user=User.objects.get(pk=clerk.pk), payment=payment)
    assert (confirmed.status, confirmed.confirmed_by, confirmed.confirmed_at is not None) == (
        PaymentStatus.CONFIRMED,
        clerk,
        True,
    )


def test_confirming_a_payment_outside_scope_is_a_404(org, contract):
    payment = services.payment_create(user=org.east_rep, contract=contract, amount="100", date=TODAY, method="wire")
    with pytest.raises(Http404):
        services.payment_confirm(user=org.north_rep, payment=payment)  # 华北组: holds the permission, not the scope
    assert reload(payment).status == PaymentStatus.UNCONFIRMED


def test_a_payment_is_confirmed_once(org, contract):
    payment = services.payment_create(user=org.east_rep, contract=contract, amount="100", date=TODAY, method="wire")
    services.payment_confirm(user=org.ceo, payment=payment)
    with pytest.raises(ConflictError):
        services.payment_confirm(user=org.ceo, payment=payment)
    assert reload(contract).paid_amount == D("100.00")


def test_a_payment_in_an_approval_chain_is_not_confirmed_directly(org, contract):
    payment = PaymentFactory(contract=contract, status=PaymentStatus.PENDING)
    with pytest.raises(ConflictError):
        services.payment_confirm(user=org.ceo, payment=payment)
    # the chain's last step applies it
    services.payment_apply_confirmed(payment=payment, confirmed_by=org.east_manager)
    assert reload(payment).status == PaymentStatus.CONFIRMED
    assert reload(contract).paid_amount == D("1000.00")


def test_confirmed_payments_update_contract_and_instalment_figures_and_statuses(org, contract):
    plans = services.payment_plan_set(user=org.east_rep, contract=contract, instalments=instalments("4000", "6000"))
    first = services.payment_create(
        user=org.east_rep, contract=contract, plan=plans[0], amount="1500.25", date=TODAY, method="wire"
    )
    services.payment_confirm(user=org.ceo, payment=first)
    contract, plan = reload(contract), reload(plans[0])
    assert (contract.paid_amount, contract.outstanding, contract.progress) == (D("1500.25"), D("8499.75"), D("15.00"))
    assert (plan.paid_amount, plan.status) == (D("1500.25"), PlanStatus.PARTIAL)

    rest = services.payment_create(
        user=org.east_rep, contract=contract, plan=plans[0], amount="2499.75", date=TODAY, method="cheque"
    )
    services.payment_confirm(user=org.ceo, payment=rest)
    plan = reload(plans[0])
    assert (plan.paid_amount, plan.status) == (D("4000.00"), PlanStatus.PAID)
    assert reload(plans[1]).status == PlanStatus.PENDING
    assert reload(contract).paid_amount == D("4000.00")

    # voiding a confirmed payment subtracts again
    services.payment_void(user=org.ceo, payment=rest)
    plan = reload(plans[0])
    assert (plan.paid_amount, plan.status) == (D("1500.25"), PlanStatus.PARTIAL)
    assert reload(contract).paid_amount == D("1500.25")
    assert reload(rest).status == PaymentStatus.VOID


def test_voiding_an_unconfirmed_payment_changes_no_figures_and_needs_the_permission(org, contract):
    payment = services.payment_create(user=org.east_rep, contract=contract, amount="100", date=TODAY, method="wire")
    nobody = UserFactory(username="nobody", department=org.departments["east"])
    with pytest.raises(DomainError):
        services.payment_void(user=nobody, payment=payment)
    services.payment_void(user=org.ceo, payment=payment)
    assert reload(contract).paid_amount == 0
    with pytest.raises(ConflictError):
        services.payment_void(user=org.ceo, payment=payment)


def test_payment_on_a_contract_voided_meanwhile_cannot_be_confirmed(org, contract):
    payment = services.payment_create(user=org.east_rep, contract=contract, amount="100", date=TODAY, method="wire")
    Contract.objects.filter(pk=contract.pk).update(status=ContractStatus.VOID)
    with pytest.raises(DomainError) as error:
        services.payment_confirm(user=org.ceo, payment=payment)
    assert error.value.code == "contract_not_approved"


def test_created_hooks_run_inside_the_creating_transaction(org, contract, monkeypatch):
    seen = []

    def hook(*, user, payment):
        seen.append((user, payment.pk))
        Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.PENDING)

    monkeypatch.setattr(services, "PAYMENT_CREATED_HOOKS", [hook])
    payment = services.payment_create(user=org.east_rep, contract=contract, amount="100", date=TODAY, method="wire")
    assert seen == [(org.east_rep, payment.pk)]
    assert reload(payment).status == PaymentStatus.PENDING
