"""Contracts: a few hundred products in categories, 1,000,000 contracts on the loaded customers
(owner and department the customer's; a won deal's contract linked to the deal) signed over three
years, 5,000,000 lines, payment plans and payments.

Consistent the way the services keep it: every line's subtotal is quantity × unit price × (1 −
discount) to the fen (half up) and the contract's total is the sum of its lines; a plan's
instalments add up to the total; ``paid_amount`` of a plan and of a contract is the sum of their
confirmed payments (the other statuses count for nothing); numbers are HT + the creation day
(Asia/Shanghai) + a gap-free 6-digit daily sequence, with one ``contracts_contractsequence`` row
per day holding its last number. Money is integer fen throughout (no float).

Scenarios (department-scoped manager): the list's first page, the list filtered by status and a
signed-date range, and a contract's detail with its payment plan and payments. Issue 10 names no
contract targets: these borrow the customers' (list 20/40, filtered list 30/60, a detail page of
several calls 60/120 ms)."""

import random
import tempfile
from bisect import bisect
from datetime import timedelta
from itertools import accumulate

from bench.apps.customers import CUSTOMER_360, NOW
from bench.registry import generator, get, scenario

CONTRACTS = 1_000_000
PRODUCTS = 300
SHANGHAI = timedelta(hours=8)
TODAY = (NOW + SHANGHAI).date()
DAYS = 3 * 365
# Categories: (name, unit, price range in yuan, quantity range).
CATEGORIES = [
    ("软件授权", "套", (2_000, 200_000), (1, 3)),
    ("云服务", "年", (1_000, 80_000), (1, 2)),
    ("服务器", "台", (8_000, 120_000), (1, 4)),
    ("网络设备", "台", (500, 40_000), (1, 10)),
    ("办公设备", "台", (300, 20_000), (1, 20)),
    ("办公耗材", "箱", (20, 800), (1, 100)),
    ("实施服务", "人天", (800, 3_000), (5, 40)),
    ("运维服务", "年", (5_000, 150_000), (1, 1)),
    ("培训服务", "人次", (300, 5_000), (5, 50)),
    ("安防设备", "套", (1_000, 60_000), (1, 10)),
    ("原材料", "吨", (2_000, 30_000), (1, 20)),
    ("工业配件", "件", (10, 2_000), (10, 200)),
]
MODELS = ["标准版", "专业版", "企业版", "旗舰版", "基础型", "增强型", "A 型", "B 型", "C 型", "Pro", "Max", "Lite"]
# (status, weight, days ago the contract was created: low, high). Mostly approved or later.
STATUSES = [
    ("completed", 33, (200, DAYS)),
    ("active", 30, (0, 400)),
    ("approved", 12, (0, 60)),
    ("expired", 5, (365, DAYS)),
    ("terminated", 2, (60, DAYS)),
    ("draft", 6, (0, 45)),
    ("pending", 4, (0, 20)),
    ("rejected", 2, (0, 60)),
    ("withdrawn", 2, (0, 60)),
    ("void", 4, (0, DAYS)),
]
NULL = "\\N"  # COPY's NULL
SALES = {"approved", "active", "completed", "expired", "terminated"}
LINE_COUNTS = (1, 2, 3, 4, 5, 6, 7, 8, 9)
LINE_WEIGHTS = (6, 10, 13, 15, 16, 14, 11, 8, 7)  # about 4.9 lines a contract
DISCOUNTS = (0, 0, 0, 0, 500, 800, 1000, 1500, 2000)  # basis points (0.05 = 500)
METHODS = ("wire", "wire", "wire", "online", "online", "cheque", "alipay", "wechat", "cash", "other")
TITLES = ["采购合同", "框架协议", "服务合同", "年度合同", "项目合同", "供货合同", "技术服务合同"]
CONTRACT_TABLES = (
    "contracts_product",
    "contracts_contract",
    "contracts_contractline",
    "contracts_contractsequence",
    "contracts_paymentplan",
    "contracts_payment",
)


def yuan(fen):
    """Integer fen as a decimal text (no float): 123456 → '1234.56'."""
    return f"{fen // 100}.{fen % 100:02d}"


def stamp(day, seconds):
    """A local day and seconds into it, as a timestamp with its offset."""
    return f"{day.isoformat()} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}+08"


def signed_day(created):
    """Contracts are signed two days after they are drafted (never after today)."""
    return min(created + timedelta(days=2), TODAY)


