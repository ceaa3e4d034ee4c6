"""Customers and contacts: 500,000 customers (companies with near-duplicate spellings, people),
1,000,000 contacts, tags, custom fields, team members, history; and the customer scenarios."""

import random
import re
import unicodedata
from datetime import UTC, datetime, timedelta

from bench.registry import batch_job, generator, get, post, scenario
from bench.words import (
    CITIES,
    MAIL_DOMAINS,
    STREETS,
    TITLES,
    CompanyNames,
    landline,
    latin_word,
    mobile,
    person_name,
)

CUSTOMERS = 500_000
CONTACTS = 1_000_000
TAGS = [
    ("VIP", "#dc3545"), ("老客户", "#198754"), ("有预算", "#0d6efd"), ("需回访", "#fd7e14"), ("高意向", "#6f42c1"),
    ("价格敏感", "#20c997"), ("决策链长", "#6c757d"), ("渠道客户", "#0dcaf0"), ("政府项目", "#d63384"),
    ("外资企业", "#198754"), ("上市公司", "#ffc107"), ("潜在流失", "#dc3545"),
]  # fmt: skip
SOURCES = ["官网咨询", "电话营销", "展会", "老客户介绍", "地推", "网络推广", "合作伙伴", "招投标"]
INDUSTRIES = [
    "制造业", "零售", "信息技术", "房地产", "教育培训", "医疗健康", "物流", "金融", "餐饮", "建筑", "能源",
    "农业", "汽车", "化工", "服装纺织", "文化传媒", "政府机构", "电子通信", "食品饮料", "咨询服务",
]  # fmt: skip
CUSTOM_FIELDS = [
    ("annual_budget", "年度预算（万元）", "number", []),
    ("employees", "员工人数", "number", []),
    ("purchase_channel", "采购方式", "choice", ["招标", "询价", "直采"]),
    ("founded", "成立日期", "date", []),
    ("key_account", "战略客户", "boolean", []),
]
FOLLOW_UP_NOTES = [
    "电话沟通，客户有采购意向",
    "上门拜访，演示产品",
    "发送报价单",
    "微信跟进，等待回复",
    "客户要求下周再联系",
]
# Data is generated relative to the day it is loaded (9:00 UTC), scenarios relative to the day they run.
# The last 9:00 UTC that has passed: before 9:00 UTC today's would lie in the future, and with it
# the newest follow-ups (the harness test's "within the last three years" check saw them).
NOW = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
if NOW > datetime.now(UTC):
    NOW -= timedelta(days=1)
THREE_YEARS = 3 * 365 * 86400
CUSTOMER_TABLES = (
    "customers_customer",
    "customers_customer_tags",
    "customers_contact",
    "customers_customerteammember",
    "customers_historicalcustomer",
)


# --- name_key ----------------------------------------------------------------------------------
# HOOK (issue 4, duplicate check): the duplicate-check helper's own rule, once
# customers.duplicates.normalize_company_name is on main; until then the same idea here (NFKC
# full-width → half-width, region and legal form dropped, punctuation and spaces removed). Delete
# the stand-in when the import always succeeds.
_REGION = "|".join(sorted({*CITIES, *(f"{city}市" for city in CITIES)}, key=len, reverse=True))
_REGION_PREFIX = re.compile(rf"^(?:{_REGION})|\((?:{_REGION})\)")
_NOT_WORD = re.compile(r"[\W_]+")
_LEGAL_SUFFIX = re.compile(r"(?:股份有限公司|有限责任公司|集团有限公司|有限公司|集团|公司)$")


def _name_key_stand_in(name):
    text = unicodedata.normalize("NFKC", name or "").lower().strip()
    text = _REGION_PREFIX.sub("", text)
    text = _NOT_WORD.sub("", text)
    return _LEGAL_SUFFIX.sub("", text)


def name_key_function():
    try:
        from customers.duplicates import normalize_company_name
    except ImportError:
        return _name_key_stand_in
    return normalize_company_name


