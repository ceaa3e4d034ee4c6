"""Demo products and contracts for ``seed_demo`` (after the deals): a small product catalogue, and
for each won demo deal a contract drafted from it through the services (numbered, its amount as
one line of a product, a one-year term from the deal's close). Approval is the approval chain's
job, so the demo contracts stay drafts; the chain's demo can submit and approve them."""

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from contracts.models import Product
from contracts.services import contracts as services
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
