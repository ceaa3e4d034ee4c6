"""Two people claim the same pool customer at the same moment: two real transactions on their
own connections (threads), released together by a barrier. Exactly one wins."""

import threading

import pytest
from django.db import connection

from crm.errors import DomainError
from customers.models import Customer
from pool import services
from pool.models import PoolEvent, PoolEventKind
from pool.tests.factories import company_pool, in_pool

pytestmark = pytest.mark.django_db(transaction=True)


def _race(calls):
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ("ok", call())
        except DomainError as error:
            outcomes[index] = ("refused", error.code)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            outcomes[index] = ("error", repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_concurrent_claims_exactly_one_wins(org):
    pool = company_pool()
    for _round in range(3):
        customer = in_pool(pool)
        outcomes = _race(
            [
                lambda c=customer: services.pool_customer_claim(user=org.east_rep, customer=c).owner_id,
                lambda c=customer: services.pool_customer_claim(user=org.north_rep, customer=c).owner_id,
            ]
        )
        assert ("refused", "already_claimed") in outcomes, outcomes
        assert [kind for kind, _value in outcomes].count("ok") == 1, outcomes
        winner = next(value for kind, value in outcomes if kind == "ok")
        assert Customer.objects.get(pk=customer.pk).owner_id == winner
        assert PoolEvent.objects.filter(customer=customer, kind=PoolEventKind.CLAIM).count() == 1


def test_concurrent_claims_by_one_person_respect_the_daily_limit(org):
    from pool.models import PoolSettings

    pool = company_pool()
    PoolSettings.objects.filter(pk=1).update(claim_daily_limit=1)
    first, second = in_pool(pool), in_pool(pool)
    outcomes = _race(
        [
            lambda: services.pool_customer_claim(user=org.east_rep, customer=first).owner_id,
            lambda: services.pool_customer_claim(user=org.east_rep, customer=second).owner_id,
        ]
    )
    assert ("refused", "claim_daily_limit") in outcomes, outcomes
    assert [kind for kind, _value in outcomes].count("ok") == 1, outcomes
    assert Customer.objects.filter(owner=org.east_rep).count() == 1
