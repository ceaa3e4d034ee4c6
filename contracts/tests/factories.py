import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from contracts.models import (
    Contract,
    ContractLine,
    ContractStatus,
    Invoice,
    InvoiceTitle,
    Payment,
    PaymentMethod,
    PaymentPlan,
    Product,
)
from customers.tests.factories import CustomerFactory


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    code = factory.Sequence(lambda n: f"P{n:05d}")
    name = factory.Sequence(lambda n: f"产品{n}")
    category = "软件"
    unit = "套"
    price = Decimal("1000.00")


class ContractFactory(factory.django.DjangoModelFactory):
    """A contract written straight to the table, status and total as given (no lines unless a
    test adds them) — for tests that need rows. Write rules are tested through the services."""

    class Meta:
        model = Contract

    number = factory.Sequence(lambda n: f"TEST{n:08d}")
    title = factory.Sequence(lambda n: f"合同{n}")
    owner = None
    department = factory.LazyAttribute(lambda o: o.owner.department if o.owner else None)
    created_by = factory.LazyAttribute(lambda o: o.owner)
    customer = factory.LazyAttribute(lambda o: CustomerFactory(owner=o.owner, department=o.department))
    total = Decimal("10000.00")
    status = ContractStatus.DRAFT
    signed_date = factory.LazyFunction(timezone.localdate)
    start_date = factory.LazyAttribute(lambda o: o.signed_date)
    end_date = factory.LazyAttribute(lambda o: o.signed_date and o.signed_date + datetime.timedelta(days=364))


class ContractLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContractLine

    contract = factory.SubFactory(ContractFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = Decimal("1")
    unit_price = factory.LazyAttribute(lambda o: o.product.price)
    discount_rate = Decimal("0")
    subtotal = factory.LazyAttribute(
        lambda o: (o.quantity * o.unit_price * (1 - o.discount_rate)).quantize(Decimal("0.01"))
    )


class PaymentPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentPlan

    contract = factory.SubFactory(ContractFactory)
    number = factory.Sequence(lambda n: n + 1)
    due_date = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=30))
    amount = factory.LazyAttribute(lambda o: o.contract.total)


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    contract = factory.SubFactory(ContractFactory, status=ContractStatus.APPROVED)
    amount = Decimal("1000.00")
    date = factory.LazyFunction(timezone.localdate)
    method = PaymentMethod.WIRE


class InvoiceTitleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceTitle

    customer = factory.SubFactory(CustomerFactory)
    title = factory.LazyAttribute(lambda o: o.customer.name)
    tax_number = "91350100M000100Y43"


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    contract = factory.SubFactory(ContractFactory, status=ContractStatus.APPROVED)
    title = factory.LazyAttribute(lambda o: o.contract.customer.name)
    amount = Decimal("1000.00")
