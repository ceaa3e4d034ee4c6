"""The commit matches each chunk on a second connection while it writes the chunk before
(imports.matching.side_connection): the same answers as matching every row first."""

import contextlib

import pytest
from django.db import connection, transaction

from customers.duplicates import matched_tables_written
from customers.models import Customer
from customers.services import customer_delete
from customers.tests.factories import make_customer
from imports import matching, services
from imports.tests.helpers import commit, upload_and_validate, xlsx

pytestmark = pytest.mark.django_db(transaction=True)


def row(name, mobile=""):
    return [name, "", "", mobile, "", "", "", "", "", "", "", ""]


@pytest.fixture
def sides(monkeypatch):
    """The connections the commit matched on (None: every row first on its own connection)."""
    seen = []
    original = matching.side_connection

    @contextlib.contextmanager
    def spy():
        with original() as side:
            seen.append(side)
            yield side

    monkeypatch.setattr(matching, "side_connection", spy)
    return seen


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(services, "CHUNK_ROWS", 2)


def _import(org, policy):
    rows = [
        row("上海云帆科技有限公司", "13800138000"),  # matches a customer created after the preview
        row("北京明远贸易有限公司", "13800138001"),
        row("北京明远贸易服务有限公司", "13800138002"),  # similar to the row before: the file's own, not a match
        row("广州长风实业有限公司", "13800138003"),  # matches a customer there before the preview
        row("深圳海岳电子有限公司", "13800138004"),  # its match goes to the recycle bin after the preview
    ]
    make_customer(org.south_rep, name="广州长风实业有限公司")
    binned = make_customer(org.south_rep, name="深圳海岳电子有限公司")
    job = upload_and_validate(org.east_rep, xlsx(rows))
    assert job.counts["duplicates"] == 2
    make_customer(org.south_rep, name="云帆科技（上海）有限公司")
    customer_delete(user=org.south_rep, customer=binned)
    # A new connection for the commit: this one's counts of the writes above may not be reported
    # yet (customers.duplicates.matched_tables_written would say True).
    connection.close()
    return commit(org.east_rep, job, policy)


@pytest.mark.parametrize("alongside", [True, False], ids=["second connection", "every row first"])
def test_chunks_are_matched_on_a_second_connection_as_if_first(org, sides, small_chunks, monkeypatch, alongside):
    if not alongside:
        monkeypatch.setattr(matching, "matched_tables_written", lambda: True)

    job = _import(org, "skip")

    assert len(sides) == 1 and (sides[0] is not None) == alongside
    assert (job.counts["created"], job.counts["skipped"], job.counts["invalid"]) == (3, 2, 0)
    names = set(Customer.objects.filter(created_by=org.east_rep).values_list("name", flat=True))
    assert names == {"北京明远贸易有限公司", "北京明远贸易服务有限公司", "深圳海岳电子有限公司"}


def test_a_transaction_that_wrote_customers_matches_on_its_own_connection(org):
    assert not matched_tables_written()
    with transaction.atomic():
        assert not matched_tables_written()
        make_customer(org.east_rep, name="上海云帆科技有限公司")
        assert matched_tables_written()
        with matching.side_connection() as side:
            assert side is None
    connection.close()  # see _import
    with transaction.atomic(), matching.side_connection() as side:
        assert side is not None
        side.ensure_connection()
        with side.cursor() as cursor:  # the same database, committed rows included
            cursor.execute("SELECT count(*) FROM customers_customer WHERE name = %s", ["上海云帆科技有限公司"])
            assert cursor.fetchone()[0] == 1
