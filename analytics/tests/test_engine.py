"""The recompute as a whole: bulk equals per-customer on random histories, a fixed number of
queries whatever the number of customers, and the incremental recompute after a change (through
the real Redis broker and cache: the debounce, then the task)."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from activities.services import follow_up_create
from analytics import engine, services
from analytics.models import AnalyticsSettings, CustomerProfile
from analytics.tasks import profiles_recompute_task
from analytics.tests.helpers import AS_OF, buy, contact, customer, days
from contracts.models import ContractStatus
from crm.celery import app as celery_app
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CATEGORIES = ["软件", "硬件", "服务", "培训", "耗材", ""]
FOLLOW_UP_TYPES = ["call", "visit", "email", "meeting", "wechat", "sms", "other"]
FIELDS = [
    "recency", "frequency", "monetary", "lifecycle", "purchase_count", "purchase_total", "first_purchase_at",
    "last_purchase_at", "last_contact_at", "predicted_value", "clv", "churn_risk", "churn_source", "preferences",
    "recommended_actions", "tags", "computed_at",
]  # fmt: skip


def _random_histories(count, seed):
    """``count`` customers with random contracts (every status, 0–4 lines of random categories,
    random dates over two years) and follow-ups (every type)."""
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        someone = customer(created=AS_OF - days(rng.randint(1, 900), rng.randint(0, 86_399)))
        for _contract in range(rng.choice([0, 0, 1, 2, 3, 5, 8])):
            buy(
                someone,
                on=(AS_OF - days(rng.randint(0, 720))).date(),
                total=f"{rng.randint(0, 600_000) / 100:.2f}",
                categories=[rng.choice(CATEGORIES) for _line in range(rng.randint(0, 4))],
                status=rng.choice(ContractStatus.values),
            )
        for _follow_up in range(rng.choice([0, 1, 2, 4])):
            at = AS_OF - days(rng.randint(0, 400), rng.randint(0, 86_399))
            contact(someone, at=at, type=rng.choice(FOLLOW_UP_TYPES))
        made.append(someone)
    return made


def _snapshot():
    return {row["customer_id"]: row for row in CustomerProfile.objects.values("customer_id", *FIELDS)}


@pytest.mark.parametrize(("mode", "count"), [("threshold", 300), ("quantile+model", 200)])
def test_bulk_recompute_equals_per_customer_recompute(mode, count, monkeypatch):
    customers = _random_histories(count, seed=8)
    if mode != "threshold":
        # Random histories carry no signal (AUC about 0.5): let the model be used anyway, since
        # what this compares is the model's scores in bulk and one by one.
        monkeypatch.setattr(engine, "MIN_AUC", 0.0)
        AnalyticsSettings.load()
        AnalyticsSettings.objects.filter(pk=1).update(scoring_mode="quantile", churn_model_min_labelled=20)

    written = services.profiles_recompute_all(train=mode != "threshold", now=AS_OF)
    bulk = _snapshot()
    assert written == len(bulk) == count
    if mode != "threshold":
        assert {row["churn_source"] for row in bulk.values()} == {"model"}
    # Sanity: the random histories reach every kind of result.
    assert len({row["lifecycle"] for row in bulk.values()}) >= 5

    CustomerProfile.objects.all().delete()
    order = [someone.pk for someone in customers]
    random.Random(3).shuffle(order)
    for pk in order:
        services.profiles_recompute(customer_ids=[pk], now=AS_OF)
    assert _snapshot() == bulk


def test_the_bulk_recompute_asks_a_fixed_number_of_queries():
    AnalyticsSettings.load()

    def queries_for(count):
        CustomerProfile.objects.all().delete()
        for _ in range(count):
            buy(customer(), on=(AS_OF - days(5)).date(), categories=["软件", "硬件"])
        with CaptureQueriesContext(connection) as context:
            services.profiles_recompute_all(train=False, now=AS_OF)
        return len(context.captured_queries)

    assert queries_for(3) == queries_for(40)


def test_chunks_bound_the_memory_and_cover_every_customer(monkeypatch):
    monkeypatch.setattr(engine, "CHUNK", 7)
    for _ in range(20):
        customer()
    seen = []
    assert services.profiles_recompute_all(train=False, now=AS_OF, progress=lambda done, total: seen.append(done))
    assert seen == [0, 7, 14, 20]
    assert CustomerProfile.objects.count() == 20


def test_customers_in_the_recycle_bin_are_skipped():
    gone = customer()
    type(gone).objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    assert services.profiles_recompute(customer_ids=[gone.pk]) == 0
    assert not CustomerProfile.objects.exists()


# --- incremental --------------------------------------------------------------------------------------


def _drain(queue="analytics"):
    """The task messages waiting in the broker's queue (taken off it)."""
    messages = []
    with celery_app.connection_for_read() as conn:
        channel = conn.default_channel
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            args, kwargs, _embed = message.decode()
            messages.append({"task": message.headers["task"], "kwargs": kwargs, "eta": message.headers.get("eta")})
    return messages


