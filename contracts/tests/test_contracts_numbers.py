"""Contract numbers under real concurrency: each creation runs in its own thread, on its own
database connection and transaction, released together by a barrier. N concurrent creations get
N consecutive numbers; a creation rolled back while others wait leaves no gap."""

import threading
import time

import pytest
from django.db import connection, transaction

from contracts.models import Contract
from contracts.services import contracts as services
from customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db(transaction=True)


def _create(user, customer, title="并发合同"):
    return services.contract_create(user=user, data={"customer": customer.pk, "title": title}).number


def _race(calls):
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ("ok", call())
        except Exception as error:  # noqa: BLE001 - reported by the assertions
            outcomes[index] = ("error", repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_concurrent_creations_get_consecutive_unique_numbers(org):
    customer = make_customer(org.east_rep, name="并发客户有限公司")
    count = 8
    outcomes = _race([lambda i=i: _create(org.east_rep, customer, f"合同{i}") for i in range(count)])
    assert all(kind == "ok" for kind, _value in outcomes), outcomes
    numbers = sorted(value for _kind, value in outcomes)
    assert len(set(numbers)) == count
    prefix = numbers[0][:-6]
    assert all(number[:-6] == prefix for number in numbers)
    assert [int(number[-6:]) for number in numbers] == list(range(1, count + 1))
    assert Contract.objects.count() == count


def test_a_creation_rolled_back_while_another_waits_leaves_no_gap(org):
    customer = make_customer(org.east_rep, name="回滚客户有限公司")
    holding = threading.Event()
    results = {}

    class Abort(Exception):
        pass

    def first():
        try:
            with transaction.atomic():
                results["first"] = _create(org.east_rep, customer, "将回滚")
                holding.set()
                time.sleep(1.0)  # the second creator is now waiting on the sequence row
                raise Abort
        except Abort:
            results["first_rolled_back"] = True
        finally:
            connection.close()

    def second():
        try:
            holding.wait(timeout=10)
            started = time.monotonic()
            results["second"] = _create(org.east_rep, customer, "保留")
            results["waited"] = time.monotonic() - started
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert results["first_rolled_back"]
    # Both saw number 1: the first gave it back by rolling back, the second took it after waiting.
    assert results["first"][-6:] == results["second"][-6:] == "000001"
    assert results["waited"] > 0.5
    assert list(Contract.objects.values_list("number", flat=True)) == [results["second"]]
    assert _create(org.east_rep, customer)[-6:] == "000002"
