"""The registry of reminder kinds (提醒类型): what Celery beat turns into notifications.

Adding a kind is a few lines in the app that owns the data, registered from its
``AppConfig.ready()``::

    from django.db.models import F
    from django.utils.translation import gettext_lazy as _
    from notifications.reminders import DAILY, ReminderKind, day_bounds, register

    def _contracts_expiring(now):
        start, end = day_bounds(now, days_ahead=30)
        return Contract.objects.filter(end_date__gte=start.date(), end_date__lt=end.date()).annotate(
            target_id=F("pk"), recipient_id=F("owner_id"), occasion=Cast("end_date", CharField()),
            contract_number=F("number"),
        )

    register(ReminderKind(
        key="contract_expiring_30",
        rows=_contracts_expiring,
        fields=("contract_number",),
        title=_("合同 %(contract_number)s 将在 30 天后到期"),
        link=lambda row: f"/contracts/{row['target_id']}/",
        cadence=DAILY,
    ))

The contract of ``rows(now)``: a QuerySet (or a list of them), set-based (no per-row queries),
annotated with

- ``target_id`` — the record the reminder is about (its model follows from the kind),
- ``recipient_id`` — who gets it (inactive staff are skipped for you),
- ``occasion`` — text naming *which* occasion of that record: a date, a year, a due time. A new
  occasion (a task moved to another time, next year's birthday) is a new reminder; the same one
  never is,

plus whatever ``fields`` the templates and ``link`` read. ``title`` and ``body`` are lazy
``gettext`` templates with ``%(name)s`` placeholders, rendered in each recipient's language;
datetimes arrive formatted in Asia/Shanghai, dates as YYYY-MM-DD. ``cadence`` picks the beat
entry: ``FREQUENT`` (every 5 minutes, for exact times such as task reminders) or ``DAILY`` (on the
hour from 08:00 to 20:00, for day-based kinds; the first run of the day sends them, later runs
catch records added during the day).

Each reminder exists exactly once per (kind, target_id, recipient, occasion): the generator skips
rows already sent and inserts the rest with ``INSERT … ON CONFLICT DO NOTHING`` against the unique
constraint on Notification, so beat firing twice, a retried task or two workers at once never
duplicate one — and only newly inserted rows are delivered by e-mail and webhook.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db.models import CharField, F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

FREQUENT = "frequent"
DAILY = "daily"
CADENCES = (FREQUENT, DAILY)


@dataclass(frozen=True)
class ReminderKind:
    key: str
    rows: Callable[[datetime], QuerySet]
    title: str
    body: str = ""
    fields: tuple = ()
    link: Callable[[dict], str] | None = None
    cadence: str = DAILY
    label: str = field(default="", compare=False)

    def __post_init__(self):
        if self.cadence not in CADENCES:
            raise ImproperlyConfigured(f"reminder kind {self.key}: cadence must be one of {CADENCES}")
        if len(self.key) > 50:
            raise ImproperlyConfigured(f"reminder kind {self.key}: key longer than 50 characters")


REMINDER_KINDS: dict[str, ReminderKind] = {}


def register(kind):
    """Add a kind (idempotent for the same definition; a different one under a taken key is an
    error, so two apps cannot silently share a key)."""
    existing = REMINDER_KINDS.get(kind.key)
    if existing is not None and existing != kind:
        raise ImproperlyConfigured(f"reminder kind {kind.key!r} is already registered differently")
    REMINDER_KINDS[kind.key] = kind
    return kind


def kinds(*, cadence=None, keys=None):
    return [
        kind
        for key, kind in REMINDER_KINDS.items()
        if (cadence is None or kind.cadence == cadence) and (keys is None or key in keys)
    ]


def local_today(now=None):
    return timezone.localtime(now or timezone.now()).date()


def day_bounds(now=None, *, days_ahead=0):
    """[start, end) of the local (Asia/Shanghai) day ``days_ahead`` days from ``now``, aware."""
    day = local_today(now) + timedelta(days=days_ahead)
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), tz)
    return start, start + timedelta(days=1)


# --- the kind this app owns: 节日营销 ------------------------------------------------------------


def holiday_rows(now):
    """Owners of live customers, for each active holiday whose reminder window has begun (from
    ``remind_days_before`` days ahead until the day itself, so a missed beat still lands). One
    query per holiday in its window — rarely more than one."""
    from django.db.models import Exists, OuterRef, Value

    from customers.models import Customer
    from notifications.models import Holiday
    from staff.models import User

    today = local_today(now)
    owns_customers = Customer.objects.alive().filter(owner_id=OuterRef("pk"))
    owners = User.objects.filter(is_active=True).filter(Exists(owns_customers))
    querysets = []
    for holiday in Holiday.objects.filter(is_active=True, date__gte=today, date__lte=today + timedelta(days=366)):
        if holiday.date - timedelta(days=holiday.remind_days_before) > today:
            continue
        querysets.append(
            owners.annotate(
                target_id=Value(holiday.pk),
                recipient_id=F("pk"),
                occasion=Value(holiday.date.isoformat(), output_field=CharField()),
                holiday_name=Value(holiday.name, output_field=CharField()),
                holiday_date=Value(holiday.date.isoformat(), output_field=CharField()),
            )
        )
    return querysets


def _customers_link(row):
    return "/customers/"


def register_builtin_kinds():
    register(
        ReminderKind(
            key="holiday",
            rows=holiday_rows,
            fields=("holiday_name", "holiday_date"),
            title=_("节日营销：%(holiday_name)s（%(holiday_date)s）快到了"),
            body=_("%(holiday_name)s将至，记得给重要客户送上节日问候。"),
            link=_customers_link,
            cadence=DAILY,
            label=_("节日营销"),
        )
    )
