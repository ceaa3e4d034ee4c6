"""The customer, owner and department that instalments, payments and invoices carry from their
contract (``UnderContract``, triggers of migration 0004): always the contract's, whatever writes
either side — and so the scope read on them is the contract's scope."""

from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from contracts.models import Contract, ContractStatus, Invoice, Payment, PaymentPlan, PaymentStatus
from contracts.services.contracts import contracts_follow_transfer, contracts_move_to_survivor
from contracts.tests.factories import ContractFactory, InvoiceFactory, PaymentFactory, PaymentPlanFactory
from customers.tests.factories import CustomerFactory

CHILDREN = (PaymentPlan, Payment, Invoice)


def copies(model, pk):
    return model.objects.values("customer_id", "owner_id", "department_id").get(pk=pk)


def of(contract):
    contract.refresh_from_db()
    return {"customer_id": contract.customer_id, "owner_id": contract.owner_id, "department_id": contract.department_id}


@pytest.fixture
def contract(org):
    return ContractFactory(owner=org.east_rep, status=ContractStatus.APPROVED, total=Decimal("10000.00"))


@pytest.fixture
def rows(contract):
    return [
        PaymentPlanFactory(contract=contract, number=1),
        PaymentFactory(contract=contract, status=PaymentStatus.CONFIRMED),
        InvoiceFactory(contract=contract),
    ]


def test_rows_written_without_them_carry_the_contracts(contract, rows):
    for row in rows:
        assert copies(type(row), row.pk) == of(contract)


def test_a_wrong_value_written_by_save_or_raw_sql_is_replaced_by_the_contracts(org, contract, rows):
    other = ContractFactory(owner=org.north_rep)
    for row in rows:
        row.owner = org.north_rep
        row.department = org.departments["north"]
        row.customer = other.customer
        row.save()
        assert copies(type(row), row.pk) == of(contract)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE contracts_payment SET owner_id = %s, department_id = %s, customer_id = %s",
            [org.north_rep.pk, org.departments["north"].pk, other.customer_id],
        )
    assert copies(Payment, rows[1].pk) == of(contract)


def test_moving_a_row_to_another_contract_takes_that_contracts(org, contract, rows):
    other = ContractFactory(owner=org.north_rep, status=ContractStatus.APPROVED)
    payment = rows[1]
    Payment.objects.filter(pk=payment.pk).update(contract=other)
    assert copies(Payment, payment.pk) == of(other)


def test_a_transfer_carries_the_rows_of_the_contracts_it_moves_and_only_those(org, contract, rows):
    finished = ContractFactory(owner=org.east_rep, customer=contract.customer, status=ContractStatus.COMPLETED)
    kept = PaymentFactory(contract=finished, status=PaymentStatus.CONFIRMED)
    moved = contracts_follow_transfer(
        user=org.ceo, customer_ids=[contract.customer_id], to_owner=org.north_rep, options={"contracts": True}
    )
    assert moved == 1
    assert of(contract)["owner_id"] == org.north_rep.pk
    for row in rows:
        assert copies(type(row), row.pk) == of(contract)
    assert copies(Payment, kept.pk) == {**of(finished), "owner_id": org.east_rep.pk}


def test_a_merge_carries_the_rows_to_the_surviving_customer(org, contract, rows):
    survivor = CustomerFactory(owner=org.east_rep, department=org.departments["east"])
    contracts_move_to_survivor(user=org.ceo, survivor=survivor, other=contract.customer)
    for row in rows:
        assert copies(type(row), row.pk)["customer_id"] == survivor.pk


@pytest.mark.parametrize("model", CHILDREN)
def test_scope_follows_the_contract_when_it_changes_hands(org, contract, rows, model):
    """The department managers on both sides, before and after the contract moves: never a row
    the contract's scope would not show."""
    row = next(r for r in rows if isinstance(r, model))
    east, north = org.east_manager, org.north_rep  # north_rep holds "department" for 华北组
    assert model.objects.visible_to(east).filter(pk=row.pk).exists()
    assert not model.objects.visible_to(north).filter(pk=row.pk).exists()

    Contract.objects.filter(pk=contract.pk).update(owner=org.north_other, department=org.departments["north"])

    assert not model.objects.visible_to(east).filter(pk=row.pk).exists()
    assert model.objects.visible_to(north).filter(pk=row.pk).exists()
    assert not model.objects.visible_to(org.east_rep).filter(pk=row.pk).exists()
    assert model.objects.visible_to(org.north_other).filter(pk=row.pk).exists()


@pytest.mark.parametrize("model", CHILDREN)
def test_rows_of_a_customer_in_the_recycle_bin_are_hidden_from_everyone(org, contract, rows, model):
    row = next(r for r in rows if isinstance(r, model))
    contract.customer.deleted_at = timezone.now()
    contract.customer.save(update_fields=["deleted_at"])
    assert not model.objects.visible_to(org.ceo).filter(pk=row.pk).exists()
    assert not model.objects.visible_to(org.east_rep).filter(pk=row.pk).exists()
