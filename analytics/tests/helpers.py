"""Histories for the profile tests: customers created long ago, purchases (contracts that count
as sales, with lines of given categories) on given dates, follow-ups at given instants, and the
recompute at an exact instant — so "days since" is known to the second."""

import datetime
from decimal import Decimal

from django.utils import timezone

from activities.models import FollowUp
from analytics import services
from analytics.models import CustomerProfile
from contracts.models import ContractStatus, Product
from contracts.tests.factories import ContractFactory, ContractLineFactory
from customers.models import Customer
from customers.tests.factories import CustomerFactory

TZ = timezone.get_default_timezone()


def midnight(day):
    """00:00 of ``day`` in the company's time zone: the instant a purchase signed that day happens."""
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=TZ)


# The instant most tests compute at: a local midnight two days ahead (so every row created now
# is older), which makes "N days after a purchase" an exact number of seconds.
AS_OF = midnight(timezone.localdate() + datetime.timedelta(days=2))


def days(n, seconds=0):
    return datetime.timedelta(days=n, seconds=seconds)


def customer(*, created=None, owner=None):
    """A customer created at ``created`` (default: 1,000 days before AS_OF — its creation then
    counts as a contact long ago)."""
    made = CustomerFactory(owner=owner)
    created = created or AS_OF - days(1000)
    Customer.objects.filter(pk=made.pk).update(created_at=created)
    made.created_at = created
    return made


def product(category):
    found, _created = Product.objects.get_or_create(
        code=f"CAT-{category or 'none'}", defaults={"name": f"{category}产品", "category": category}
    )
    return found


def buy(customer, *, on, total="1000.00", categories=(), status=ContractStatus.APPROVED):
    """A contract signed on ``on`` (a date, or an aware datetime at local midnight) with one line
    per category."""
    if isinstance(on, datetime.datetime):
        on = timezone.localtime(on, TZ).date()
    contract = ContractFactory(customer=customer, status=status, signed_date=on, total=Decimal(total))
    for category in categories:
        ContractLineFactory(contract=contract, product=product(category))
    return contract


def contact(customer, *, at, type="call"):  # noqa: A002 - the model's field name
    return FollowUp.objects.create(customer=customer, occurred_at=at, type=type)


def profile(customer, *, as_of=AS_OF):
    services.profiles_recompute(customer_ids=[customer.pk], now=as_of)
    return CustomerProfile.objects.get(customer=customer)
