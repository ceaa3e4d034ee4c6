"""The nightly recall: rules per level, the no-deal rule, exemptions, effects (owner, event,
timeline, history, audit) and the "待进入公海" list."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from customers import selectors as customer_selectors
from customers.models import Customer, DealStatus
from pool import registry, selectors, services, tasks
from pool.models import CustomerPoolState, Pool, PoolEvent, PoolEventKind
from pool.tests.factories import company_pool, level_rule, levels, owned


@pytest.fixture
def pool(db):
    return company_pool()


def recalled_ids():
    return set(PoolEvent.objects.filter(kind=PoolEventKind.RECALL).values_list("customer_id", flat=True))


def test_each_level_returns_after_its_days_without_a_follow_up(org, pool):
    lv = levels()
    rep = org.east_rep
    cases = {
        # (level, days since the last follow-up) → recalled?
        ("A", 61): True, ("A", 59): False,
        ("B", 31): True, ("B", 29): False,
        ("C", 16): True, ("C", 14): False,
        (None, 31): True, (None, 29): False,
    }  # fmt: skip
    customers = {
        key: owned(rep, level=lv[key[0]] if key[0] else None, days_since_follow_up=key[1], age_days=80) for key in cases
    }
    # Never followed up: counted from its creation.
    fresh = owned(rep, level=lv["C"], age_days=10)
    stale = owned(rep, level=lv["C"], age_days=20)

    result = services.pool_recall_run()

    expected = {customers[key].pk for key, due in cases.items() if due} | {stale.pk}
    assert recalled_ids() == expected
    assert result == {"recalled": len(expected)}
    assert Customer.objects.get(pk=fresh.pk).owner_id == rep.pk
    assert set(Customer.objects.filter(owner__isnull=True).values_list("pk", flat=True)) == expected


def test_the_rules_are_per_pool_and_configurable(org, pool):
    lv = levels()
    north_pool = services.pool_create(name="华北公海", departments=[org.departments["north"]])
    level_rule(north_pool, lv["A"], 5)
    north = owned(org.north_rep, level=lv["A"], days_since_follow_up=6, age_days=30)
    east = owned(org.east_rep, level=lv["A"], days_since_follow_up=6, age_days=30)
    north_pool.no_follow_up_days = 0  # no level: never by follow-ups
    north_pool.save()
    no_level = owned(org.north_rep, days_since_follow_up=80, age_days=80)

    services.pool_recall_run()

    assert recalled_ids() == {north.pk}
    assert CustomerPoolState.objects.get(customer=north).pool == north_pool
    assert Customer.objects.get(pk=east.pk).owner_id == org.east_rep.pk
    assert Customer.objects.get(pk=no_level.pk).owner_id == org.north_rep.pk


def test_the_clock_starts_at_the_later_of_follow_up_and_claim(org, pool):
    lv = levels()
    claimed_recently = owned(org.east_rep, level=lv["C"], days_since_follow_up=40, age_days=60, claimed_days_ago=10)
    followed_recently = owned(org.east_rep, level=lv["C"], days_since_follow_up=3, age_days=60, claimed_days_ago=40)
    both_old = owned(org.east_rep, level=lv["C"], days_since_follow_up=20, age_days=60, claimed_days_ago=40)

    services.pool_recall_run()

    assert recalled_ids() == {both_old.pk}
    assert Customer.objects.get(pk=claimed_recently.pk).owner_id == org.east_rep.pk
    assert Customer.objects.get(pk=followed_recently.pk).owner_id == org.east_rep.pk


def test_no_deal_within_m_days_of_the_claim_returns_it(org, pool):
    lv = levels()
    # Followed up yesterday (level A: 60 days), but claimed 91 days ago and never dealt.
    no_deal = owned(org.east_rep, level=lv["A"], days_since_follow_up=1, age_days=200, claimed_days_ago=91)
    young = owned(org.east_rep, level=lv["A"], days_since_follow_up=1, age_days=200, claimed_days_ago=80)
    pool.exempt_dealt = False
    pool.save()
    dealt = owned(
        org.east_rep,
        level=lv["A"],
        days_since_follow_up=1,
        age_days=200,
        claimed_days_ago=91,
        deal_status=DealStatus.WON,
    )

    services.pool_recall_run()

    assert recalled_ids() == {no_deal.pk}
    event = PoolEvent.objects.get(customer=no_deal)
    assert event.reason == "超过 90 天未成交"
    assert Customer.objects.get(pk=young.pk).owner_id == org.east_rep.pk
    assert Customer.objects.get(pk=dealt.pk).owner_id == org.east_rep.pk


def test_an_open_deal_registered_by_a_later_app_stops_the_no_deal_rule(org, pool, monkeypatch):
    open_deal = owned(org.east_rep, days_since_follow_up=1, age_days=100, remark="open-deal")
    without = owned(org.east_rep, days_since_follow_up=1, age_days=100)
    monkeypatch.setitem(registry.OPEN_DEALS, "test.open", "c.remark = 'open-deal'")

    services.pool_recall_run()

    assert recalled_ids() == {without.pk}
    assert Customer.objects.get(pk=open_deal.pk).owner_id == org.east_rep.pk


def test_exemptions_locked_dealt_and_registered(org, pool, monkeypatch):
    lv = levels()
    locked = owned(org.east_rep, level=lv["C"], days_since_follow_up=100, age_days=100)
    services.pool_customer_lock(user=org.east_rep, customer=locked)
    dealt = owned(org.east_rep, level=lv["C"], days_since_follow_up=100, age_days=100, deal_status=DealStatus.WON)
    contract = owned(org.east_rep, level=lv["C"], days_since_follow_up=100, age_days=100, remark="active-contract")
    plain = owned(org.east_rep, level=lv["C"], days_since_follow_up=100, age_days=100)
    monkeypatch.setitem(registry.EXEMPTIONS, "test.contract", "c.remark = 'active-contract'")

    services.pool_recall_run()
    assert recalled_ids() == {plain.pk}
    assert Customer.objects.filter(pk__in=[locked.pk, dealt.pk, contract.pk], owner=org.east_rep).count() == 3

    # The pool option: dealt customers follow the follow-up rule too.
    pool.exempt_dealt = False
    pool.save()
    services.pool_recall_run()
    assert recalled_ids() == {plain.pk, dealt.pk}


def test_a_disabled_pool_recalls_nothing(org, pool):
    Pool.objects.filter(pk=pool.pk).update(recall_enabled=False)
    owned(org.east_rep, days_since_follow_up=100, age_days=100)
    assert services.pool_recall_run() == {"recalled": 0}


def test_recall_effects_event_timeline_history_audit_and_pool_list(org, pool):
    lv = levels()
    customer = owned(org.east_rep, level=lv["B"], days_since_follow_up=45, age_days=100)
    version = customer.version

    services.pool_recall_run()

    customer.refresh_from_db()
    assert (customer.owner_id, customer.department_id, customer.version) == (None, None, version + 1)
    event = PoolEvent.objects.get(customer=customer)
    assert (event.kind, event.previous_owner, event.pool, event.reason) == (
        PoolEventKind.RECALL,
        org.east_rep,
        pool,
        "超过 30 天未跟进",
    )
    history = customer.history.order_by("-history_id").first()
    assert history.history_change_reason == "自动回收：超过 30 天未跟进"
    assert history.owner_id is None
    audit = AuditEvent.objects.get(action=AuditAction.POOL_RECALL)
    assert (audit.target_id, audit.data["reason"]) == (str(customer.pk), "超过 30 天未跟进")
    # In the pool now: out of the owner's list, in the pool list of everyone the pool serves.
    assert not customer_selectors.customer_list(user=org.east_rep).filter(pk=customer.pk).exists()
    assert selectors.pool_customer_list(user=org.north_rep).filter(pk=customer.pk).exists()
    # Claimed again, the 360 timeline shows the recall with its reason.
    services.pool_customer_claim(user=org.north_rep, customer=customer)
    timeline = customer_selectors.customer_timeline(user=org.north_rep, customer=customer)
    pool_entries = [entry for entry in timeline if entry["kind"] == "pool"]
    assert [(entry["type"], entry["reason"]) for entry in pool_entries] == [
        ("claim", ""),
        ("recall", "超过 30 天未跟进"),
    ]


def test_the_nightly_task_runs_once_per_day(org, pool):
    owned(org.east_rep, days_since_follow_up=100, age_days=100)
    assert tasks.pool_recall_task() == {"recalled": 1}
    owned(org.east_rep, days_since_follow_up=100, age_days=100)
    assert tasks.pool_recall_task() == {"recalled": 1}  # the day's run already finished: its result
    assert PoolEvent.objects.filter(kind=PoolEventKind.RECALL).count() == 1


def test_returning_soon_lists_the_owners_customers_due_within_two_days(org, pool):
    lv = levels()
    tomorrow = owned(org.east_rep, level=lv["B"], days_since_follow_up=29, age_days=50)
    in_three_days = owned(org.east_rep, level=lv["B"], days_since_follow_up=27, age_days=50)
    overdue = owned(org.east_rep, level=lv["B"], days_since_follow_up=35, age_days=50)
    someone_elses = owned(org.east_lead, level=lv["B"], days_since_follow_up=29, age_days=50)
    locked = owned(org.east_rep, level=lv["B"], days_since_follow_up=29, age_days=50)
    services.pool_customer_lock(user=org.east_rep, customer=locked)

    soon = selectors.returning_soon(user=org.east_rep)

    assert [item[0].pk for item in soon] == [overdue.pk, tomorrow.pk]
    deadline = soon[1][1]
    assert timezone.now() + timedelta(hours=23) < deadline < timezone.now() + timedelta(days=1, hours=1)
    warnings = {(owner, customer) for owner, customer, _deadline in selectors.return_warnings()}
    assert (org.east_lead.pk, someone_elses.pk) in warnings
    assert (org.east_rep.pk, in_three_days.pk) not in warnings


def test_the_two_days_ahead_reminder_fires_once_per_clock(org, pool):
    from notifications.models import Notification
    from notifications.services import reminders_generate

    lv = levels()
    soon = owned(org.east_rep, level=lv["B"], days_since_follow_up=29, age_days=50)
    owned(org.east_rep, level=lv["B"], days_since_follow_up=20, age_days=50)  # 10 days left: not yet

    assert reminders_generate(keys=["pool_return"]) == {"pool_return": 1}
    assert reminders_generate(keys=["pool_return"]) == {"pool_return": 0}
    note = Notification.objects.get(kind="pool_return")
    assert (note.recipient, note.target_id, note.link) == (org.east_rep, soon.pk, "/pool/returning/")
    assert soon.name in note.title

    # A claim (or a follow-up) starts a new clock: when it runs out again, a new warning.
    later = timezone.now() + timedelta(days=60)
    Customer.objects.filter(pk=soon.pk).update(last_follow_up_at=later - timedelta(days=29))
    assert reminders_generate(keys=["pool_return"], now=later)["pool_return"] >= 1
    assert Notification.objects.filter(kind="pool_return", target_id=soon.pk).count() == 2