# --- data --------------------------------------------------------------------------------------


def _regions_by_city():
    """For each city of the name list: (province, city, [districts]) codes from crm.regions."""
    from crm import regions

    found = {}
    for province, province_name in regions.provinces():
        for city, city_name in regions.children(province):
            label = province_name if city_name in ("市辖区", "县") else city_name
            key = label.removesuffix("市")
            if key in CITIES and key not in found:
                districts = [code for code, _name in regions.children(city)] or [""]
                found[key] = (province, city, districts)
    return found


def _all_regions():
    from crm import regions

    triples = []
    for province, _name in regions.provinces():
        for city, _city_name in regions.children(province):
            for district, _district_name in regions.children(city) or [("", "")]:
                triples.append((province, city, district))
    return triples


def _timestamp(seconds_ago):
    return (NOW - timedelta(seconds=seconds_ago)).isoformat()


USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _credit_code(rng):
    """A 统一社会信用代码 with a right check digit (GB 32100, as python-stdnum computes it)."""
    body = "91" + f"{rng.randrange(110000, 660000):06d}" + "".join(rng.choices(USCC_ALPHABET, k=9))
    total = sum(USCC_ALPHABET.index(ch) * weight for ch, weight in zip(body, USCC_WEIGHTS, strict=True))
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


# The owned-customer limit per role (SPEC §2.2, default 200): this company's reps each hold about
# 2,600 customers (500,000 over ~190 owners), so its roles carry a limit that fits — else every
# create (and claim, transfer) is refused with "拥有客户已达上限".
MAX_OWNED = 100_000


def owner_limits():
    from pool.models import RoleLimit
    from staff.models import Role

    for role in Role.objects.all():
        RoleLimit.objects.update_or_create(role=role, defaults={"max_owned": MAX_OWNED})


