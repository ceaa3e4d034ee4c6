import pytest
from django.core.management import call_command

from pool.models import Pool, PoolEvent, PoolEventKind
from pool.selectors import pool_customer_list
from staff.models import User


@pytest.mark.django_db
def test_seed_demo_puts_some_customers_in_the_pools():
    call_command("seed_demo")
    assert set(Pool.objects.values_list("name", flat=True)) == {"公司公海", "销售二部公海"}
    assert PoolEvent.objects.filter(kind=PoolEventKind.RELEASE).count() == 7
    rep = User.objects.get(username="zhoujie")
    assert rep.has_perm("pool.claim_customer") and not rep.has_perm("pool.assign_customer")
    assert pool_customer_list(user=rep).count() >= 1
