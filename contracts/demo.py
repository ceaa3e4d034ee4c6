"""Demo products and contracts for ``seed_demo`` (after the deals):

- a small product catalogue;
- for each won demo deal a contract drafted from it through the services (numbered, its amount
  as one line of a product, a one-year term from the deal's close) — these stay drafts, for the
  approval chain's demo to submit and approve;
- a sales history of ``HISTORY_MONTHS`` months (``load_demo_history``), so the sales reports have
  something to show: 4–8 contracts a month for the demo's owned customers, by their owners, with
  1–3 lines of the catalogue at list price (some discounted), approved on the signing day, active
  a week later and completed once their one-year term is over; a two-instalment payment plan
  each, and confirmed payments — most instalments paid around their due date, a few in part or
  not yet (overdue receivables for the ageing report).

The history is written in bulk with the services' rules rather than contract by contract through
them (some 65 queries a contract — a minute on a busy machine): numbers from
``contract_number_next`` on the signing day (gap-free, HT + that date), line subtotals by
``line_subtotal`` and the total their sum, the owner's department, instalments adding up to the
total, paid amounts equal to the confirmed payments, plan statuses by ``plans_refresh_statuses``,
the customer 已成交 from its first contract's signing day (``customer_dealt``, as approval does)
and a profile recompute scheduled. Only the approval chain's own records are skipped.
Deterministic (seeded random, dates relative to today) and idempotent (written once, recognised
by its remark)."""

import calendar
import datetime
import random
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from contracts.models import (
    Contract,
    ContractLine,
    ContractStatus,
    Payment,
    PaymentMethod,
    PaymentPlan,
    PaymentStatus,
    Product,
)
from contracts.services import contracts as services
from contracts.services.payments import plans_refresh_statuses
from opportunities.models import Opportunity, StageKind

# code, name, category, unit, list price
PRODUCTS = [
    ("ERP-STD", "ERP 标准版", "软件", "套", "58000.00"),
    ("ERP-PRO", "ERP 专业版", "软件", "套", "128000.00"),
    ("CRM-SUB", "CRM 订阅（年）", "订阅", "用户·年", "1980.00"),
    ("IMPL-DAY", "实施服务", "服务", "人天", "2500.00"),
    ("TRAIN", "培训服务", "服务", "场", "6800.00"),
    ("OPS-YEAR", "年度运维", "服务", "年", "36000.00"),
]


HISTORY_MONTHS = 18
HISTORY_REMARK = "演示数据：历史销售合同"
# How many of a product one line sells, by product code (default 1–2).
QUANTITIES = {"CRM-SUB": (10, 20, 30, 50, 100), "IMPL-DAY": (5, 10, 15, 20, 30, 40), "TRAIN": (1, 2, 3, 4)}
DISCOUNTS = ("0", "0", "0", "0.05", "0.1")
METHODS = (PaymentMethod.WIRE, PaymentMethod.WIRE, PaymentMethod.ONLINE, PaymentMethod.CHEQUE, PaymentMethod.ALIPAY)


def load_demo():
    rng = random.Random(2027)  # the same demo data on every machine
    products = {}
    for code, name, category, unit, price in PRODUCTS:
        product, _created = Product.objects.get_or_create(
            code=code, defaults={"name": name, "category": category, "unit": unit, "price": Decimal(price)}
        )
        products[code] = product
    catalogue = list(products.values())
    won = Opportunity.objects.filter(stage__kind=StageKind.WON, owner__isnull=False).select_related(
        "stage", "owner", "customer"
    )
    for deal in won.order_by("pk"):
        if deal.contracts.exists():
            continue
        contract = services.contract_draft_from_opportunity(
            user=deal.owner, opportunity=deal, product=rng.choice(catalogue)
        )
        start = (deal.won_at or timezone.now()).astimezone(timezone.get_current_timezone()).date()
        services.contract_update(
            user=deal.owner,
            contract=contract,
            version=contract.version,
            data={"signed_date": start, "start_date": start, "end_date": start + timedelta(days=364)},
        )
    load_demo_history(catalogue)


