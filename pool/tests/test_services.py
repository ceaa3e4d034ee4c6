"""Claims, releases, assignments and locks: limits, cooldown, who may, and what each writes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from crm.errors import ConflictError, DomainError
from customers import services as customer_services
from customers.models import Customer, DealStatus
from customers.tests.factories import CustomerFactory, make_customer
from pool import selectors, services
from pool.models import CustomerPoolState, PoolEvent, PoolEventKind, PoolSettings, RoleLimit
from pool.tests.factories import company_pool, in_pool, owned
from staff.models import Department, User


@pytest.fixture
def pool(db):
    return company_pool()


def set_limits(**values):
    PoolSettings.objects.filter(pk=1).update(**values)


def test_claim_gives_the_customer_and_restarts_the_clock(org, pool):
    customer = in_pool(pool)

    claimed = services.pool_customer_claim(user=org.east_rep, customer=customer)

    assert (claimed.owner, claimed.department) == (org.east_rep, org.departments["east"])
    state = CustomerPoolState.objects.get(customer=customer)
    assert state.claimed_by == org.east_rep and state.entered_at is None
    assert abs(state.claimed_at - timezone.now()) < timedelta(minutes=1)
    event = PoolEvent.objects.get(customer=customer)
    assert (event.kind, event.actor, event.new_owner) == (PoolEventKind.CLAIM, org.east_rep, org.east_rep)
    assert AuditEvent.objects.filter(action=AuditAction.POOL_CLAIM, target_id=str(customer.pk)).count() == 1
    assert claimed.history.order_by("-history_id").first().history_change_reason == "领取公海客户"


def test_a_claimed_customer_cannot_be_claimed_again(org, pool):
    customer = in_pool(pool)
    services.pool_customer_claim(user=org.east_rep, customer=customer)
    with pytest.raises(ConflictError) as error:
        services.pool_customer_claim(user=org.north_rep, customer=customer)
    assert error.value.code == "already_claimed"


def test_daily_claim_limit(org, pool):
    set_limits(claim_daily_limit=2)
    customers = [in_pool(pool) for _ in range(3)]
    services.pool_customer_claim(user=org.east_rep, customer=customers[0])
    services.pool_customer_claim(user=org.east_rep, customer=customers[1])
    with pytest.raises(DomainError) as error:
        services.pool_customer_claim(user=org.east_rep, customer=customers[2])
    assert error.value.code == "claim_daily_limit"
    assert Customer.objects.get(pk=customers[2].pk).owner_id is None
    # Tomorrow is another day; and a role may allow more.
    tomorrow = timezone.now() + timedelta(days=1)
    services.pool_customer_claim(user=org.east_rep, customer=customers[2], now=tomorrow)


def test_role_override_of_the_daily_limit(org, pool):
    set_limits(claim_daily_limit=0)
    customer = in_pool(pool)
    with pytest.raises(DomainError):
        services.pool_customer_claim(user=org.east_rep, customer=customer)
    RoleLimit.objects.create(role=org.roles["self"], claim_daily_limit=5)
    services.pool_customer_claim(user=org.east_rep, customer=customer)


def test_previous_owner_cannot_claim_back_for_seven_days(org, pool):
    customer = owned(org.east_rep)
    services.pool_customer_release(user=org.east_rep, customer=customer, reason="客户暂无需求")
    with pytest.raises(DomainError) as error:
        services.pool_customer_claim(user=org.east_rep, customer=customer)
    assert error.value.code == "reclaim_cooldown"
    # Someone else may; after 7 days the previous owner may too.
    services.pool_customer_claim(
        user=org.east_rep, customer=customer, now=timezone.now() + timedelta(days=7, minutes=1)
    )


def test_a_recalled_customer_has_the_same_cooldown(org, pool):
    customer = owned(org.east_rep, days_since_follow_up=100, age_days=100)
    services.pool_recall_run()
    with pytest.raises(DomainError):
        services.pool_customer_claim(user=org.east_rep, customer=customer)
    services.pool_customer_claim(user=org.east_lead, customer=customer)


def test_owned_limit_on_claim_create_transfer_and_assign(org, pool):
    set_limits(max_owned=2)
    make_customer(org.east_rep, name="甲")
    make_customer(org.east_rep, name="乙")
    pooled = in_pool(pool)

    with pytest.raises(DomainError) as error:
        services.pool_customer_claim(user=org.east_rep, customer=pooled)
    assert (error.value.code, error.value.message) == ("owner_limit", "拥有客户已达上限")
    with pytest.raises(DomainError, match="拥有客户已达上限"):
        make_customer(org.east_rep, name="丙")
    theirs = make_customer(org.east_lead, name="丁")
    with pytest.raises(DomainError, match="拥有客户已达上限"):
        customer_services.customer_transfer(user=org.east_lead, customers=[theirs], to_owner=org.east_rep, reason="x")
    with pytest.raises(DomainError, match="拥有客户已达上限"):
        services.pool_customer_assign(user=org.admin, customer=pooled, to_user=org.east_rep)
    assert Customer.objects.filter(owner=org.east_rep).count() == 2

    # A role's own limit; with several roles the most generous.
    RoleLimit.objects.create(role=org.roles["self"], max_owned=3)
    services.pool_customer_claim(user=org.east_rep, customer=pooled)


def test_dealt_customers_count_only_if_the_option_says_so(org, pool):
    set_limits(max_owned=1, count_dealt=False)
    owned(org.east_rep, deal_status=DealStatus.WON)
    services.pool_customer_claim(user=org.east_rep, customer=in_pool(pool))
    set_limits(count_dealt=True)
    with pytest.raises(DomainError, match="拥有客户已达上限"):
        services.pool_customer_claim(user=org.east_rep, customer=in_pool(pool))


def test_importer_hook(org, pool):
    set_limits(max_owned=1)
    assert services.owner_capacity(owner=org.east_rep) == 1
    services.owner_limit_check(owner=org.east_rep, customers=[Customer(name="新")])
    with pytest.raises(DomainError):
        services.owner_limit_check(owner=org.east_rep, customers=[Customer(name="新"), Customer(name="新2")])


def test_release_needs_a_reason_and_the_owner_or_a_manager(org, pool):
    customer = owned(org.east_rep)
    with pytest.raises(DomainError):
        services.pool_customer_release(user=org.east_rep, customer=customer, reason="  ")
    with pytest.raises(DomainError) as error:
        services.pool_customer_release(user=org.north_rep, customer=customer, reason="抢")
    assert error.value.status == 403
    services.pool_customer_release(user=org.east_lead, customer=customer, reason="重新分配")
    customer.refresh_from_db()
    assert customer.owner_id is None
    event = PoolEvent.objects.get(customer=customer)
    assert (event.kind, event.previous_owner, event.actor, event.reason) == (
        PoolEventKind.RELEASE,
        org.east_rep,
        org.east_lead,
        "重新分配",
    )
    assert CustomerPoolState.objects.get(customer=customer).pool == pool


def test_release_goes_to_the_pool_serving_the_owners_department(org, pool):
    east_pool = services.pool_create(name="一部公海", departments=[org.departments["s1"]])
    customer = owned(org.east_rep)
    services.pool_customer_release(user=org.east_rep, customer=customer, reason="x")
    assert CustomerPoolState.objects.get(customer=customer).pool == east_pool
    # Seen by the pool's departments only (and the admin).
    assert selectors.pool_customer_list(user=org.south_rep).filter(pk=customer.pk).exists()
    assert not selectors.pool_customer_list(user=org.north_rep).filter(pk=customer.pk).exists()


def test_assign_by_pool_admin_or_manager_within_scope(org, pool):
    north_pool = services.pool_create(name="华北公海", departments=[org.departments["north"]], admins=[org.north_other])
    customer = in_pool(north_pool)
    with pytest.raises(DomainError) as error:  # a pool admin: only staff the pool serves
        services.pool_customer_assign(user=org.north_other, customer=customer, to_user=org.east_rep)
    assert "to_user" in error.value.fields
    services.pool_customer_assign(user=org.north_other, customer=customer, to_user=org.north_rep, reason="熟悉行业")
    customer.refresh_from_db()
    assert customer.owner == org.north_rep
    event = PoolEvent.objects.get(customer=customer)
    assert (event.kind, event.actor, event.new_owner) == (PoolEventKind.ASSIGN, org.north_other, org.north_rep)

    other = in_pool(pool)
    with pytest.raises(DomainError):  # east_lead manages east_rep, not north_rep
        services.pool_customer_assign(user=org.east_lead, customer=other, to_user=org.north_rep)
    services.pool_customer_assign(user=org.east_lead, customer=other, to_user=org.east_rep)


def test_assign_needs_admin_or_the_permission(org, pool):
    from django.contrib.auth.models import Permission

    org.roles["self_and_subordinates"].permissions.remove(Permission.objects.get(codename="assign_customer"))
    customer = in_pool(pool)
    with pytest.raises(DomainError) as error:
        services.pool_customer_assign(user=org.east_lead, customer=customer, to_user=org.east_rep)
    assert error.value.status == 403


def test_lock_limit_and_who_may_lock(org, pool):
    set_limits(max_locked=1)
    first, second = owned(org.east_rep), owned(org.east_rep)
    with pytest.raises(DomainError):
        services.pool_customer_lock(user=org.east_lead, customer=first)  # a manager is not the owner or admin
    services.pool_customer_lock(user=org.east_rep, customer=first)
    with pytest.raises(ConflictError):
        services.pool_customer_lock(user=org.east_rep, customer=first)
    with pytest.raises(DomainError) as error:
        services.pool_customer_lock(user=org.east_rep, customer=second)
    assert error.value.code == "lock_limit"
    services.pool_customer_unlock(user=org.admin, customer=first)
    services.pool_customer_lock(user=org.admin, customer=second)
    assert [event.kind for event in PoolEvent.objects.order_by("id")] == ["lock", "unlock", "lock"]


def test_transfer_restarts_the_clock_and_drops_the_lock(org, pool):
    customer = owned(org.east_rep, days_since_follow_up=100, age_days=100)
    services.pool_customer_lock(user=org.east_rep, customer=customer)
    customer_services.customer_transfer(user=org.east_lead, customers=[customer], to_owner=org.east_intern, reason="x")
    state = CustomerPoolState.objects.get(customer=customer)
    assert state.locked_at is None and state.claimed_by == org.east_intern
    services.pool_recall_run()
    assert Customer.objects.get(pk=customer.pk).owner == org.east_intern  # the clock restarted


def test_pool_customers_leave_private_lists_but_the_recycle_bin_and_unscoped_lookups_find_them(org, pool):
    customer = CustomerFactory(owner=None)
    from customers import selectors as customer_selectors

    assert not customer_selectors.customer_list(user=org.admin).filter(pk=customer.pk).exists()
    assert Customer.objects.alive().filter(pk=customer.pk).exists()  # e.g. the duplicate check
    Customer.objects.filter(pk=customer.pk).update(deleted_at=timezone.now())
    assert customer_selectors.customer_recycle_bin(user=org.admin).filter(pk=customer.pk).exists()


def test_a_customer_going_to_the_pool_loses_its_team(org, pool):
    """A colleague the previous owner shared it with must not see it in the pool, nor once
    someone else claims it (released by hand or recalled at night alike)."""
    released = owned(org.east_rep, name="退回的")
    recalled = owned(org.east_rep, name="回收的", days_since_follow_up=200, age_days=200)
    kept = owned(org.east_rep, name="留着的")
    for customer in (released, recalled, kept):
        customer_services.customer_team_member_set(
            user=org.east_rep, customer=customer, member=org.north_rep, access="write"
        )
    services.pool_customer_release(user=org.east_rep, customer=released, reason="没有需求")
    services.pool_recall_run()
    services.pool_customer_claim(user=org.south_rep, customer=Customer.objects.get(pk=released.pk))

    visible = set(Customer.objects.visible_to(org.north_rep).values_list("pk", flat=True))
    assert visible == {kept.pk}


@pytest.mark.parametrize("who", ["ceo", "s1_director", "east_manager", "east_lead", "east_rep", "north_rep", "s2_rep"])
def test_a_manager_may_assign_to_exactly_the_staff_in_their_data_scope(org, pool, who):
    """The one scope rule (staff.scope) with users as rows: whom a manager may assign to are the
    active staff whose own customers they could see."""
    user = getattr(org, who)
    expected = {
        staff.pk
        for staff in User.objects.filter(is_active=True)
        if Customer.objects.visible_to(user).filter(pk=owned(staff).pk).exists()
    }
    assert set(selectors.assignable_users(user=user, pool=pool).values_list("pk", flat=True)) == expected


def test_assignable_staff_do_not_widen_to_everyone_when_a_department_path_is_broken(org, pool):
    director = org.s1_director
    Department.objects.filter(pk=director.department_id).update(path="")  # written around save()
    director.department.refresh_from_db()
    assignable = set(selectors.assignable_users(user=director, pool=pool))
    assert org.north_rep not in assignable and org.east_rep not in assignable  # no subtree, no "all"
    assert director in assignable