@generator("customers", after=["staff"], tables=CUSTOMER_TABLES, version=2)
def customers(load):
    from django.contrib.auth.models import Permission

    from customers.models import CustomerLevel, CustomField, Industry, Source, Tag
    from customers.services import SEARCH_REFRESH_SQL

    rng = random.Random("customers")
    owner_limits()
    tags = [Tag.objects.create(name=name, color=color).pk for name, color in TAGS]
    sources = [Source.objects.create(name=name, order=i).pk for i, name in enumerate(SOURCES)]
    industries = [Industry.objects.create(name=name, order=i).pk for i, name in enumerate(INDUSTRIES)]
    for order, (key, label, kind, choices) in enumerate(CUSTOM_FIELDS):
        CustomField.objects.create(target="customer", key=key, label=label, type=kind, choices=choices, order=order)
    levels = list(CustomerLevel.objects.order_by("priority").values_list("pk", flat=True)) or [None]
    level_weights = [15, 35, 40][: len(levels)]
    # Owners: everyone in a team (reps and their leaders), plus the branch managers now and then.
    team_members = load.execute(
        "SELECT u.id, u.department_id FROM staff_user u JOIN staff_department d ON d.id = u.department_id "
        "WHERE d.depth = 3 ORDER BY u.id"
    ).fetchall()
    managers = load.execute(
        "SELECT u.id, u.department_id FROM staff_user u JOIN staff_department d ON d.id = u.department_id "
        "WHERE d.depth = 2 ORDER BY u.id"
    ).fetchall()
    by_city = _regions_by_city()
    everywhere = _all_regions()
    name_key = name_key_function()
    names = CompanyNames(rng)
    n_customers = load.count(CUSTOMERS)
    first_id = load.execute("SELECT coalesce(max(id), 0) + 1 FROM customers_customer").fetchone()[0]
    load.drop_indexes(CUSTOMER_TABLES)

    customer_tags = []
    contact_counts = []
    shared = []
    columns = [
        "id", "name", "kind", "credit_code", "mobile", "phone", "email", "industry_id", "source_id", "level_id",
        "province", "city", "district", "address", "website", "deal_status", "deal_at", "next_follow_up_at",
        "last_follow_up_at", "last_follow_up_content", "remark", "custom_fields", "version", "deleted_at",
        "deleted_by_id", "search_text", "name_key", "owner_id", "department_id", "created_by_id", "created_at",
        "updated_at",
    ]  # fmt: skip

    def customer_rows():
        for offset in range(n_customers):
            pk = first_id + offset
            owner, department = rng.choice(managers) if rng.random() < 0.05 else rng.choice(team_members)
            person = rng.random() < 0.1
            if person:
                name, kind, city = person_name(rng), "person", rng.choice(CITIES)
            else:
                kind = "company"
                name = names.near_duplicate() if rng.random() < 0.1 else names.new()
                city = next((c for c in CITIES if c in name), rng.choice(CITIES))
            if rng.random() < 0.85 and city in by_city:
                province, city_code, districts = by_city[city]
                district = rng.choice(districts)
            else:
                province, city_code, district = rng.choice(everywhere)
            created = rng.randrange(THREE_YEARS)
            updated = rng.randrange(int(created * rng.random()) + 1)  # skewed to recent
            last_follow = None
            if rng.random() < 0.85:
                last_follow = min(updated, rng.randrange(created + 1))
            next_follow = None
            if rng.random() < 0.3:
                next_follow = rng.randrange(-30 * 86400, 30 * 86400)
            custom = {}
            if rng.random() < 0.7:
                custom["annual_budget"] = rng.choice([5, 10, 20, 50, 100, 200, 500, 1000]) * rng.randint(1, 9)
            if rng.random() < 0.5:
                custom["employees"] = rng.randint(3, 20000)
            if rng.random() < 0.6:
                custom["purchase_channel"] = rng.choice(("招标", "询价", "直采"))
            if rng.random() < 0.4:
                custom["founded"] = f"{rng.randint(1985, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            if rng.random() < 0.2:
                custom["key_account"] = rng.random() < 0.3
            changed = pk % 10 == 0  # a level change in its history
            deleted = rng.random() < 0.005
            won = rng.random() < 0.2
            for tag in rng.sample(tags, rng.choices((0, 1, 2, 3), (35, 30, 25, 10))[0]):
                customer_tags.append((pk, tag))
            contact_counts.append((pk, rng.choices((1, 2, 3, 4), (35, 35, 20, 10))[0], owner))
            if rng.random() < 0.005:
                shared.append(pk)
            yield (
                pk,
                name,
                kind,
                _credit_code(rng) if (not person and rng.random() < 0.6) else "",
                mobile(rng) if rng.random() < 0.8 else "",
                landline(rng) if rng.random() < 0.3 else "",
                f"{latin_word(rng)}{pk}@{rng.choice(MAIL_DOMAINS) if person else latin_word(rng, 3, 6) + '.com'}"
                if rng.random() < 0.6
                else "",
                rng.choice(industries) if rng.random() < 0.8 else None,
                rng.choice(sources) if rng.random() < 0.9 else None,
                rng.choices(levels, level_weights)[0] if rng.random() < 0.9 else None,
                province,
                city_code,
                district,
                f"{rng.choice(STREETS)}{rng.randint(1, 999)}号" if rng.random() < 0.7 else "",
                f"https://www.{latin_word(rng)}.com" if (not person and rng.random() < 0.3) else "",
                "won" if won else "none",
                _timestamp(rng.randrange(created + 1)) if won else None,
                (NOW - timedelta(seconds=next_follow)).isoformat() if next_follow is not None else None,
                _timestamp(last_follow) if last_follow is not None else None,
                rng.choice(FOLLOW_UP_NOTES) if last_follow is not None else "",
                "",
                custom,
                2 if changed else 1,
                _timestamp(rng.randrange(60 * 86400)) if deleted else None,
                owner if deleted else None,
                "",
                name_key(name) if kind == "company" else "",
                owner,
                department,
                owner,
                _timestamp(created),
                _timestamp(updated),
            )

    load.copy("customers_customer", columns, customer_rows())
    load.copy("customers_customer_tags", ["customer_id", "tag_id"], customer_tags)
    customer_tags.clear()

    target = load.count(CONTACTS)
    planned = sum(count for _pk, count, _owner in contact_counts)

    def contact_rows():
        made = 0
        for customer_id, count, owner in contact_counts:
            count = max(1, round(count * target / planned))
            for position in range(count):
                made += 1
                stamp = _timestamp(rng.randrange(THREE_YEARS))
                yield (
                    customer_id,
                    person_name(rng),
                    rng.choice(TITLES) if rng.random() < 0.8 else "",
                    mobile(rng) if rng.random() < 0.9 else "",
                    f"{latin_word(rng, 3, 8)}{made}@{rng.choice(MAIL_DOMAINS)}" if rng.random() < 0.4 else "",
                    f"wx_{latin_word(rng, 5, 10)}" if rng.random() < 0.3 else "",
                    position == 0,
                    "",
                    {},
                    owner,
                    stamp,
                    stamp,
                )

    contact_columns = [
        "customer_id", "name", "title", "mobile", "email", "wechat", "is_primary", "remark", "custom_fields",
        "created_by_id", "created_at", "updated_at",
    ]  # fmt: skip
    load.copy("customers_contact", contact_columns, contact_rows())
    contact_counts.clear()

    # Team members: a few customers shared with colleagues (some read-write); the bench users are
    # on some teams, so the scope's team-member branch has rows to find.
    view = Permission.objects.get(codename="view_customer", content_type__app_label="customers").pk
    change = Permission.objects.get(codename="change_customer", content_type__app_label="customers").pk
    bench_users = dict(load.execute("SELECT username, id FROM staff_user WHERE username LIKE 'bench%'").fetchall())
    everyone = [row[0] for row in team_members]
    members = set()
    for pk in shared:
        members.add((pk, rng.choice(everyone), view))
    for username in ("bench_self", "bench_dept", "bench_subs"):
        for pk in rng.sample(range(first_id, first_id + n_customers), min(40, n_customers)):
            members.add((pk, bench_users[username], view))
    rows = []
    for pk, user, permission in sorted(members):
        rows.append((pk, user, permission, None, NOW.isoformat()))
        if rng.random() < 0.3:
            rows.append((pk, user, change, None, NOW.isoformat()))
    load.copy(
        "customers_customerteammember",
        ["content_object_id", "user_id", "permission_id", "expires_at", "created_at"],
        rows,
    )

    # History: one "created" row each; every tenth customer also changed level once.
    history_columns = [
        "id", "created_at", "name", "kind", "credit_code", "mobile", "phone", "email", "province", "city",
        "district", "address", "website", "deal_status", "deal_at", "next_follow_up_at", "last_follow_up_at",
        "remark", "custom_fields", "deleted_at", "created_by_id", "deleted_by_id", "department_id", "owner_id",
        "industry_id", "source_id",
    ]  # fmt: skip
    listed = ", ".join(history_columns)
    other_level = f"(ARRAY{levels!r})[1 + (id / 10) %% {len(levels)}]" if levels != [None] else "NULL"
    load.execute(
        f"""
        INSERT INTO customers_historicalcustomer
            ({listed}, level_id, version, history_date, history_type, history_user_id)
        SELECT {listed}, CASE WHEN version = 2 THEN {other_level} ELSE level_id END, 1, created_at, '+', created_by_id
        FROM customers_customer WHERE id >= %s ORDER BY id
        """,
        [first_id],
    )
    load.execute(
        f"""
        INSERT INTO customers_historicalcustomer
            ({listed}, level_id, version, history_date, history_type, history_user_id)
        SELECT {listed}, level_id, version, updated_at, '~', owner_id
        FROM customers_customer WHERE id >= %s AND version = 2 ORDER BY id
        """,
        [first_id],
    )
    load.rows["customers_historicalcustomer"] = load.execute(
        "SELECT count(*) FROM customers_historicalcustomer"
    ).fetchone()[0]
    for table in ("customers_customer", "customers_customer_tags", "customers_contact", "customers_customerteammember"):
        load.reset_sequence(table)
    load.reset_sequence("customers_historicalcustomer", "history_id")

    # Derived columns, set-based: the search column through the services' own statement (the
    # contacts' index on customer first, for its per-customer subquery).
    load.restore_indexes(["customers_contact"])
    load.execute("ANALYZE customers_contact")
    started = datetime.now(UTC)
    load.execute(SEARCH_REFRESH_SQL, [list(range(first_id, first_id + n_customers))])
    load.log(f"  customers_customer: search_text in {(datetime.now(UTC) - started).total_seconds():.1f} s")
    load.rewritten("customers_customer")