def _products(rng):
    rows = []
    for number in range(1, PRODUCTS + 1):
        category, unit, (low, high), _quantity = CATEGORIES[(number - 1) % len(CATEGORIES)]
        price = rng.randrange(low * 100, high * 100) // 100 * 100  # whole yuan
        rows.append((number, f"P{number:05d}", f"{category}{rng.choice(MODELS)}-{number:03d}", category, unit, price))
    return rows


UNDER_CONTRACT = ("contracts_paymentplan", "contracts_payment")


@generator(
    "contracts",
    after=["customers", "opportunities"],
    tables=CONTRACT_TABLES,
    version=2,
)
def contracts(load):
    rng = random.Random("contracts")
    products = _products(rng)
    load.copy(
        "contracts_product",
        ["id", "code", "name", "category", "unit", "price", "active", "created_at", "updated_at"],
        (
            (pk, code, name, category, unit, yuan(price), True, NOW.isoformat(), NOW.isoformat())
            for pk, code, name, category, unit, price in products
        ),
    )
    load.reset_sequence("contracts_product")
    quantities = {category: quantity for category, _unit, _price, quantity in CATEGORIES}

    customers = load.execute(
        "SELECT id, owner_id, department_id FROM customers_customer "
        "WHERE owner_id IS NOT NULL AND deleted_at IS NULL ORDER BY id"
    ).fetchall()
    signatories = dict(
        load.execute("SELECT customer_id, min(id) FROM customers_contact WHERE is_primary GROUP BY customer_id")
    )
    # Won deals of live customers: one contract each, for the deal's customer, signed after the win.
    won = load.execute(
        "SELECT o.id, c.id, c.owner_id, c.department_id, (o.won_at AT TIME ZONE 'Asia/Shanghai')::date "
        "FROM opportunities_opportunity o JOIN customers_customer c ON c.id = o.customer_id "
        "WHERE o.won_at IS NOT NULL AND c.deleted_at IS NULL AND c.owner_id IS NOT NULL ORDER BY o.id"
    ).fetchall()
    count = load.count(CONTRACTS)
    won = won[: count // 5]
    status_names = [name for name, _weight, _days in STATUSES]
    status_cumulative = list(accumulate(weight for _name, weight, _days in STATUSES))
    status_days = {name: days for name, _weight, days in STATUSES}
    line_cumulative = list(accumulate(LINE_WEIGHTS))

    # 1. Each contract's who and when, in creation order (numbers are handed out in that order).
    skeletons = []
    for index in range(count):
        status = status_names[bisect(status_cumulative, rng.random() * status_cumulative[-1])]
        if index < len(won):
            deal, customer, owner, department, won_day = won[index]
            created = min(won_day + timedelta(days=rng.randrange(0, 10)), TODAY)
            if (TODAY - created).days < status_days[status][0]:  # too recent for that status
                status = "active" if status in SALES else status
        else:
            deal = None
            customer, owner, department = customers[rng.randrange(len(customers))]
            low, high = status_days[status]
            created = TODAY - timedelta(days=rng.randrange(low, high + 1))
        skeletons.append((created, rng.randrange(9 * 3600, 19 * 3600), status, customer, owner, department, deal))
    skeletons.sort(key=lambda row: (row[0], row[1]))

    # 2. Lines: their subtotals make each contract's total.
    totals = [0] * count
    line_categories = [""] * count

    def line_rows():
        for index in range(count):
            lines = LINE_COUNTS[bisect(line_cumulative, rng.random() * line_cumulative[-1])]
            total = 0
            for order in range(lines):
                product_id, _code, _name, category, _unit, price = products[rng.randrange(PRODUCTS)]
                low, high = quantities[category]
                quantity = rng.randint(low, high)
                discount = DISCOUNTS[rng.randrange(len(DISCOUNTS))]
                subtotal = (price * quantity * (10_000 - discount) + 5_000) // 10_000  # half up, to the fen
                total += subtotal
                if order == 0:
                    line_categories[index] = category
                yield (
                    f"{index + 1}\t{product_id}\t{quantity}.00\t{yuan(price)}\t0.{discount:04d}\t"
                    f"{yuan(subtotal)}\t{order}"
                )
            totals[index] = total

    load.copy_text(
        "contracts_contractline",
        ["contract_id", "product_id", "quantity", "unit_price", "discount_rate", "subtotal", '"order"'],
        line_rows(),
    )

    # The instalments and payments carry their contract's customer, owner and department
    # (contracts.models.UnderContract), written here: the contracts are copied after them, so the
    # trigger that copies those from the contract is off while they load.
    for table in UNDER_CONTRACT:
        load.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_scope")

    # 3. Payment plans (approved contracts and later: 1–3 instalments adding up to the total) and
    # payments against them — confirmed mostly, the rest (unconfirmed, pending, rejected, void) not
    # counted; plan and contract paid amounts are the confirmed sums.
    paid = [0] * count
    payments = tempfile.TemporaryFile("w+", encoding="utf-8")  # COPYed after the plans
    payment_count = 0

    def plan_rows():
        nonlocal payment_count
        plan_id = payment_id = 0
        for index, (created, seconds, status, customer, owner, department, _deal) in enumerate(skeletons):
            if status not in SALES:
                continue
            total = totals[index]
            signed = signed_day(created)
            instalments = rng.choice((1, 1, 2, 2, 3)) if total >= 300 else 1
            shares = {1: (100,), 2: (50, 50), 3: (30, 40, 30)}[instalments]
            amounts = [total * share // 100 for share in shares]
            amounts[-1] = total - sum(amounts[:-1])
            for number, amount in enumerate(amounts, start=1):
                plan_id += 1
                due = signed + timedelta(days=30 + 90 * (number - 1))
                overdue = due < TODAY
                roll = rng.random()
                if status == "completed" or (overdue and roll < 0.8):
                    confirmed = [amount]
                elif (overdue and roll < 0.9) or (not overdue and roll < 0.15):
                    part = amount * rng.randint(30, 70) // 100
                    confirmed = [part] if 0 < part < amount else []
                else:
                    confirmed = []
                plan_paid = sum(confirmed)
                other = []  # a payment not (yet) counted: its amount still outstanding
                if plan_paid < amount and rng.random() < 0.3:
                    other.append((rng.choice(("unconfirmed", "pending", "rejected", "void")), amount - plan_paid))
                for kind, value in [("confirmed", value) for value in confirmed] + other:
                    payment_id += 1
                    day = min(due + timedelta(days=rng.randrange(-20, 25)), TODAY)
                    day = max(day, signed)
                    at = stamp(day, 10 * 3600)
                    confirmer, confirmed_at = (str(owner), at) if kind == "confirmed" else (NULL, NULL)
                    payments.write(
                        f"{payment_id}\t{index + 1}\t{plan_id}\t{yuan(value)}\t{day.isoformat()}\t"
                        f"{METHODS[payment_id % len(METHODS)]}\t\t{kind}\t{owner}\t{confirmer}\t{confirmed_at}\t"
                        f"{at}\t{at}\t{customer}\t{owner}\t{department}\n"
                    )
                    payment_count += 1
                paid[index] += plan_paid
                if status == "terminated" and plan_paid < amount and not overdue:
                    plan_status = "void"
                elif plan_paid == amount:
                    plan_status = "paid"
                elif plan_paid:
                    plan_status = "partial"
                else:
                    plan_status = "overdue" if overdue else "pending"
                at = stamp(signed, seconds)
                yield (
                    f"{plan_id}\t{index + 1}\t{number}\t{due.isoformat()}\t{yuan(amount)}\t3\t{yuan(plan_paid)}\t"
                    f"{plan_status}\t\t{at}\t{at}\t{customer}\t{owner}\t{department}"
                )

    load.copy_text(
        "contracts_paymentplan",
        [
            "id", "contract_id", "number", "due_date", "amount", "reminder_days", "paid_amount", "status", "remark",
            "created_at", "updated_at", "customer_id", "owner_id", "department_id",
        ],
        plan_rows(),
    )  # fmt: skip
    payments.seek(0)
    load.copy_text(
        "contracts_payment",
        [
            "id", "contract_id", "plan_id", "amount", "date", "method", "remark", "status", "entered_by_id",
            "confirmed_by_id", "confirmed_at", "created_at", "updated_at", "customer_id", "owner_id",
            "department_id",
        ],
        (line.rstrip("\n") for line in payments),
    )  # fmt: skip
    payments.close()
    for table in UNDER_CONTRACT:
        load.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_scope")

    # 4. The contracts, numbered per creation day; the sequence rows hold each day's last number.
    sequences = {}

    def contract_rows():
        for index, (created, seconds, status, customer, owner, department, deal) in enumerate(skeletons):
            sequence = sequences[created] = sequences.get(created, 0) + 1
            at = stamp(created, seconds)
            signed = start = end = submitted = approved = voided = NULL
            if status != "draft" or rng.random() < 0.5:
                signed_on = signed_day(created)
                signed, start = signed_on.isoformat(), signed_on.isoformat()
                end = (signed_on + timedelta(days=rng.choice((180, 364, 364, 729)))).isoformat()
            if status != "draft":
                submitted = stamp(created, seconds + 600)
            if status in SALES or (status == "void" and rng.random() < 0.5):
                approved = stamp(created + timedelta(days=1), seconds)
            if status == "void":
                voided = stamp(created + timedelta(days=3), seconds)
            title = f"{line_categories[index]}{TITLES[index % len(TITLES)]}"
            deal = NULL if deal is None else deal
            signatory = signatories.get(customer, NULL)
            yield (
                f"{index + 1}\tHT{created:%Y%m%d}{sequence:06d}\t{customer}\t{deal}\t"
                f"{title}\t{yuan(totals[index])}\t{signed}\t{start}\t{end}\t"
                f"{signatory}\t\t{status}\t{submitted}\t{approved}\t{voided}\t{NULL}\t"
                f"{yuan(paid[index])}\t0.00\t1\t{owner}\t{department}\t{owner}\t{at}\t{at}"
            )

    load.copy_text(
        "contracts_contract",
        [
            "id", "number", "customer_id", "opportunity_id", "title", "total", "signed_date", "start_date",
            "end_date", "signatory_id", "remark", "status", "submitted_at", "approved_at", "voided_at",
            "renewed_from_id", "paid_amount", "invoiced_amount", "version", "owner_id", "department_id",
            "created_by_id", "created_at", "updated_at",
        ],
        contract_rows(),
    )  # fmt: skip
    load.copy(
        "contracts_contractsequence",
        ["prefix", "day", "last"],
        sorted(("HT", day, last) for day, last in sequences.items()),
    )
    for table in ("contracts_contract", "contracts_paymentplan", "contracts_payment", "contracts_contractsequence"):
        load.reset_sequence(table)


# --- scenarios ---------------------------------------------------------------------------------

CONTRACTS_API = "/api/v1/contracts/"
# (statuses, days back from today of the signed-date range's start, its length in days)
FILTERS = [
    (["active"], 90, 90),
    (["completed"], 365, 180),
    (["approved", "active"], 30, 30),
    (["active", "completed"], 180, 120),
    (["expired"], 730, 365),
    (["completed"], 730, 60),
]


def visible_contract_ids(ctx, scope, limit=200):
    """Up to ``limit`` contracts the scope's user sees, spread over the scope (fixed per run)."""

    def pick():
        from contracts.models import Contract

        ids = list(Contract.objects.visible_to(ctx.user(scope)).order_by("id").values_list("id", flat=True)[:50_000])
        return ctx.rng.sample(ids, min(limit, len(ids)))

    return ctx.memo(f"contracts.visible.{scope}", pick)


@scenario(
    "contracts.list",
    "contract list, first page of 20, department-scoped manager, default order",
    user="department",
    target=(20, 40),
)
def contract_list(ctx, i):
    return get(CONTRACTS_API, {"page_size": 20})


@scenario(
    "contracts.filter",
    "contract list filtered by status + signed-date range",
    user="department",
    target=(30, 60),
)
def contract_filter(ctx, i):
    statuses, back, length = FILTERS[i % len(FILTERS)]
    start = TODAY - timedelta(days=back)
    return get(
        CONTRACTS_API,
        {
            "page_size": 20,
            "status": statuses,
            "signed_after": start.isoformat(),
            "signed_before": min(start + timedelta(days=length), TODAY).isoformat(),
        },
    )


@scenario(
    "contracts.detail",
    "contract detail + its payment plans and payments",
    user="department",
    target=(60, 120),
)
def contract_detail(ctx, i):
    ids = visible_contract_ids(ctx, "department")
    contract_id = ids[i % len(ids)]
    return [
        get(f"{CONTRACTS_API}{contract_id}/"),
        get("/api/v1/payment-plans/", {"contract": contract_id, "page_size": 20}),
        get("/api/v1/payments/", {"contract": contract_id, "page_size": 20}),
    ]


# The customer 360 page: the customer's contracts.
CUSTOMER_360.append(lambda customer_id: get("/api/v1/contracts/", {"customer": customer_id, "page_size": 20}))
