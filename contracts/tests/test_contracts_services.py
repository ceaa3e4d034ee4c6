"""Products and contracts through their services: numbers (format, daily sequence), totals and
discounts to the fen, validation (scope of customer, deal and signatory; owner; dates; lines),
updates only while editable, every legal and illegal status transition, void with payments,
delete, renew, drafts from deals, and what the app plugs into customers, deals and the pool."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from contracts.models import EDITABLE_STATUSES, Contract, ContractLine, ContractStatus
from contracts.services import contracts as services
from contracts.services.status import TRANSITIONS, contract_transition
from contracts.tests.factories import ContractFactory, ContractLineFactory, ProductFactory
from crm.errors import ConflictError, DomainError
from customers.tests.factories import ContactFactory, CustomerFactory, make_customer
from opportunities.tests.factories import OpportunityFactory, stage

S = ContractStatus
TODAY = timezone.localdate


@pytest.fixture
def customer(org):
    return make_customer(org.east_rep, name="华东合同客户有限公司")


@pytest.fixture
def product(db):
    return ProductFactory(code="ERP", name="ERP 软件", price=Decimal("1000.00"))


def create(user, customer, lines=None, **data):
    return services.contract_create(
        user=user,
        data={"customer": customer.pk, "title": "年度服务合同", "lines": lines or [], **data},
    )


def error_of(call):
    with pytest.raises(DomainError) as info:
        call()
    return info.value


# --- products -----------------------------------------------------------------------------------


def test_product_create_and_a_duplicate_code_is_a_clear_400(org):
    product = services.product_create(
        user=org.admin, data={"code": "CRM-1", "name": "CRM 订阅", "unit": "年", "price": "19800.00"}
    )
    assert (product.code, product.price, product.active) == ("CRM-1", Decimal("19800.00"), True)
    error = error_of(lambda: services.product_create(user=org.admin, data={"code": "CRM-1", "name": "又一个"}))
    assert error.status == 400 and error.code == "duplicate_code"
    assert "code" in error.fields and "已存在" in str(error.message)


def test_product_update_keeps_the_code_unique(org):
    first = services.product_create(user=org.admin, data={"code": "A", "name": "甲"})
    second = services.product_create(user=org.admin, data={"code": "B", "name": "乙"})
    updated = services.product_update(user=org.admin, product=first, data={"price": "12.30", "active": False})
    assert (updated.price, updated.active, updated.name) == (Decimal("12.30"), False, "甲")
    error = error_of(lambda: services.product_update(user=org.admin, product=second, data={"code": "A"}))
    assert error.code == "duplicate_code"


# --- numbers ------------------------------------------------------------------------------------


def test_numbers_are_prefix_date_and_a_daily_sequence(org, customer, settings):
    today = TODAY().strftime("%Y%m%d")
    first, second = create(org.east_rep, customer), create(org.east_rep, customer)
    assert first.number == f"HT{today}000001"
    assert second.number == f"HT{today}000002"
    settings.CONTRACT_NUMBER_PREFIX = "XS"
    assert create(org.east_rep, customer).number == f"XS{today}000001"


def test_the_sequence_restarts_every_day(db):
    from django.db import transaction

    with transaction.atomic():
        assert services.contract_number_next(day=datetime.date(2026, 11, 22)) == "HT20261122000001"
        assert services.contract_number_next(day=datetime.date(2026, 11, 22)) == "HT20261122000002"
        assert services.contract_number_next(day=datetime.date(2026, 11, 23)) == "HT20261123000001"


def test_a_rolled_back_creation_gives_its_number_back(org, customer):
    from django.db import transaction

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        create(org.east_rep, customer)
        raise Abort
    assert create(org.east_rep, customer).number.endswith("000001")


def test_the_number_uses_the_shanghai_date(org, customer, settings):
    # 2026-11-22 17:30 UTC is already 2026-11-23 01:30 in Shanghai.
    settings.TIME_ZONE = "Asia/Shanghai"
    from unittest import mock

    instant = datetime.datetime(2026, 11, 22, 17, 30, tzinfo=datetime.UTC)
    with mock.patch("django.utils.timezone.now", return_value=instant):
        contract = create(org.east_rep, customer)
    assert contract.number == "HT20261123000001"


# --- totals -------------------------------------------------------------------------------------


def test_totals_and_discounts_are_computed_to_the_fen(org, customer, product):
    cheap = ProductFactory(price=Decimal("0.05"))
    contract = create(
        org.east_rep,
        customer,
        lines=[
            # 3 × 33.33 × 0.85 = 84.9915 → 84.99
            {"product": product.pk, "quantity": "3", "unit_price": "33.33", "discount_rate": "0.15"},
            # 1 × 0.05 × 0.5 = 0.025 → 0.03 (half up, not half even)
            {"product": cheap.pk, "quantity": "1", "discount_rate": "0.5"},
            # the list price when no unit price is given: 2 × 1000.00
            {"product": product.pk, "quantity": "2"},
            # 九折: 0.10 off 1 × 199.99 = 179.991 → 179.99
            {"product": product.pk, "quantity": "1", "unit_price": "199.99", "discount_rate": "0.10"},
        ],
        total="1.00",  # ignored: always computed
    )
    lines = list(contract.lines.order_by("order"))
    assert [line.subtotal for line in lines] == [
        Decimal("84.99"),
        Decimal("0.03"),
        Decimal("2000.00"),
        Decimal("179.99"),
    ]
    assert lines[1].unit_price == Decimal("0.05") and lines[2].unit_price == Decimal("1000.00")
    contract.refresh_from_db()
    assert contract.total == Decimal("2265.01")
    assert isinstance(contract.total, Decimal)


def test_line_subtotal_rounds_half_up():
    assert services.line_subtotal(Decimal("1"), Decimal("0.01"), Decimal("0.5")) == Decimal("0.01")  # 0.005 → 0.01
    assert services.line_subtotal(Decimal("3"), Decimal("33.33"), Decimal("0.15")) == Decimal("84.99")
    assert services.line_subtotal(Decimal("0.5"), Decimal("0.05"), Decimal("0")) == Decimal("0.03")  # 0.025
    assert services.line_subtotal(Decimal("2"), Decimal("10"), Decimal("1")) == Decimal("0.00")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "-1"}, "quantity"),
        ({"quantity": "1.005"}, "quantity"),
        ({"unit_price": "-0.01"}, "unit_price"),
        ({"discount_rate": "1.01"}, "discount_rate"),
        ({"discount_rate": "-0.1"}, "discount_rate"),
        ({"product": 10_000_000}, "product"),
        ({"quantity": "abc"}, "quantity"),
    ],
)
def test_bad_lines_are_refused_per_line_and_nothing_is_written(org, customer, product, line, field):
    good = {"product": product.pk, "quantity": "1"}
    error = error_of(lambda: create(org.east_rep, customer, lines=[good, {**good, **line}]))
    assert error.status == 400
    assert error.fields["lines"][0] == {}
    assert field in error.fields["lines"][1]
    assert not Contract.objects.exists()


def test_an_inactive_product_is_refused_on_a_new_contract(org, customer):
    retired = ProductFactory(active=False, name="旧产品")
    error = error_of(lambda: create(org.east_rep, customer, lines=[{"product": retired.pk, "quantity": 1}]))
    assert "已停用" in error.fields["lines"][0]["product"][0]


def test_a_total_above_the_column_is_refused(org, customer, product):
    line = {"product": product.pk, "quantity": "999999999999", "unit_price": "999999999999"}
    error = error_of(lambda: create(org.east_rep, customer, lines=[line]))
    assert error.status == 400 and not Contract.objects.exists()


# --- header rules -------------------------------------------------------------------------------


def test_the_customer_must_be_visible(org):
    theirs = make_customer(org.north_other, name="华北客户有限公司")
    error = error_of(lambda: create(org.east_rep, theirs))
    assert "customer" in error.fields


def test_the_deal_must_be_the_customers_and_visible(org, customer):
    other_customer = make_customer(org.east_rep, name="另一客户有限公司")
    wrong = OpportunityFactory(owner=org.east_rep, customer=other_customer)
    assert "opportunity" in error_of(lambda: create(org.east_rep, customer, opportunity=wrong.pk)).fields
    hidden = OpportunityFactory(owner=org.north_other, customer=customer)
    assert "opportunity" in error_of(lambda: create(org.east_rep, customer, opportunity=hidden.pk)).fields
    right = OpportunityFactory(owner=org.east_rep, customer=customer)
    assert create(org.east_rep, customer, opportunity=right.pk).opportunity_id == right.pk


def test_the_signatory_must_be_a_contact_of_the_customer(org, customer):
    other = ContactFactory(customer=make_customer(org.east_rep, name="别家有限公司"))
    assert "signatory" in error_of(lambda: create(org.east_rep, customer, signatory=other.pk)).fields
    own = ContactFactory(customer=customer)
    assert create(org.east_rep, customer, signatory=own.pk).signatory_id == own.pk


def test_end_must_not_be_before_start(org, customer):
    error = error_of(lambda: create(org.east_rep, customer, start_date="2026-05-01", end_date="2026-04-30"))
    assert "end_date" in error.fields
    ok = create(org.east_rep, customer, start_date="2026-05-01", end_date="2026-05-01")
    assert ok.start_date == ok.end_date


def test_owner_defaults_to_the_user_and_another_needs_the_transfer_permission(org, customer):
    from django.contrib.auth.models import Permission

    from staff.tests.factories import RoleFactory

    mine = create(org.east_rep, customer)
    assert (mine.owner, mine.department, mine.created_by) == (org.east_rep, org.departments["east"], org.east_rep)

    role = RoleFactory(name="no-transfer", data_scope="self")
    role.permissions.set(Permission.objects.filter(content_type__app_label__in=["contracts", "customers"]).exclude(
        codename="transfer_customer"
    ))  # fmt: skip
    org.east_rep.roles.set([role])
    rep = type(org.east_rep).objects.get(pk=org.east_rep.pk)
    error = error_of(lambda: create(rep, customer, owner=org.north_other.pk))
    assert error.status == 403 and "owner" in error.fields

    # The org's roles hold every permission, transfer included.
    given = create(org.east_lead, make_customer(org.east_lead, name="主管客户有限公司"), owner=org.north_other.pk)
    assert (given.owner, given.department) == (org.north_other, org.departments["north"])


# --- update and delete --------------------------------------------------------------------------


def test_update_replaces_the_lines_and_recomputes_the_total(org, customer, product):
    contract = create(org.east_rep, customer, lines=[{"product": product.pk, "quantity": "1"}])
    other = ProductFactory(price=Decimal("50.00"))
    updated = services.contract_update(
        user=org.east_rep,
        contract=contract,
        version=contract.version,
        data={"title": "改名", "lines": [{"product": other.pk, "quantity": "3", "discount_rate": "0.2"}], "total": 1},
    )
    assert updated.title == "改名" and updated.version == contract.version + 1
    assert list(updated.lines.values_list("product_id", "subtotal")) == [(other.pk, Decimal("120.00"))]
    updated.refresh_from_db()
    assert updated.total == Decimal("120.00")
    # Without ``lines`` the lines stay.
    again = services.contract_update(user=org.east_rep, contract=updated, version=updated.version, data={"remark": "x"})
    assert again.lines.count() == 1 and again.total == Decimal("120.00")


def test_a_stale_version_is_409_and_writes_nothing(org, customer):
    contract = create(org.east_rep, customer)
    with pytest.raises(ConflictError):
        services.contract_update(
            user=org.east_rep, contract=contract, version=contract.version + 5, data={"title": "x"}
        )
    contract.refresh_from_db()
    assert contract.title == "年度服务合同"


@pytest.mark.parametrize("status", [s for s in S if s not in EDITABLE_STATUSES])
def test_a_contract_is_read_only_outside_the_editable_statuses(org, status):
    contract = ContractFactory(owner=org.east_rep, status=status, title="原名")
    error = error_of(
        lambda: services.contract_update(
            user=org.east_rep, contract=contract, version=contract.version, data={"title": "x"}
        )
    )
    assert (error.status, error.code) == (400, "read_only")
    contract.refresh_from_db()
    assert contract.title == "原名"


@pytest.mark.parametrize("status", EDITABLE_STATUSES)
def test_drafts_rejected_and_withdrawn_contracts_are_editable(org, status):
    contract = ContractFactory(owner=org.east_rep, status=status)
    updated = services.contract_update(user=org.east_rep, contract=contract, version=1, data={"title": "新名"})
    assert updated.title == "新名"


def test_only_drafts_are_deleted_and_the_delete_is_audited(org, customer, product):
    draft = create(org.east_rep, customer, lines=[{"product": product.pk, "quantity": 1}])
    services.contract_delete(user=org.east_rep, contract=draft)
    assert not Contract.objects.filter(pk=draft.pk).exists()
    assert not ContractLine.objects.filter(contract_id=draft.pk).exists()
    assert AuditEvent.objects.filter(action=AuditAction.DELETE, target_id=str(draft.pk)).exists()
    for status in (S.PENDING, S.APPROVED, S.REJECTED, S.VOID):
        other = ContractFactory(owner=org.east_rep, status=status)
        assert error_of(lambda c=other: services.contract_delete(user=org.east_rep, contract=c)).code == "not_draft"
        assert Contract.objects.filter(pk=other.pk).exists()


def test_create_is_audited(org, customer):
    contract = create(org.east_rep, customer)
    event = AuditEvent.objects.get(action=AuditAction.CREATE, target_type="contracts.contract")
    assert event.target_id == str(contract.pk) and event.data["number"] == contract.number


# --- status transitions -------------------------------------------------------------------------

PAIRS = [(source, target) for source in S for target in S if source != target]


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_transition_is_legal_exactly_when_the_machine_says_so(org, source, target):
    contract = ContractFactory(owner=org.east_rep, status=source)
    if target in TRANSITIONS[source]:
        moved = contract_transition(contract=contract, to=target)
        assert moved.status == target and moved.version == 2
    else:
        error = error_of(lambda: contract_transition(contract=contract, to=target))
        assert (error.status, error.code) == (400, "illegal_transition")
        contract.refresh_from_db()
        assert contract.status == source and contract.version == 1


SERVICES = {
    "activate": (services.contract_activate, S.ACTIVE),
    "complete": (services.contract_complete, S.COMPLETED),
    "terminate": (services.contract_terminate, S.TERMINATED),
    "void": (services.contract_void, S.VOID),
}
SERVICE_CASES = [(name, source) for name in SERVICES for source in S]


@pytest.mark.parametrize(("name", "source"), SERVICE_CASES, ids=[f"{n}-from-{s}" for n, s in SERVICE_CASES])
def test_each_status_service_from_every_status(org, name, source):
    service, target = SERVICES[name]
    contract = ContractFactory(owner=org.east_rep, status=source)
    if target in TRANSITIONS[source]:
        assert service(user=org.east_rep, contract=contract).status == target
    else:
        error = error_of(lambda: service(user=org.east_rep, contract=contract))
        assert error.code == "illegal_transition" and "不能变更为" in str(error.message)
        contract.refresh_from_db()
        assert contract.status == source


def test_a_status_change_with_a_stale_version_is_409(org):
    contract = ContractFactory(owner=org.east_rep, status=S.APPROVED)
    with pytest.raises(ConflictError):
        services.contract_activate(user=org.east_rep, contract=contract, version=7)
    assert services.contract_activate(user=org.east_rep, contract=contract, version=1).status == S.ACTIVE


def test_void_sets_the_time_and_is_refused_once_payments_are_confirmed(org):
    contract = ContractFactory(owner=org.east_rep, status=S.ACTIVE, total=Decimal("100.00"))
    Contract.objects.filter(pk=contract.pk).update(paid_amount=Decimal("0.01"))
    error = error_of(lambda: services.contract_void(user=org.east_rep, contract=contract))
    assert (error.status, error.code) == (400, "has_payments") and "回款" in str(error.message)
    contract.refresh_from_db()
    assert contract.status == S.ACTIVE and contract.voided_at is None

    unpaid = ContractFactory(owner=org.east_rep, status=S.APPROVED)
    voided = services.contract_void(user=org.east_rep, contract=unpaid)
    assert voided.status == S.VOID and voided.voided_at is not None


# --- renew --------------------------------------------------------------------------------------


def test_renew_drafts_the_next_term_with_the_same_lines(org):
    old = ContractFactory(
        owner=org.east_rep,
        status=S.ACTIVE,
        start_date=datetime.date(2026, 1, 1),
        end_date=datetime.date(2026, 12, 31),
        title="年度运维",
    )
    product = ProductFactory(price=Decimal("999.00"))
    ContractLineFactory(contract=old, product=product, quantity=Decimal("2"), unit_price=Decimal("500.00"),
                        discount_rate=Decimal("0.1"), order=0)  # fmt: skip
    product.price = Decimal("1200.00")  # the list price moved since: the old price stays
    product.active = False  # retired since: still renewed
    product.save()

    renewal = services.contract_renew(user=org.east_rep, contract=old)

    assert renewal.status == S.DRAFT and renewal.renewed_from_id == old.pk
    assert renewal.number.startswith("HT") and renewal.pk != old.pk
    assert (renewal.start_date, renewal.end_date) == (datetime.date(2027, 1, 1), datetime.date(2027, 12, 31))
    assert list(renewal.lines.values_list("product_id", "quantity", "unit_price", "discount_rate", "subtotal")) == [
        (product.pk, Decimal("2.00"), Decimal("500.00"), Decimal("0.1000"), Decimal("900.00"))
    ]
    assert renewal.total == Decimal("900.00")
    assert (renewal.customer_id, renewal.owner_id) == (old.customer_id, org.east_rep.pk)
    assert renewal.title == "年度运维（续签）"

    again = pytest.raises(ConflictError, services.contract_renew, user=org.east_rep, contract=old)
    assert again.value.code == "already_renewed"


@pytest.mark.parametrize(
    ("start", "end", "next_start", "next_end"),
    [
        # whole months: the same number of months
        ("2026-02-10", "2026-03-09", "2026-03-10", "2026-04-09"),
        ("2026-01-01", "2026-06-30", "2026-07-01", "2026-12-31"),
        ("2027-01-01", "2027-12-31", "2028-01-01", "2028-12-31"),  # a year stays a year across 29 Feb
        ("2027-03-01", "2028-02-29", "2028-03-01", "2029-02-28"),
        # anything else: the same number of days
        ("2026-01-01", "2026-01-10", "2026-01-11", "2026-01-20"),
        ("2026-05-05", "2026-05-05", "2026-05-06", "2026-05-06"),
    ],
)
def test_renewal_dates_keep_the_terms_length(org, start, end, next_start, next_end):
    iso = datetime.date.fromisoformat
    old = ContractFactory(owner=org.east_rep, status=S.COMPLETED, start_date=iso(start), end_date=iso(end))
    renewal = services.contract_renew(user=org.east_rep, contract=old)
    assert (renewal.start_date, renewal.end_date) == (iso(next_start), iso(next_end))


def test_a_renewal_without_dates_has_none(org):
    old = ContractFactory(owner=org.east_rep, status=S.ACTIVE, start_date=None, end_date=None)
    renewal = services.contract_renew(user=org.east_rep, contract=old)
    assert (renewal.start_date, renewal.end_date) == (None, None)


@pytest.mark.parametrize("status", [S.DRAFT, S.PENDING, S.REJECTED, S.WITHDRAWN, S.TERMINATED, S.VOID])
def test_only_signed_contracts_renew(org, status):
    old = ContractFactory(owner=org.east_rep, status=status)
    assert error_of(lambda: services.contract_renew(user=org.east_rep, contract=old)).code == "not_renewable"


# --- drafts from deals --------------------------------------------------------------------------


def test_a_draft_from_a_deal_takes_customer_title_owner_signatory_and_the_amount_as_a_line(org, customer, product):
    primary = ContactFactory(customer=customer, is_primary=True)
    ContactFactory(customer=customer)
    deal = OpportunityFactory(owner=org.east_rep, customer=customer, title="ERP 项目", amount=Decimal("8800.80"),
                              stage=stage("won"))  # fmt: skip

    contract = services.contract_draft_from_opportunity(user=org.east_rep, opportunity=deal, product=product)

    assert (contract.customer_id, contract.opportunity_id, contract.title) == (customer.pk, deal.pk, "ERP 项目")
    assert (contract.owner_id, contract.signatory_id, contract.status) == (org.east_rep.pk, primary.pk, S.DRAFT)
    assert list(contract.lines.values_list("product_id", "quantity", "unit_price", "subtotal")) == [
        (product.pk, Decimal("1.00"), Decimal("8800.80"), Decimal("8800.80"))
    ]
    assert contract.total == Decimal("8800.80")

    bare = services.contract_draft_from_opportunity(user=org.east_rep, opportunity=deal)
    assert bare.lines.count() == 0 and bare.total == 0


def test_no_draft_from_a_lost_deal(org, customer):
    deal = OpportunityFactory(owner=org.east_rep, customer=customer, stage=stage("lost"))
    error = error_of(lambda: services.contract_draft_from_opportunity(user=org.east_rep, opportunity=deal))
    assert error.code == "deal_closed"


def test_winning_a_deal_offers_a_contract_draft(org, customer):
    from opportunities import services as deal_services

    deal = OpportunityFactory(owner=org.east_rep, customer=customer, stage=stage("negotiation"))
    _moved, actions = deal_services.opportunity_move(
        user=org.east_rep, opportunity=deal, stage=stage("won"), version=deal.version
    )
    assert actions["draft_contract_url"] == f"/contracts/new/?opportunity={deal.pk}"
    assert actions["draft_contract_api"] == "/api/v1/contracts/from-opportunity/"
    assert not Contract.objects.exists()  # an offer: nothing drafted until asked


# --- customers: transfer, merge; the pool ---------------------------------------------------------


@pytest.mark.parametrize("follow", [False, True])
def test_a_customer_transfer_takes_live_contracts_when_asked(org, customer, follow):
    from customers import services as customer_services

    live = {status: ContractFactory(owner=org.east_rep, customer=customer, status=status) for status in S}
    customer_services.customer_transfer(
        user=org.east_rep, customers=[customer], to_owner=org.north_other, reason="调岗", options={"contracts": follow}
    )
    moved = set(Contract.objects.filter(owner=org.north_other).values_list("status", flat=True))
    expected = set(services.TRANSFER_STATUSES) if follow else set()
    assert moved == expected
    if follow:
        assert Contract.objects.get(pk=live[S.ACTIVE].pk).department == org.departments["north"]
        assert Contract.objects.get(pk=live[S.PENDING].pk).owner == org.east_rep


def test_a_merge_moves_the_contracts_and_their_payments_to_the_survivor(org):
    from contracts.tests.factories import PaymentFactory
    from customers import services as customer_services

    survivor = make_customer(org.east_rep, name="存续客户有限公司")
    other = make_customer(org.east_rep, name="被合并客户有限公司", check=False)
    contract = ContractFactory(owner=org.east_rep, customer=other, status=S.APPROVED)
    payment = PaymentFactory(contract=contract)
    customer_services.customer_merge(
        user=org.east_rep,
        survivor=survivor,
        other=other,
        values={},
        survivor_version=survivor.version,
        other_version=other.version,
    )
    contract.refresh_from_db()
    assert contract.customer_id == survivor.pk and contract.version == 2
    assert payment.contract.customer_id == survivor.pk
    from customers.models import CustomerMerge

    assert CustomerMerge.objects.get(survivor=survivor).moved["contracts"] == 1


@pytest.mark.parametrize(
    ("status", "recalled"),
    [(S.APPROVED, False), (S.ACTIVE, False), (S.DRAFT, True), (S.PENDING, True), (S.COMPLETED, True), (S.VOID, True)],
)
def test_a_customer_with_a_contract_in_force_never_returns_to_the_pool(org, status, recalled):
    from customers.models import Customer
    from pool import services as pool_services
    from pool.tests.factories import company_pool, levels, owned

    company_pool()
    customer = owned(org.east_rep, level=levels()["C"], days_since_follow_up=100, age_days=100)
    ContractFactory(owner=org.east_rep, customer=customer, status=status)
    pool_services.pool_recall_run()
    assert (Customer.objects.get(pk=customer.pk).owner_id is None) is recalled


def test_the_timeline_shows_the_contracts_milestones_in_scope(org, customer):
    from customers import selectors as customer_selectors

    contract = ContractFactory(owner=org.east_rep, customer=customer, status=S.APPROVED, number="HT20260101000009")
    Contract.objects.filter(pk=contract.pk).update(
        submitted_at=contract.created_at + datetime.timedelta(hours=1),
        approved_at=contract.created_at + datetime.timedelta(hours=2),
    )
    hidden = ContractFactory(owner=org.north_other, customer=customer, number="HT20260101000010")
    entries = [
        e for e in customer_selectors.customer_timeline(user=org.east_rep, customer=customer) if e["kind"] == "contract"
    ]
    assert [e["title"] for e in entries] == ["合同审批通过", "合同提交审批", "新建合同"]
    assert all(e["contract"] == contract.pk and "HT20260101000009" in e["text"] for e in entries)
    assert all(e["contract"] != hidden.pk for e in entries)
    assert entries[0]["url"] == f"/contracts/{contract.pk}/"


def test_customer_created_but_unowned_contract_is_seen_by_the_all_scope_only(org):
    contract = ContractFactory(owner=None, customer=CustomerFactory(owner=None))
    assert not Contract.objects.visible_to(org.east_manager).filter(pk=contract.pk).exists()
    assert Contract.objects.visible_to(org.ceo).filter(pk=contract.pk).exists()
