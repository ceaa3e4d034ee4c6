from datetime import timedelta

from django.utils import timezone

from customers.models import Customer, CustomerLevel
from customers.tests.factories import CustomerFactory
from pool.models import CustomerPoolState, Pool, PoolLevelRule, PoolSettings
from pool.services import pool_default_rules


def levels():
    """The default levels A/B/C (a transaction=True test may have flushed the data migration's)."""
    result = {}
    for priority, code in enumerate("ABC", start=1):
        result[code] = CustomerLevel.objects.get_or_create(code=code, defaults={"name": code, "priority": priority})[0]
    return result


def company_pool():
    """The default pool as the data migration makes it (re-made after a flush)."""
    PoolSettings.current()
    pool = Pool.objects.filter(is_default=True).first()
    if pool is None:
        pool = Pool.objects.create(name="公司公海", is_default=True, serves_everyone=True)
    levels()
    pool_default_rules(pool=pool)
    return pool


def owned(owner, *, level=None, days_since_follow_up=None, age_days=0, claimed_days_ago=None, **fields):
    """A customer of ``owner`` created ``age_days`` ago, last followed up that many days ago."""
    now = timezone.now()
    customer = CustomerFactory(owner=owner, level=level, **fields)
    update = {"created_at": now - timedelta(days=age_days)}
    if days_since_follow_up is not None:
        update["last_follow_up_at"] = now - timedelta(days=days_since_follow_up)
    Customer.objects.filter(pk=customer.pk).update(**update)
    if claimed_days_ago is not None:
        CustomerPoolState.objects.update_or_create(
            customer_id=customer.pk,
            defaults={"claimed_at": now - timedelta(days=claimed_days_ago), "claimed_by": owner},
        )
    customer.refresh_from_db()
    return customer


def in_pool(pool=None, **fields):
    """A pool customer (no owner) in ``pool`` (None: no state row — the default pool)."""
    fields.setdefault("mobile", "13812345678")
    customer = CustomerFactory(owner=None, **fields)
    if pool is not None:
        CustomerPoolState.objects.create(customer=customer, pool=pool, entered_at=timezone.now())
    return customer


def level_rule(pool, level, days):
    PoolLevelRule.objects.update_or_create(pool=pool, level=level, defaults={"no_follow_up_days": days})
