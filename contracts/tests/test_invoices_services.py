"""Invoice titles (one default per customer, 纳税人识别号 checked) and invoices (title details
copied, invoiced total capped at the contract total, issue / ship / void keep the contract's
invoiced amount)."""

import datetime
from decimal import Decimal

import pytest

from contracts.models import ContractStatus, InvoiceStatus, InvoiceTitle
from contracts.services import invoices as services
from contracts.tests.factories import ContractFactory
from crm.errors import ConflictError, DomainError

D = Decimal
USCC = "91350100M000100Y43"  # a valid 统一社会信用代码
ISSUED = datetime.date(2026, 11, 20)


@pytest.fixture
def contract(org):
    return ContractFactory(owner=org.east_rep, status=ContractStatus.ACTIVE, total=D("10000.00"))


@pytest.fixture
def title(org, contract):
    return services.invoice_title_create(
        user=org.east_rep,
        customer=contract.customer,
        data={
            "title": "甲公司",
            "tax_number": USCC.lower(),
            "bank": "工商银行",
            "account": "6222000000000000",
            "address": "福州市",
            "phone": "0591-87654321",
        },
    )


def test_the_first_title_is_the_default_and_only_one_stays_default(org, contract, title):
    assert title.is_default and title.tax_number == USCC
    second = services.invoice_title_create(
        user=org.east_rep, customer=contract.customer, data={"title": "甲公司分部", "is_default": True}
    )
    assert second.is_default
    title.refresh_from_db()
    assert not title.is_default
    services.invoice_title_update(user=org.east_rep, invoice_title=title, data={"is_default": True})
    assert list(InvoiceTitle.objects.filter(is_default=True).values_list("pk", flat=True)) == [title.pk]
    with pytest.raises(DomainError):  # the default is moved, not unset
        services.invoice_title_update(user=org.east_rep, invoice_title=title, data={"is_default": False})
    services.invoice_title_delete(user=org.east_rep, invoice_title=title)
    second.refresh_from_db()
    assert second.is_default  # the remaining title takes over


@pytest.mark.parametrize("tax_number", ["91350100M000100Y44", "913501O0M000100Y43", "12345", "ABCDEFGHIJKLMNOP!"])
def test_a_bad_tax_number_is_refused(org, contract, tax_number):
    with pytest.raises(DomainError) as error:
        services.invoice_title_create(
            user=org.east_rep, customer=contract.customer, data={"title": "甲", "tax_number": tax_number}
        )
    assert "tax_number" in error.value.fields
    assert not InvoiceTitle.objects.exists()


@pytest.mark.parametrize(
    "tax_number", ["", "110108123456789", "11010812345678901", "11010812345678901234", "91350100 M000100Y43"]
)
def test_old_tax_numbers_and_blank_are_accepted(org, contract, tax_number):
    created = services.invoice_title_create(
        user=org.east_rep, customer=contract.customer, data={"title": "甲", "tax_number": tax_number}
    )
    assert created.tax_number == tax_number.replace(" ", "")


def test_a_title_needs_a_name(org, contract):
    with pytest.raises(DomainError) as error:
        services.invoice_title_create(user=org.east_rep, customer=contract.customer, data={"title": "  "})
    assert "title" in error.value.fields


def test_an_application_copies_the_title_and_later_edits_do_not_rewrite_it(org, contract, title):
    invoice = services.invoice_apply(
        user=org.east_rep, contract=contract, amount="3000", invoice_title=title, kind="special", remark="首期"
    )
    assert (invoice.title, invoice.tax_number, invoice.bank, invoice.account, invoice.address, invoice.phone) == (
        "甲公司",
        USCC,
        "工商银行",
        "6222000000000000",
        "福州市",
        "0591-87654321",
    )
    assert (invoice.status, invoice.kind, invoice.applied_by, invoice.amount) == (
        InvoiceStatus.APPLIED,
        "special",
        org.east_rep,
        D("3000.00"),
    )
    services.invoice_title_update(user=org.east_rep, invoice_title=title, data={"title": "甲公司（新）"})
    invoice.refresh_from_db()
    assert invoice.title == "甲公司"


