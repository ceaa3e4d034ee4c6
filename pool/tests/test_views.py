"""Pool pages: the list (scope, masking, query budget), claim/assign/release/lock posts (404
outside scope), 待进入公海 and the settings page."""

import pytest
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from customers.models import Customer
from pool import services
from pool.models import CustomerPoolState, Pool, PoolLevelRule, PoolSettings
from pool.tests.factories import company_pool, in_pool, levels, owned


@pytest.fixture
def pool(db):
    return company_pool()


def logged_in(client, user):
    client.force_login(user)
    return client


def test_pool_page_lists_my_pools_customers_masked(org, client, pool):
    north = services.pool_create(name="华北公海", departments=[org.departments["north"]])
    in_pool(pool, name="公司客户甲", mobile="13912345678")
    in_pool(north, name="华北客户乙")
    owned(org.east_rep, name="私海客户丙")
    text = logged_in(client, org.east_rep).get(reverse("pool:list")).content.decode()
    assert "公司客户甲" in text and "139****5678" in text and "13912345678" not in text
    assert "华北客户乙" not in text and "私海客户丙" not in text
    assert 'aria-current="page">公海' in text
    # The filter form as a browser submits it ("全部" = empty values).
    searched = client.get(reverse("pool:list"), {"q": "甲", "pool": "", "level": ""}).content.decode()
    assert "公司客户甲" in searched


def test_pool_page_query_budget(org, client, pool, django_assert_max_num_queries):
    for index in range(25):
        in_pool(pool if index % 2 else None, name=f"公海客户{index}")
    client = logged_in(client, org.east_lead)
    client.get(reverse("pool:list"))  # session and permission caches warm
    with django_assert_max_num_queries(20):
        response = client.get(reverse("pool:list"))
    assert response.content.decode().count("公海客户") >= 20


def test_claim_from_the_page_and_pages_with_ids_are_404_outside_scope(org, client, pool):
    north = services.pool_create(name="华北公海", departments=[org.departments["north"]])
    mine = in_pool(pool, name="可领取")
    theirs = in_pool(north, name="别人的公海")
    owned_by_other = owned(org.north_other, name="别人的客户")
    client = logged_in(client, org.east_rep)

    response = client.post(reverse("pool:claim", args=[mine.pk]))
    assert response.status_code == 302 and response.url == reverse("customers:detail", args=[mine.pk])
    assert Customer.objects.get(pk=mine.pk).owner == org.east_rep

    for name, target, data in [
        ("pool:claim", theirs, {}),
        ("pool:assign", theirs, {"to_user": org.east_rep.pk}),
        ("pool:release", owned_by_other, {"reason": "x"}),
        ("pool:lock", owned_by_other, {}),
    ]:
        assert client.post(reverse(name, args=[target.pk]), data).status_code == 404, name
        assert client.post(reverse(name, args=[target.pk + 10_000]), data).status_code == 404, name
    assert Customer.objects.get(pk=theirs.pk).owner_id is None
    assert Customer.objects.get(pk=owned_by_other.pk).owner == org.north_other


def test_refusals_show_as_messages(org, client, pool):
    PoolSettings.objects.filter(pk=1).update(max_owned=0)
    customer = in_pool(pool)
    response = logged_in(client, org.east_rep).post(reverse("pool:claim", args=[customer.pk]), follow=True)
    assert "拥有客户已达上限" in response.content.decode()


def test_returning_soon_page_lock_and_release(org, client, pool):
    lv = levels()
    due = owned(org.east_rep, name="快到期客户", level=lv["B"], days_since_follow_up=29, age_days=50)
    owned(org.east_rep, name="还早客户", level=lv["B"], days_since_follow_up=5, age_days=50)
    client = logged_in(client, org.east_rep)
    text = client.get(reverse("pool:returning")).content.decode()
    assert "快到期客户" in text and "还早客户" not in text and "超过 30 天未跟进" in text

    client.post(reverse("pool:lock", args=[due.pk]))
    assert f'href="/customers/{due.pk}/"' not in client.get(reverse("pool:returning")).content.decode()
    client.post(reverse("pool:lock", args=[due.pk]), {"unlock": "1"})
    missing_reason = client.post(reverse("pool:release", args=[due.pk]), {"reason": ""}, follow=True)
    assert "请填写原因" in missing_reason.content.decode()
    client.post(reverse("pool:release", args=[due.pk]), {"reason": "没有需求"})
    assert Customer.objects.get(pk=due.pk).owner_id is None