# --- scenarios ---------------------------------------------------------------------------------

LIST = "/api/v1/customers/"

# The customer 360 page's data: later apps append what the page shows of theirs, e.g.
#   CUSTOMER_360.append(lambda customer_id: get("/api/v1/deals/", {"customer": customer_id, "page_size": 20}))
CUSTOMER_360 = [
    lambda customer_id: get(f"{LIST}{customer_id}/"),
    lambda customer_id: get("/api/v1/contacts/", {"customer": customer_id, "page_size": 20}),
    lambda customer_id: get(f"{LIST}{customer_id}/history/"),
]


def visible_customer_ids(ctx, scope, limit=200):
    """Up to ``limit`` customers the scope's user sees, spread over the scope (fixed per run)."""

    def pick():
        from customers.selectors import customer_list

        ids = list(customer_list(user=ctx.user(scope)).order_by("id").values_list("id", flat=True)[:50_000])
        return ctx.rng.sample(ids, min(limit, len(ids)))

    return ctx.memo(f"customers.visible.{scope}", pick)


def search_terms(ctx):
    """Chinese substrings of company names (a brand of 2–3 characters, brand + trade, trade
    fragment) and 4+ digits of phone numbers (a tail of 4, a prefix of 7, a whole number)."""

    def pick():
        rows = ctx.sql(
            "SELECT name, mobile FROM customers_customer WHERE kind = 'company' AND deleted_at IS NULL "
            "AND mobile <> '' ORDER BY md5(id::text) LIMIT 400"
        )
        names, phones = [], []
        for index, (name, number) in enumerate(rows):
            core = name
            for city in CITIES:
                core = core.removeprefix(city).removeprefix(" ")
            core = core.split("（")[0].split("(")[0]
            names.append(core[: (2, 3, 4)[index % 3]])
            phones.append((number[-4:], number[:7], number)[index % 3])
        return names, phones

    return ctx.memo("customers.search_terms", pick)