def _month_start(today, back):
    index = today.year * 12 + today.month - 1 - back
    return datetime.date(index // 12, index % 12 + 1, 1)


def _at(day, hour):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def load_demo_history(catalogue, *, today=None):
    """About ``HISTORY_MONTHS`` months of approved sales with lines, plans and confirmed payments
    (see the module docstring). Written once: a second run finds the history and does nothing.
    About 120 contracts in ~130 queries (one per contract number, then bulk inserts)."""
    from analytics.services import profile_recompute_schedule
    from customers.models import Customer
    from customers.services import customer_dealt

    if not catalogue or Contract.objects.filter(remark=HISTORY_REMARK).exists():
        return
    rng = random.Random(2028)  # the same history on every machine
    today = today or timezone.localdate()
    customers = list(
        Customer.objects.alive().filter(owner__isnull=False).select_related("owner__department__leader").order_by("pk")
    )
    if not customers:
        return
    drafts = []  # (contract, lines, [(plan, [payments])]) in signing order
    for back in range(HISTORY_MONTHS - 1, -1, -1):
        first = _month_start(today, back)
        last = min(first.replace(day=calendar.monthrange(first.year, first.month)[1]), today)
        days = sorted(first + timedelta(days=rng.randrange((last - first).days + 1)) for _ in range(rng.randint(4, 8)))
        for signed in days:
            drafts.append(_history_contract(rng, rng.choice(customers), signed, catalogue, today))

    # Parents first, so the children can point at their primary keys (bulk_create sets them).
    Contract.objects.bulk_create([contract for contract, _lines, _plans in drafts])
    lines, plans, payments = [], [], []
    for contract, contract_lines, pairs in drafts:
        for line in contract_lines:
            line.contract = contract
            lines.append(line)
        for plan, plan_payments in pairs:
            plan.contract = contract
            plans.append(plan)
            for payment in plan_payments:
                payment.contract, payment.plan = contract, plan
                payments.append(payment)
    ContractLine.objects.bulk_create(lines)
    PaymentPlan.objects.bulk_create(plans)
    Payment.objects.bulk_create(payments)
    plans_refresh_statuses(plans=PaymentPlan.objects.filter(contract__remark=HISTORY_REMARK), today=today)
    first_signed = {}
    for contract, _lines, _plans in drafts:
        first_signed.setdefault(contract.customer_id, contract.signed_date)
    for customer_id, signed in first_signed.items():
        customer_dealt(customer_id=customer_id, at=_at(signed, 0))
    profile_recompute_schedule(customer_ids=list(first_signed))


def _history_contract(rng, customer, signed, catalogue, today):
    owner = customer.owner
    products = rng.sample(catalogue, rng.randint(1, min(3, len(catalogue))))
    lines = []
    for order, product in enumerate(products):
        quantity = Decimal(rng.choice(QUANTITIES.get(product.code, (1, 1, 2))))
        discount = Decimal(rng.choice(DISCOUNTS))
        subtotal = services.line_subtotal(quantity, product.price, discount)
        lines.append(
            ContractLine(
                product=product,
                quantity=quantity,
                unit_price=product.price,
                discount_rate=discount,
                subtotal=subtotal,
                order=order,
            )
        )
    total = sum((line.subtotal for line in lines), Decimal(0))
    end = signed + timedelta(days=364)
    completed = end < today
    if (today - signed).days < 7:
        status = ContractStatus.APPROVED
    else:
        status = ContractStatus.COMPLETED if completed else ContractStatus.ACTIVE
    contract = Contract(
        number=services.contract_number_next(day=signed),
        customer=customer,
        owner=owner,
        department_id=owner.department_id,
        created_by=owner,
        title=f"{customer.name[:12]} · {'、'.join(product.name for product in products)}"[:200],
        total=total,
        signed_date=signed,
        start_date=signed,
        end_date=end,
        remark=HISTORY_REMARK,
        status=status,
        submitted_at=_at(signed, 9),
        approved_at=_at(signed, 17),
    )
    half = (total / 2).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    # Confirmed by the department's leader (who holds the confirm permission in the demo).
    leader = owner.department.leader if owner.department and owner.department.leader_id else owner
    pairs = []
    for number, (due, amount, remark, chance) in enumerate(
        [
            (signed + timedelta(days=15), half, "首付款", 0.9),
            (signed + timedelta(days=105), total - half, "尾款", 0.65),
        ],
        start=1,
    ):
        plan = PaymentPlan(number=number, due_date=due, amount=amount, remark=remark)
        payments = []
        if due <= today + timedelta(days=10) and (completed or rng.random() < chance):
            paid_on = min(today, max(signed, due + timedelta(days=rng.randint(-10, 30))))
            paid = amount if completed or rng.random() >= 0.1 else (amount / 2).quantize(Decimal("0.01"))
            payments.append(
                Payment(
                    amount=paid,
                    date=paid_on,
                    method=rng.choice(METHODS),
                    status=PaymentStatus.CONFIRMED,
                    entered_by=owner,
                    confirmed_by=leader,
                    confirmed_at=_at(paid_on, 16),
                )
            )
            plan.paid_amount = paid
        contract.paid_amount += plan.paid_amount
        pairs.append((plan, payments))
    return contract, lines, pairs