def test_a_title_of_another_customer_is_refused(org, contract):
    other = ContractFactory(owner=org.east_rep, status=ContractStatus.ACTIVE)
    foreign = services.invoice_title_create(user=org.east_rep, customer=other.customer, data={"title": "乙公司"})
    with pytest.raises(DomainError) as error:
        services.invoice_apply(user=org.east_rep, contract=contract, amount="100", invoice_title=foreign)
    assert error.value.code == "title_not_of_customer"


@pytest.mark.parametrize("status", [ContractStatus.DRAFT, ContractStatus.PENDING, ContractStatus.VOID])
def test_invoices_only_for_approved_or_later_contracts(org, status, title):
    contract = ContractFactory(owner=org.east_rep, status=status, customer=title.customer)
    with pytest.raises(DomainError) as error:
        services.invoice_apply(user=org.east_rep, contract=contract, amount="100", invoice_title=title)
    assert error.value.code == "contract_not_approved"


def test_invoiced_total_never_exceeds_the_contract_total(org, contract, title):
    services.invoice_apply(user=org.east_rep, contract=contract, amount="6000", invoice_title=title)
    issued = services.invoice_apply(user=org.east_rep, contract=contract, amount="3999.99", invoice_title=title)
    services.invoice_issue(user=org.east_rep, invoice=issued, number="No.1", issued_date=ISSUED)
    with pytest.raises(DomainError) as error:
        services.invoice_apply(user=org.east_rep, contract=contract, amount="0.02", invoice_title=title)
    assert error.value.code == "invoice_over_total"
    assert "0.01" in str(error.value.message)
    services.invoice_apply(user=org.east_rep, contract=contract, amount="0.01", invoice_title=title)


def test_issue_ship_and_void_keep_the_contracts_invoiced_amount(org, contract, title):
    invoice = services.invoice_apply(user=org.east_rep, contract=contract, amount="2500.50", invoice_title=title)
    with pytest.raises(ConflictError):  # not issued yet
        services.invoice_ship(user=org.east_rep, invoice=invoice, tracking_number="SF100")
    invoice = services.invoice_issue(user=org.east_rep, invoice=invoice, number="04400001", issued_date=ISSUED)
    contract.refresh_from_db()
    assert contract.invoiced_amount == D("2500.50")
    assert (invoice.status, invoice.number, invoice.issued_date) == (InvoiceStatus.ISSUED, "04400001", ISSUED)
    with pytest.raises(ConflictError):  # issued once
        services.invoice_issue(user=org.east_rep, invoice=invoice, number="04400002", issued_date=ISSUED)
    invoice = services.invoice_ship(user=org.east_rep, invoice=invoice, tracking_number="SF1234567890")
    assert invoice.tracking_number == "SF1234567890"

    other = services.invoice_apply(user=org.east_rep, contract=contract, amount="100", invoice_title=title)
    with pytest.raises(ConflictError):  # the number is taken
        services.invoice_issue(user=org.east_rep, invoice=other, number="04400001", issued_date=ISSUED)

    services.invoice_void(user=org.east_rep, invoice=invoice)
    contract.refresh_from_db()
    assert contract.invoiced_amount == 0
    services.invoice_void(user=org.east_rep, invoice=other)
    contract.refresh_from_db()
    assert contract.invoiced_amount == 0


def test_merging_customers_moves_the_invoice_titles_keeping_the_survivors_default(org, contract, title):
    from customers import services as customer_services
    from customers.tests.factories import CustomerFactory

    assert customer_services.MERGE_MOVERS["invoice_titles"] is services.invoice_titles_merge
    other = CustomerFactory(owner=org.east_rep)
    theirs = services.invoice_title_create(user=org.east_rep, customer=other, data={"title": "乙公司"})
    assert theirs.is_default
    assert services.invoice_titles_merge(user=org.east_rep, survivor=contract.customer, other=other) == 1
    theirs.refresh_from_db()
    title.refresh_from_db()
    assert (theirs.customer_id, theirs.is_default, title.is_default) == (contract.customer_id, False, True)