def test_assign_from_the_page(org, client, pool):
    customer = in_pool(pool, name="待分配")
    client = logged_in(client, org.east_lead)
    assert "分配给" in client.get(reverse("pool:list")).content.decode()
    client.post(reverse("pool:assign", args=[customer.pk]), {"to_user": org.east_rep.pk, "reason": ""})
    assert Customer.objects.get(pk=customer.pk).owner == org.east_rep


def test_settings_page_changes_limits_and_rules_audited(org, client, pool):
    lv = levels()
    assert logged_in(client, org.east_rep).get(reverse("pool:settings")).status_code == 200  # org roles hold all
    from django.contrib.auth.models import Permission

    org.roles["self"].permissions.remove(Permission.objects.get(codename="change_pool"))
    assert client.get(reverse("pool:settings")).status_code == 403

    client = logged_in(client, org.admin)
    page = client.get(reverse("pool:settings")).content.decode()
    assert "公司公海" in page and "拥有客户上限" in page
    limits = {
        "limits": "1", "limits-max_owned": "150", "limits-max_locked": "10", "limits-count_dealt": "on",
        "limits-claim_daily_limit": "5", "limits-reclaim_cooldown_days": "7", "limits-warn_days": "3",
    }  # fmt: skip
    assert client.post(reverse("pool:settings"), limits).status_code == 302
    assert PoolSettings.current().max_owned == 150
    prefix = f"pool{pool.pk}"
    rules = {
        "pool": pool.pk, f"{prefix}-recall_enabled": "on", f"{prefix}-no_follow_up_days": "20",
        f"{prefix}-no_deal_days": "0", f"{prefix}-level_{lv['A'].pk}": "45", f"{prefix}-level_{lv['C'].pk}": "",
    }  # fmt: skip
    assert client.post(reverse("pool:settings"), rules).status_code == 302
    pool = Pool.objects.get(pk=pool.pk)
    assert (pool.no_follow_up_days, pool.no_deal_days, pool.exempt_dealt) == (20, 0, False)
    assert PoolLevelRule.objects.get(pool=pool, level=lv["A"]).no_follow_up_days == 45
    assert not PoolLevelRule.objects.filter(pool=pool, level=lv["C"]).exists()
    assert AuditEvent.objects.filter(action=AuditAction.POOL_SETTINGS_CHANGE).count() == 2
    bad = client.post(reverse("pool:settings"), {**rules, f"{prefix}-no_follow_up_days": "-1"})
    assert bad.status_code == 400


def test_the_360_page_locks_unlocks_and_releases(org, client, pool):
    customer = owned(org.east_rep, name="三六零客户")
    client = logged_in(client, org.east_rep)
    page = reverse("customers:detail", args=[customer.pk])
    assert 'id="pool-card"' in client.get(page).content.decode()

    locked = client.post(reverse("pool:lock", args=[customer.pk]), {"next": page}, follow=True)
    assert locked.redirect_chain[-1][0] == page
    assert CustomerPoolState.objects.get(customer=customer).locked_at is not None
    assert "已锁定" in locked.content.decode() and 'name="unlock"' in locked.content.decode()

    client.post(reverse("pool:lock", args=[customer.pk]), {"unlock": "1", "next": page})
    assert CustomerPoolState.objects.get(customer=customer).locked_at is None
    # An off-site "next" is ignored.
    away = client.post(reverse("pool:lock", args=[customer.pk]), {"next": "https://evil.example/"})
    assert away.url == reverse("pool:returning")

    refused = client.post(reverse("pool:release", args=[customer.pk]), {"reason": "", "next": page}, follow=True)
    assert refused.redirect_chain[-1][0] == page and "请填写原因" in refused.content.decode()
    client.post(reverse("pool:release", args=[customer.pk]), {"reason": "没有需求", "next": page})
    assert Customer.objects.get(pk=customer.pk).owner_id is None
