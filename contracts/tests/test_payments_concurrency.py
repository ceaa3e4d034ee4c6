"""Two confirmations (and two entries) racing on one contract cannot overpay it: each thread has
its own database connection and transaction, and they start together."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from contracts.models import ContractStatus, Payment, PaymentStatus
from contracts.services import payments as services
from contracts.tests.factories import ContractFactory, PaymentFactory
from crm.errors import DomainError
from staff.models import User
from staff.tests.factories import UserFactory

D = Decimal


def race(*calls):
    """Run the calls at once in threads with their own connections; their results or errors."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - reported to the test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.fixture
def confirmer(db):
    return UserFactory(username="finance-root", is_superuser=True)


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_racing_cannot_overpay(confirmer):
    owner = UserFactory(username="race-owner")
    contract = ContractFactory(owner=owner, status=ContractStatus.APPROVED, total=D("10000.00"))
    # Written around payment_create (which would refuse the second): together they overpay.
    first = PaymentFactory(contract=contract, amount=D("6000.00"))
    second = PaymentFactory(contract=contract, amount=D("6000.00"))

    def confirm(payment):
        return lambda: services.payment_confirm(user=User.objects.get(pk=confirmer.pk), payment=payment)

    results = race(confirm(first), confirm(second))

    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], DomainError), results
    assert errors[0].code == "overpayment"
    contract.refresh_from_db()
    assert contract.paid_amount == D("6000.00")
    assert Payment.objects.filter(status=PaymentStatus.CONFIRMED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_payment_confirmed_twice_at_once_counts_once(confirmer):
    owner = UserFactory(username="race-owner")
    contract = ContractFactory(owner=owner, status=ContractStatus.APPROVED, total=D("10000.00"))
    payment = PaymentFactory(contract=contract, amount=D("4000.00"))

    def confirm():
        return services.payment_confirm(user=User.objects.get(pk=confirmer.pk), payment=payment)

    results = race(confirm, confirm)

    assert sum(isinstance(r, Exception) for r in results) == 1, results
    contract.refresh_from_db()
    assert contract.paid_amount == D("4000.00")


@pytest.mark.django_db(transaction=True)
def test_two_entries_racing_cannot_together_exceed_the_outstanding_amount():
    owner = UserFactory(username="race-owner", is_superuser=True)
    contract = ContractFactory(owner=owner, status=ContractStatus.APPROVED, total=D("10000.00"))

    def enter():
        return services.payment_create(
            user=User.objects.get(pk=owner.pk),
            contract=contract,
            amount="6000",
            date=contract.signed_date,
            method="wire",
        )

    results = race(enter, enter)

    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and errors[0].code == "overpayment", results
    assert Payment.objects.count() == 1