@scenario(
    "customers.list",
    "customer list, first page of 20, department-scoped manager, default order",
    user="department",
    target=(20, 40),
    rps_target=150,
)
def customer_list(ctx, i):
    return get(LIST, {"page_size": 20})


for _scope in ("all", "department_tree", "self_and_subordinates", "self"):
    scenario(
        f"customers.list.{_scope}", f"customer list, first page of 20, scope {_scope}", user=_scope, throughput=False
    )(customer_list)


@scenario(
    "customers.filter3", "customer list with 3 filters (level, tag, last-follow-up range)", user="department",
    target=(30, 60),
)  # fmt: skip
def customer_filter(ctx, i):
    from customers.models import CustomerLevel, Tag

    levels = ctx.memo("customers.levels", lambda: list(CustomerLevel.objects.values_list("pk", flat=True)))
    tags = ctx.memo("customers.tags", lambda: list(Tag.objects.values_list("pk", flat=True)))
    days = (30, 90, 180, 365)[i % 4]
    return get(
        LIST,
        {
            "page_size": 20,
            "level": levels[i % len(levels)],
            "tags": tags[(i // len(levels)) % len(tags)],
            "last_follow_up_after": (NOW - timedelta(days=days)).date().isoformat(),
            "last_follow_up_before": NOW.date().isoformat(),
        },
    )


@scenario("customers.search.name", "customer search: Chinese substring of a company name", user="department",
          target=(40, 80))  # fmt: skip
def customer_search_name(ctx, i):
    names, _phones = search_terms(ctx)
    return get(LIST, {"page_size": 20, "q": names[i % len(names)]})


@scenario("customers.search.phone", "customer search: 4+ digits of a phone number", user="department",
          target=(40, 80))  # fmt: skip
def customer_search_phone(ctx, i):
    _names, phones = search_terms(ctx)
    return get(LIST, {"page_size": 20, "q": phones[i % len(phones)]})


scenario("customers.search.name.all", "customer search, name, whole company", user="all", throughput=False)(
    customer_search_name
)


@scenario(
    "customers.detail360",
    "customer 360 page data in one request (overview: detail, contacts, timeline, deals, contracts, profile)",
    user="department",
    target=(60, 120),
)
def customer_360(ctx, i):
    ids = visible_customer_ids(ctx, "department")
    return get(f"{LIST}{ids[i % len(ids)]}/overview/")


@scenario(
    "customers.detail360.parts",
    "customer 360 page data endpoint by endpoint (detail, contacts, history, then each app's part)",
    user="department",
    throughput=False,
)
def customer_360_parts(ctx, i):
    ids = visible_customer_ids(ctx, "department")
    return [part(ids[i % len(ids)]) for part in CUSTOMER_360]


def _created_since(ctx):
    ctx.state["customers.max_id"] = ctx.sql("SELECT coalesce(max(id), 0) FROM customers_customer")[0][0]


def _delete_created(ctx):
    """Remove what the create scenario made (and everything hanging off it), so the data stays the
    loaded data between runs."""
    from customers.models import Customer

    since = ctx.state.pop("customers.max_id", None)
    if since is not None:
        Customer.history.filter(id__gt=since).delete()
        Customer.objects.filter(id__gt=since).delete()


RARE = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"


@scenario(
    "customers.create",
    "create customer (with its duplicate check)",
    user="self",
    target=(25, 50),
    kind="write",
    ok_status=(201,),
    setup=_created_since,
    cleanup=_delete_created,
)
def customer_create(ctx, i):
    from customers.models import CustomerLevel, Tag

    levels = ctx.memo("customers.levels", lambda: list(CustomerLevel.objects.values_list("pk", flat=True)))
    tags = ctx.memo("customers.tags", lambda: list(Tag.objects.values_list("pk", flat=True)))
    n = ctx.sequence("customers.create")
    # A name no loaded customer has (two of these characters), looked up by the duplicate check.
    brand = RARE[n % len(RARE)] + RARE[(n // len(RARE)) % len(RARE)] + RARE[(n // len(RARE) ** 2) % len(RARE)]
    return post(
        LIST,
        {
            "name": f"{CITIES[n % len(CITIES)]}{brand}测评科技有限公司",
            "mobile": f"166{n % 10**8:08d}",  # a prefix the loaded data never uses: no duplicate by mobile
            "email": f"bench{n}@example.com",
            "level": levels[n % len(levels)],
            "tags": [tags[n % len(tags)]],
            "province": "310000",
            "city": "310100",
            "district": "310115",
            "custom_fields": {"annual_budget": 100, "purchase_channel": "询价"},
        },
    )


@batch_job("customers.purge_recycle_bin", "recycle bin purge, nightly (rolled back)", rollback=True)
def purge_recycle_bin():
    from datetime import timedelta as delta

    from django.utils import timezone

    from customers.services import customer_purge_recycle_bin

    # The loaded data's deletions are up to 60 days old: purge as if run 45 days later.
    customer_purge_recycle_bin(now=timezone.now() + delta(days=45))
