"""Demo follow-ups and tasks for ``seed_demo``, written through the services like any user's."""

import random
from datetime import timedelta

from django.utils import timezone

from activities import services
from customers.models import Customer

NOTES = [
    ("call", "电话沟通了采购计划，客户下月有预算"),
    ("visit", "上门拜访，演示了新产品，客户反馈积极"),
    ("wechat", "微信发送了报价单"),
    ("meeting", "与对方技术负责人开会确认需求"),
    ("email", "邮件发送了合同草稿"),
]


def load_demo(users):
    rng = random.Random(2027)
    now = timezone.now()
    for customer in Customer.objects.filter(owner__in=users).select_related("owner").order_by("pk"):
        owner = customer.owner
        for days_ago in sorted(rng.sample(range(1, 30), rng.randint(1, 3)), reverse=True):
            kind, note = rng.choice(NOTES)
            services.follow_up_create(
                user=owner,
                customer=customer,
                type=kind,
                content=note,
                occurred_at=now - timedelta(days=days_ago, hours=rng.randint(0, 8)),
            )
        if rng.random() < 0.5:
            services.follow_up_create(
                user=owner,
                customer=customer,
                type="call",
                content="约了下次沟通时间",
                occurred_at=now - timedelta(hours=rng.randint(1, 20)),
                next_follow_up_at=now + timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 6)),
                create_task=True,
            )
    for user in users:
        services.task_create(user=user, title="整理本周客户拜访记录", due_at=now + timedelta(hours=3))
        services.task_create(user=user, title="提交月度销售预测", due_at=now - timedelta(days=1), priority="high")
