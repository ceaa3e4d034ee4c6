"""Demo deals for ``seed_demo``: one to three deals per demo customer, spread over the stages of
the default pipeline, moved there step by step through the services (so each has its stage
history), a few won and a few lost with a reason."""

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from customers.models import Customer
from opportunities import services
from opportunities.models import LostReason, Stage

PRODUCTS = ["ERP 实施", "CRM 订阅", "年度运维", "私有化部署", "数据迁移", "培训服务"]
# The stage a demo deal ends in, with its weight in the draw.
ENDINGS = [("lead", 3), ("opportunity", 3), ("proposal", 3), ("negotiation", 2), ("won", 2), ("lost", 1)]
PATH = ["lead", "opportunity", "proposal", "negotiation", "won"]


def load_demo():
    rng = random.Random(2026)  # the same demo data on every machine
    group = services.stage_group_ensure_default()
    stages = {stage.code: stage for stage in Stage.objects.filter(group=group)}
    reasons = list(LostReason.objects.filter(is_active=True))
    today = timezone.localdate()
    codes = [code for code, weight in ENDINGS for _ in range(weight)]
    for customer in Customer.objects.select_related("owner").order_by("pk"):
        owner = customer.owner
        if owner is None:
            continue
        for _ in range(rng.randint(1, 3)):
            ending = rng.choice(codes)
            deal = services.opportunity_create(
                user=owner,
                data={
                    "customer": customer.pk,
                    "title": f"{customer.name[:12]} · {rng.choice(PRODUCTS)}",
                    "amount": str(Decimal(rng.randrange(5, 500) * 1000)),
                    "stage": stages["lead"].pk,
                    "expected_close_date": (today + timedelta(days=rng.randint(-10, 120))).isoformat(),
                },
            )
            walk = PATH[: PATH.index(ending) + 1] if ending != "lost" else PATH[: rng.randint(1, 3)] + ["lost"]
            for code in walk[1:]:
                if code != "lost" and rng.random() < 0.2:
                    continue  # now and then a stage is skipped on the way forward
                deal, _actions = services.opportunity_move(
                    user=owner,
                    opportunity=deal,
                    stage=stages[code],
                    version=deal.version,
                    lost_reason=rng.choice(reasons) if code == "lost" and reasons else None,
                )
