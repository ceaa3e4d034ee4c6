"""Demo customers for ``seed_demo``: lists (tags, sources, industries), one custom field, and a few
dozen customers with contacts spread over the demo staff — written through the services, like
any user's input."""

import random
from datetime import timedelta

from django.utils import timezone

from customers import services
from customers.models import CustomerLevel, CustomField, Industry, Source, Tag

TAGS = [("VIP", "#dc3545"), ("老客户", "#198754"), ("有预算", "#0d6efd"), ("需回访", "#fd7e14")]
SOURCES = ["官网咨询", "电话营销", "展会", "老客户介绍", "地推", "网络推广"]
INDUSTRIES = ["制造业", "零售", "信息技术", "房地产", "教育培训", "医疗健康", "物流"]
COMPANIES = [
    "华为技术（上海）有限公司", "上海明远贸易有限公司", "杭州云帆科技有限公司", "深圳前海智联股份有限公司",
    "南京金陵制药有限公司", "广州南方物流有限公司", "北京华夏教育科技有限公司", "成都天府软件有限公司",
    "苏州工业园区精密机械有限公司", "武汉长江建材有限公司", "西安秦川电子有限公司", "重庆山城火锅餐饮管理有限公司",
    "青岛海湾食品有限公司", "厦门鹭岛旅游有限公司", "天津滨海新材料有限公司", "宁波港城进出口有限公司",
    "合肥科大讯联信息技术有限公司", "长沙湘江医疗器械有限公司", "郑州中原百货有限公司", "昆明春城花卉有限公司",
]  # fmt: skip
PEOPLE = ["张明", "李静", "王磊", "刘芳", "陈晨", "杨帆", "赵敏", "黄涛", "周婷", "吴昊", "徐丽", "孙强"]
# (province, city, district) codes: 上海浦东, 杭州西湖, 深圳南山, 北京海淀, 成都武侯
REGIONS = [("310000", "310100", "310115"), ("330000", "330100", "330106"), ("440000", "440300", "440305"),
           ("110000", "110100", "110108"), ("510000", "510100", "510107")]  # fmt: skip


def load_demo(users):
    """``users``: the demo staff who own customers (sales roles)."""
    rng = random.Random(2026)  # the same demo data on every machine
    tags = [Tag.objects.get_or_create(name=name, defaults={"color": color})[0] for name, color in TAGS]
    sources = [Source.objects.get_or_create(name=name, defaults={"order": i})[0] for i, name in enumerate(SOURCES)]
    industries = [
        Industry.objects.get_or_create(name=name, defaults={"order": i})[0] for i, name in enumerate(INDUSTRIES)
    ]
    CustomField.objects.get_or_create(
        target="customer",
        key="annual_budget",
        defaults={"label": "年度预算（万元）", "type": "number", "order": 1},
    )
    CustomField.objects.get_or_create(
        target="customer",
        key="purchase_channel",
        defaults={"label": "采购方式", "type": "choice", "choices": ["招标", "询价", "直采"], "order": 2},
    )
    levels = list(CustomerLevel.objects.all())
    now = timezone.now()
    for index, name in enumerate(COMPANIES):
        owner = users[index % len(users)]
        province, city, district = REGIONS[index % len(REGIONS)]
        customer = services.customer_create(
            user=owner,
            data={
                "name": name,
                "mobile": f"139{rng.randrange(10**8):08d}",
                "phone": f"021-6{rng.randrange(10**7):07d}",
                "email": f"contact{index}@example.com",
                "level": levels[index % len(levels)].pk if levels else None,
                "source": rng.choice(sources).pk,
                "industry": rng.choice(industries).pk,
                "tags": [tag.pk for tag in rng.sample(tags, rng.randint(0, 2))],
                "province": province,
                "city": city,
                "district": district,
                "address": f"科技路{rng.randint(1, 999)}号",
                "next_follow_up_at": (now + timedelta(days=rng.randint(-3, 14))).isoformat(),
                "custom_fields": {
                    "annual_budget": rng.randint(5, 500),
                    "purchase_channel": rng.choice(["招标", "询价"]),
                },
            },
        )
        for position in range(rng.randint(1, 3)):
            services.contact_create(
                user=owner,
                customer=customer,
                data={
                    "name": rng.choice(PEOPLE),
                    "title": rng.choice(["总经理", "采购经理", "技术总监", "财务"]),
                    "mobile": f"137{rng.randrange(10**8):08d}",
                    "is_primary": position == 0,
                },
            )