@pytest.fixture
def broker():
    _drain()
    yield
    _drain()


def test_a_new_contract_recomputes_its_customer_alone_after_commit(broker, django_capture_on_commit_callbacks):
    changed, other = customer(), customer()
    services.profiles_recompute_all(train=False)
    other_before = CustomerProfile.objects.get(customer=other).computed_at
    assert CustomerProfile.objects.get(customer=changed).purchase_count == 0

    # The contract service's transaction: lines, approval … each change schedules the customer.
    with django_capture_on_commit_callbacks(execute=True):
        buy(changed, on=timezone.localdate(), total="2500.00", categories=["软件"])
        services.profile_recompute_schedule(customer_ids=[changed.pk])
        services.profile_recompute_schedule(customer_ids=[changed.pk])
        assert _drain() == []  # nothing before the commit
    queued = _drain()
    assert len(queued) == 1, queued
    assert queued[0]["task"] == "analytics.tasks.profiles_recompute_task"
    assert queued[0]["kwargs"] == {"customer_ids": [changed.pk]}
    assert queued[0]["eta"]  # runs when the burst is over

    # Another change within the window: the queued task will see it; nothing more is queued.
    with django_capture_on_commit_callbacks(execute=True):
        services.profile_recompute_schedule(customer_ids=[changed.pk])
    assert _drain() == []

    # The worker runs it.
    profiles_recompute_task.apply(kwargs=queued[0]["kwargs"]).get()
    profile = CustomerProfile.objects.get(customer=changed)
    assert (profile.purchase_count, profile.purchase_total, profile.preferences) == (1, Decimal("2500.00"), ["软件"])
    assert (profile.recency, profile.frequency, profile.monetary) == (5, 1, 3)
    assert CustomerProfile.objects.get(customer=other).computed_at == other_before

    # Once it ran, the next change queues a new recompute.
    with django_capture_on_commit_callbacks(execute=True):
        services.profile_recompute_schedule(customer_ids=[changed.pk])
    assert [message["kwargs"] for message in _drain()] == [{"customer_ids": [changed.pk]}]


def test_a_rolled_back_change_schedules_nothing(broker, django_capture_on_commit_callbacks):
    someone = customer()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.profile_recompute_schedule(customer_ids=[someone.pk])
    # pytest-django never commits: the callbacks were only captured, as a rollback would drop them.
    assert len(callbacks) == 1
    assert _drain() == []


def test_a_follow_up_schedules_its_customers_recompute(org, broker, django_capture_on_commit_callbacks):
    someone = CustomerFactory(owner=org.east_rep)
    with django_capture_on_commit_callbacks(execute=True):
        follow_up_create(user=org.east_rep, customer=someone, type="email", content="邮件报价")
    queued = _drain()
    assert [message["kwargs"] for message in queued] == [{"customer_ids": [someone.pk]}]
    profiles_recompute_task.apply(kwargs=queued[0]["kwargs"]).get()
    assert CustomerProfile.objects.get(customer=someone).preferences == ["邮件沟通"]


def test_profile_is_computed_on_first_read():
    someone = customer()
    assert not CustomerProfile.objects.exists()
    profile = services.profile_ensure(customer=someone)
    assert profile.lifecycle == "lost"  # no purchase, created 1,000 days ago
    assert profile.computed_at > timezone.now() - timedelta(minutes=1)


def test_a_contract_approved_or_voided_schedules_its_customers_recompute(
    org, broker, django_capture_on_commit_callbacks
):
    """The contract's status machine (contracts.services.status) schedules the customer when the
    contract starts or stops counting as a purchase — and not for a move that changes neither."""
    from contracts.models import ContractStatus
    from contracts.services.status import contract_transition
    from contracts.tests.factories import ContractFactory

    contract = ContractFactory(owner=org.east_rep, status=ContractStatus.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        contract = contract_transition(contract=contract, to=ContractStatus.APPROVED)
    assert [message["kwargs"] for message in _drain()] == [{"customer_ids": [contract.customer_id]}]

    from django.core.cache import cache

    cache.clear()  # past the debounce window
    with django_capture_on_commit_callbacks(execute=True):
        contract = contract_transition(contract=contract, to=ContractStatus.ACTIVE)  # still a purchase
    assert _drain() == []
    with django_capture_on_commit_callbacks(execute=True):
        contract_transition(contract=contract, to=ContractStatus.VOID)
    assert [message["kwargs"] for message in _drain()] == [{"customer_ids": [contract.customer_id]}]
