"""Follow-ups (跟进记录) and tasks (待办): 2,000,000 follow-ups over the last three years on the live
customers, and each rep's tasks (a dozen open — overdue, due today, coming — and 100,000 done or
cancelled over the three years).

The follow-ups agree with what the customers generator wrote on each customer, the way
``customers.services.customer_followed_up`` keeps it: a customer with a last follow-up time
(about 85 %) gets one or more follow-ups between its creation and that time, the latest exactly
at ``last_follow_up_at`` with ``last_follow_up_content`` as its content (and the customer's
``next_follow_up_at`` when that is later); a customer without one gets none. So no customer row
is updated here. How many a customer gets is skewed (log-normal weights: most a handful, a few
key accounts hundreds). Types weighted (calls most), short Chinese notes, the author usually the
owner (sometimes a colleague of the owner's department), the contact now and then, a next
follow-up time now and then, check-in coordinates on a few recent visits (the product clears them
after ``FOLLOW_UP_CHECKIN_RETENTION_DAYS``). Ids in time order, as an append-only table has them.

Vectorised with numpy (seeded: the same data on every machine), written as preformatted COPY
text (``Load.copy_text``)."""

import random
from datetime import date, timedelta

import numpy as np

from bench.apps.customers import CUSTOMER_360, FOLLOW_UP_NOTES, NOW
from bench.registry import generator, get

FOLLOW_UPS = 2_000_000
DONE_TASKS = 100_000
CHUNK = 100_000  # follow-ups formatted per batch
NULL = "\\N"  # COPY's NULL
SHANGHAI = 8 * 3600  # the company's offset from UTC, in seconds (no daylight saving)
DAY = 86400
# (type, weight, notes)
TYPES = [
    ("call", 38, ["电话沟通，客户有采购意向", "电话回访，了解产品使用情况", "电话确认需求细节", "电话跟进报价反馈",
                  "客户未接电话，稍后再联系", "电话沟通合同条款", "电话邀约参加产品演示", "客户要求下周再联系"]),
    ("wechat", 24, ["微信跟进，等待回复", "微信发送产品资料", "微信沟通交付时间", "微信确认付款进度",
                    "微信发送方案，客户已读", "微信约定拜访时间"]),
    ("visit", 14, ["上门拜访，演示产品", "拜访客户采购负责人", "现场勘察，了解实施环境", "拜访客户，洽谈续约",
                   "陪同技术人员上门交流", "上门送达合同"]),
    ("email", 8, ["发送报价单", "邮件发送技术方案", "邮件确认合同条款", "发送发票及对账单", "邮件回复客户疑问"]),
    ("meeting", 6, ["线上会议，讨论实施方案", "参加客户内部评审会", "召开项目启动会", "视频会议，确认需求范围",
                    "与客户高层会谈"]),
    ("sms", 5, ["短信提醒续费", "短信发送活动邀请", "短信确认拜访时间", "短信通知到货"]),
    ("other", 5, ["展会上交流", "客户来访参观", "寄送样品", "节日问候"]),
]  # fmt: skip
TAILS = ["", "", "", "", "，客户反馈积极", "，预算待确认", "，需要内部审批", "，竞争对手也在接触", "，约定下周再联系",
         "，客户关注价格", "，已转交技术支持", "，下月再跟进"]  # fmt: skip
# The customers generator's last-follow-up notes (customers.FOLLOW_UP_NOTES) as follow-up types.
NOTE_TYPES = {"上门拜访，演示产品": "visit", "发送报价单": "email", "微信跟进，等待回复": "wechat"}
# Visit check-ins: near one of these city centres (latitude, longitude).
CENTRES = [(31.2304, 121.4737), (39.9042, 116.4074), (22.5431, 114.0579), (23.1291, 113.2644),
           (30.2741, 120.1551), (32.0603, 118.7969), (30.5728, 104.0668), (30.5928, 114.3055)]  # fmt: skip
CHECKIN_DAYS = 90  # FOLLOW_UP_CHECKIN_RETENTION_DAYS' default: older coordinates are purged nightly
TASK_TITLES = ["回访客户", "发送报价", "准备合同", "催收回款", "安排产品演示", "确认采购需求", "提交解决方案",
               "预约上门拜访", "跟进发票", "续约沟通"]  # fmt: skip


