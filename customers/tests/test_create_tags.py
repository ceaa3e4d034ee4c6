"""Creating a customer writes its tags in one statement, and the "created" history row lists them
(the bench's create scenario counts every round trip: see README "Benchmark")."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers import services
from customers.models import Customer
from customers.tests.factories import TagFactory


def _tag_statements(queries):
    return [q["sql"] for q in queries if "customers_customer_tags" in q["sql"] and "historical" not in q["sql"]]


def test_create_writes_the_tags_in_one_insert_and_lists_them_in_the_created_history_row(org):
    tags = [TagFactory(name="VIP"), TagFactory(name="华东")]
    with CaptureQueriesContext(connection) as context:
        customer = services.customer_create(
            user=org.east_rep, data={"name": "上海甲乙科技有限公司", "kind": "company", "tags": [t.pk for t in tags]}
        )
    statements = [q["sql"] for q in context.captured_queries]
    [insert] = [i for i, sql in enumerate(statements) if sql.startswith('INSERT INTO "customers_customer_tags"')]
    # No read of the new customer's tag rows before they are written (tags.set would make two).
    assert not [sql for sql in statements[:insert] if sql in _tag_statements(context.captured_queries)]
    assert set(customer.tags.values_list("name", flat=True)) == {"VIP", "华东"}
    [created] = Customer.history.filter(id=customer.pk)
    assert created.history_type == "+"
    assert set(created.tags.values_list("tag__name", flat=True)) == {"VIP", "华东"}


def test_create_without_tags_writes_no_tag_rows(org):
    with CaptureQueriesContext(connection) as context:
        customer = services.customer_create(user=org.east_rep, data={"name": "上海丙丁科技有限公司", "kind": "company"})
    assert not [sql for sql in _tag_statements(context.captured_queries) if sql.startswith("INSERT")]
    assert not customer.tags.exists()
    assert not Customer.history.get(id=customer.pk).tags.exists()