class Stamps:
    """Epoch seconds → timestamps in COPY's text format, Asia/Shanghai (preformatted day and
    time-of-day strings: no datetime per row)."""

    def __init__(self, first_epoch, last_epoch):
        self.first_day = (int(first_epoch) + SHANGHAI) // DAY
        last_day = (int(last_epoch) + SHANGHAI) // DAY
        epoch_ordinal = date(1970, 1, 1).toordinal()
        self.days = [date.fromordinal(epoch_ordinal + day).isoformat() for day in range(self.first_day, last_day + 1)]
        self.times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+08" for s in range(DAY)]

    def split(self, epochs):
        """(day index, second of the day) arrays of int64 epoch seconds."""
        local = epochs + SHANGHAI
        return (local // DAY - self.first_day).tolist(), (local % DAY).tolist()

    def text(self, day, second):
        return f"{self.days[day]} {self.times[second]}"


def _customers(load):
    """The live customers with a last follow-up, as numpy arrays."""
    rows = load.execute(
        "SELECT id, owner_id, department_id, extract(epoch FROM created_at)::bigint, "
        "extract(epoch FROM last_follow_up_at)::bigint, last_follow_up_content, "
        "coalesce(extract(epoch FROM next_follow_up_at)::bigint, 0) "
        "FROM customers_customer WHERE deleted_at IS NULL AND owner_id IS NOT NULL "
        "AND last_follow_up_at IS NOT NULL ORDER BY id"
    ).fetchall()
    ids, owners, departments, created, last, notes, following = zip(*rows, strict=True) if rows else ([],) * 7
    return (
        np.array(ids, dtype=np.int64),
        np.array(owners, dtype=np.int64),
        np.array(departments, dtype=np.int64),
        np.array(created, dtype=np.int64),
        np.array(last, dtype=np.int64),
        list(notes),
        np.array(following, dtype=np.int64),
    )


def _contacts(load, customer_ids):
    """Per customer (aligned with ``customer_ids``): its first contact id and how many follow it
    in one unbroken id range (0 when none; the customers generator writes a customer's contacts
    together, so the range is all of them)."""
    rows = load.execute(
        "SELECT customer_id, min(id), CASE WHEN max(id) - min(id) + 1 = count(*) THEN count(*) ELSE 1 END "
        "FROM customers_contact GROUP BY customer_id"
    ).fetchall()
    first = np.zeros(len(customer_ids), dtype=np.int64)
    count = np.zeros(len(customer_ids), dtype=np.int64)
    if rows:
        found = np.array(rows, dtype=np.int64)
        position = np.searchsorted(customer_ids, found[:, 0])
        position = np.minimum(position, len(customer_ids) - 1)
        hit = customer_ids[position] == found[:, 0]
        first[position[hit]] = found[hit, 1]
        count[position[hit]] = found[hit, 2]
    return first, count


@generator(
    "activities",
    after=["customers"],
    tables=["activities_followup", "activities_task"],
    version=2,
)
def activities(load):
    rng = np.random.default_rng(20260101)
    ids, owners, departments, created, last, notes, following = _customers(load)
    if not len(ids):
        return
    now = int(NOW.timestamp())
    colleagues = {}  # department → its active users
    for user_id, department_id in load.execute(
        "SELECT id, department_id FROM staff_user WHERE is_active AND department_id IS NOT NULL ORDER BY id"
    ):
        colleagues.setdefault(department_id, []).append(user_id)

    # 1. How many each customer gets: one (its last) plus a share of the rest by log-normal weight.
    target = max(load.count(FOLLOW_UPS), len(ids))
    weights = rng.lognormal(0.0, 1.0, len(ids))
    counts = 1 + rng.multinomial(target - len(ids), weights / weights.sum())
    total = int(counts.sum())
    customer = np.repeat(np.arange(len(ids)), counts)
    latest = np.zeros(total, dtype=bool)
    latest[np.cumsum(counts) - 1] = True  # each customer's last row is its latest follow-up

    # 2. When: the latest at the customer's last follow-up time; the others between its creation
    # and that, moved to a working hour (09:00–19:00 local) and mostly off the weekend.
    start, end = created[customer], last[customer]
    occurred = start + (rng.random(total) * (end - start)).astype(np.int64)
    day = (occurred + SHANGHAI) // DAY
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    weekend = (weekday >= 5) & (rng.random(total) < 0.8)
    day = np.where(weekend, day - (weekday - 4) - rng.integers(0, 5, total), day)  # to a weekday before
    working = day * DAY - SHANGHAI + 9 * 3600 + rng.integers(0, 10 * 3600, total)
    occurred = np.where((working >= start) & (working < end), working, occurred)
    occurred[latest] = end[latest]

    # 3. Type and note: weighted types; the latest one's note is the customer's, its type to match.
    type_names = [name for name, _weight, _notes in TYPES]
    type_weights = np.array([weight for _name, weight, _notes in TYPES], dtype=float)
    kind = rng.choice(len(TYPES), total, p=type_weights / type_weights.sum())
    texts, offsets, sizes = [], [], []
    for _name, _weight, phrases in TYPES:
        offsets.append(len(texts))
        texts += [phrase + tail for phrase in phrases for tail in TAILS]
        sizes.append(len(phrases) * len(TAILS))
    text = np.array(offsets)[kind] + (rng.random(total) * np.array(sizes)[kind]).astype(np.int64)
    note_index = {note: len(texts) + i for i, note in enumerate(FOLLOW_UP_NOTES)}
    texts += list(FOLLOW_UP_NOTES)
    for row, position in zip(np.flatnonzero(latest).tolist(), range(len(ids)), strict=True):
        note = notes[position]
        if note not in note_index:
            note_index[note] = len(texts)
            texts.append(note.replace("\\", "").replace("\t", " ").replace("\n", " "))
        text[row] = note_index[note]
        kind[row] = type_names.index(NOTE_TYPES.get(note, "call"))

    # 4. Who: the owner, or (15 %) a colleague in the owner's department.
    author = owners[customer].copy()
    for row in np.flatnonzero(rng.random(total) < 0.15).tolist():
        team = colleagues.get(int(departments[customer[row]]))
        if team:
            author[row] = team[int(rng.integers(len(team)))]

    # 5. The contact now and then (40 %), one of the customer's.
    contact_first, contact_count = _contacts(load, ids)
    first, many = contact_first[customer], contact_count[customer]
    contact = np.where(
        (many > 0) & (rng.random(total) < 0.4), first + (rng.random(total) * np.maximum(many, 1)).astype(np.int64), 0
    )

    # 6. Next follow-up time: 15 % of them, 1–14 days on at a whole hour; the latest one carries
    # the customer's own when that is later.
    following_at = (occurred + rng.integers(1, 15, total) * DAY) // 3600 * 3600
    following_at = np.where(rng.random(total) < 0.15, following_at, 0)
    customer_next = following[customer]
    following_at[latest] = np.where(customer_next[latest] > end[latest], customer_next[latest], 0)

    # 7. Check-in coordinates: a few recent visits (a quarter of those in the retention window).
    visit = type_names.index("visit")
    checked_in = np.flatnonzero((kind == visit) & (occurred > now - CHECKIN_DAYS * DAY) & (rng.random(total) < 0.25))
    centre = np.array(CENTRES)[rng.integers(0, len(CENTRES), len(checked_in))]
    place = np.round(centre + rng.uniform(-0.15, 0.15, (len(checked_in), 2)), 6)

    # 8. In time order (ids as an append-only table hands them out), formatted a chunk at a time
    # (Python lists of a chunk, not of two million rows: ~250 MB less at full scale).
    order = np.argsort(occurred, kind="stable")
    position = np.empty(total, dtype=np.int64)
    position[order] = np.arange(total)
    coordinates = {
        int(row): (f"{lat:.6f}", f"{lng:.6f}")
        for row, (lat, lng) in zip(position[checked_in].tolist(), place.tolist(), strict=True)
    }
    stamps = Stamps(min(int(occurred.min()), now), max(int(following_at.max()), now))
    columns = [occurred[order], following_at[order], ids[customer[order]], author[order], contact[order], kind[order],
               text[order], owners[customer[order]], departments[customer[order]]]  # fmt: skip
    del occurred, following_at, customer, author, contact, kind, text, start, end, position, order
    first_id = load.execute("SELECT coalesce(max(id), 0) + 1 FROM activities_followup").fetchone()[0]
    # Each follow-up carries its customer's owner and department (customers.models.CarriedFromCustomer),
    # written here from the arrays above: the trigger that would look each customer up (two million
    # lookups) is off while they load.
    load.execute("ALTER TABLE activities_followup DISABLE TRIGGER activities_followup_scope")
    no_place = (NULL, NULL)

    def follow_up_rows():
        for begin in range(0, total, CHUNK):
            at_array, next_array, *rest = (column[begin : begin + CHUNK] for column in columns)
            days, seconds = stamps.split(at_array)
            next_days, next_seconds = stamps.split(next_array)
            has_next = (next_array > 0).tolist()
            customers_of, authors, contacts, kinds, notes_of, owners_of, departments_of = (
                part.tolist() for part in rest
            )
            for index in range(len(days)):
                row = begin + index
                at = stamps.text(days[index], seconds[index])
                then = stamps.text(next_days[index], next_seconds[index]) if has_next[index] else NULL
                lat, lng = coordinates.get(row, no_place)
                yield (
                    f"{first_id + row}\t{customers_of[index]}\t{contacts[index] or NULL}\t{type_names[kinds[index]]}\t"
                    f"{texts[notes_of[index]]}\t{at}\t{then}\t{lat}\t{lng}\t{authors[index]}\t{at}\t{at}\t"
                    f"{owners_of[index]}\t{departments_of[index]}"
                )

    load.copy_text(
        "activities_followup",
        [
            "id", "customer_id", "contact_id", "type", "content", "occurred_at", "next_follow_up_at", "latitude",
            "longitude", "created_by_id", "created_at", "updated_at", "owner_id", "department_id",
        ],
        follow_up_rows(),
    )  # fmt: skip
    load.execute("ALTER TABLE activities_followup ENABLE TRIGGER activities_followup_scope")
    load.reset_sequence("activities_followup")
    _tasks(load, ids, owners)


def _tasks(load, customer_ids, owners):
    """Every owner's open tasks (3 overdue, 2 due later today, 8 in the coming month — the
    workbench's and the 待办 page's sections) and DONE_TASKS done or cancelled over the three
    years; four in five on one of the assignee's customers."""
    rng = random.Random("tasks")
    mine = {}
    for customer_id, owner in zip(customer_ids.tolist(), owners.tolist(), strict=True):
        mine.setdefault(owner, []).append(customer_id)
    assignees = sorted(mine)
    now = NOW
    today_end = (NOW + timedelta(hours=8)).replace(hour=0, minute=0) + timedelta(days=1) - timedelta(hours=8)

    def task(assignee, due, status):
        customer = rng.choice(mine[assignee]) if rng.random() < 0.8 else None
        remind = due - timedelta(hours=1) if rng.random() < 0.5 else None
        made = due - timedelta(days=rng.randint(1, 14), hours=rng.randint(0, 8))
        completed = None
        if status == "done":
            completed = min(due + timedelta(hours=rng.randint(-48, 24)), now)
        changed = completed or (made if status == "open" else due)
        return (
            rng.choice(TASK_TITLES), "", due.isoformat(), remind.isoformat() if remind else None, assignee, customer,
            rng.choice(("low", "normal", "normal", "normal", "high")), status,
            completed.isoformat() if completed else None, assignee, made.isoformat(), changed.isoformat(),
        )  # fmt: skip

    def rows():
        for assignee in assignees:
            for _ in range(3):  # overdue
                yield task(assignee, now - timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 8)), "open")
            for _ in range(2):  # later today (local)
                yield task(assignee, today_end - timedelta(minutes=rng.randint(30, 5 * 60)), "open")
            for _ in range(8):  # the coming month
                yield task(assignee, now + timedelta(days=rng.randint(1, 30), hours=rng.randint(0, 8)), "open")
        for _ in range(load.count(DONE_TASKS)):
            due = now - timedelta(days=rng.randint(11, 3 * 365), hours=rng.randint(0, 8))
            yield task(rng.choice(assignees), due, "done" if rng.random() < 0.9 else "cancelled")

    load.copy(
        "activities_task",
        [
            "title", "description", "due_at", "remind_at", "assignee_id", "customer_id", "priority", "status",
            "completed_at", "created_by_id", "created_at", "updated_at",
        ],
        rows(),
    )  # fmt: skip
    load.reset_sequence("activities_task")


# The customer 360 page: the first page of its timeline (follow-ups, latest first).
CUSTOMER_360.append(lambda customer_id: get("/api/v1/activities/", {"customer": customer_id, "page_size": 20}))
