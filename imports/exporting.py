"""Writing an export file: the user's filtered list, masked and without hidden fields (the
customers presenters), streamed to a temporary file in batches and then stored."""

import csv
import functools
import io
import tempfile

from django.core.files import File
from django.db.models import CharField, F, Func, Subquery, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import regions
from crm.xlsx import XlsxWriter
from customers import selectors as customer_selectors
from customers.custom_fields import definitions
from customers.models import CustomerKind, CustomerLevel, DealStatus, Industry, Source
from customers.presenters import Presenter, custom_display
from imports.models import Target
from imports.workbooks import neutralise_row
from staff.models import Department, User

CUSTOMER_COLUMNS = [
    ("name", _("客户名称")),
    ("kind", _("类型")),
    ("credit_code", _("统一社会信用代码")),
    ("mobile", _("手机")),
    ("phone", _("电话")),
    ("email", _("邮箱")),
    ("industry", _("行业")),
    ("source", _("来源")),
    ("level", _("等级")),
    ("tags", _("标签")),
    ("province", _("省份")),
    ("city", _("城市")),
    ("district", _("区县")),
    ("address", _("详细地址")),
    ("website", _("网址")),
    ("owner", _("负责人")),
    ("department", _("所属部门")),
    ("deal_status", _("成交状态")),
    ("next_follow_up_at", _("下次联系时间")),
    ("last_follow_up_at", _("最近跟进时间")),
    ("remark", _("备注")),
    ("created_at", _("创建时间")),
    ("updated_at", _("更新时间")),
]
CONTACT_COLUMNS = [
    ("customer", _("所属客户")),
    ("name", _("姓名")),
    ("title", _("职务")),
    ("mobile", _("手机")),
    ("email", _("邮箱")),
    ("wechat", _("微信号")),
    ("birthday", _("生日")),
    ("is_primary", _("主要联系人")),
    ("remark", _("备注")),
    ("created_at", _("创建时间")),
]


def _labels(choices):
    """{value: label} of a TextChoices, translated once per export (get_FOO_display() rebuilds the
    choices dict at every call: ~0.2 ms a row)."""
    return {value: str(label) for value, label in choices}


class _Names(dict):
    """{pk: str(row)} of a lookup table (industries, owners, …), read as a batch brings ids not
    seen yet: a query per table on the first batch, rarely one after."""

    def __init__(self, model, label=str):
        super().__init__()
        self.model, self.label = model, label

    def load(self, ids):
        missing = set(ids) - self.keys() - {None}
        if missing:
            self.update((row.pk, self.label(row)) for row in self.model._base_manager.filter(pk__in=missing))


class _LocalMinute(Func):
    """A timestamp as an export shows it: local time to the minute, "2026-05-01 09:30" (what
    ``timezone.localtime(value).strftime("%Y-%m-%d %H:%M")`` gives), formatted by PostgreSQL —
    loading four timestamps a row into Python datetimes to format them was a large share of a
    500,000-row export's CPU. Arguments: the field and the time zone's name; NULL stays NULL."""

    arg_joiner = " AT TIME ZONE "
    template = "to_char(%(expressions)s, 'YYYY-MM-DD HH24:MI')"
    output_field = CharField()


def _local_minute(field):
    return _LocalMinute(F(field), Value(timezone.get_current_timezone_name()))


def _or_empty(value):
    return "" if value is None else value


def _readers(target):
    """{column: (the field read, a function turning its value into the cell's, or None: as read)}
    and a function to call on each batch of rows first (the lookups it needs), for one export.
    The cells are those of each record through ``Presenter.record`` (imports/tests/test_export_rows.py
    compares the two paths)."""
    when = _or_empty
    yes_no = {True: _("是"), False: _("否"), None: ""}
    if target == Target.CONTACT:
        return {
            "customer": ("customer__name", None),
            "name": ("name", None),
            "title": ("title", None),
            "mobile": ("mobile", None),
            "email": ("email", None),
            "wechat": ("wechat", None),
            "birthday": ("birthday", lambda value: "" if value is None else value.isoformat()),
            "is_primary": ("is_primary", yes_no.__getitem__),
            "remark": ("remark", None),
            "created_at": (_local_minute("created_at"), when),
        }, lambda columns, batch: None
    kinds, deal_statuses, pool = _labels(CustomerKind.choices), _labels(DealStatus.choices), _("公海")
    names = {
        "industry": _Names(Industry, lambda row: row.name),
        "source": _Names(Source, lambda row: row.name),
        "level": _Names(CustomerLevel),
        "owner": _Names(User),
        "department": _Names(Department),
    }
    region = functools.cache(lambda code: regions.region_name(code) or "")
    readers = {
        "name": ("name", None),
        "kind": ("kind", lambda value: kinds.get(value, value)),
        "credit_code": ("credit_code", None),
        "mobile": ("mobile", None),
        "phone": ("phone", None),
        "email": ("email", None),
        "industry": ("industry_id", lambda pk: "" if pk is None else names["industry"][pk]),
        "source": ("source_id", lambda pk: "" if pk is None else names["source"][pk]),
        "level": ("level_id", lambda pk: "" if pk is None else names["level"][pk]),
        "tags": (customer_selectors.tag_names(), "、".join),
        "province": ("province", region),
        "city": ("city", region),
        "district": ("district", region),
        "address": ("address", None),
        "website": ("website", None),
        "owner": ("owner_id", lambda pk: pool if pk is None else names["owner"][pk]),
        "department": ("department_id", lambda pk: "" if pk is None else names["department"][pk]),
        "deal_status": ("deal_status", lambda value: deal_statuses.get(value, value)),
        "next_follow_up_at": (_local_minute("next_follow_up_at"), when),
        "last_follow_up_at": (_local_minute("last_follow_up_at"), when),
        "remark": ("remark", None),
        "created_at": (_local_minute("created_at"), when),
        "updated_at": (_local_minute("updated_at"), when),
    }

    def prepare(columns, batch):
        for key, position in columns.items():
            if key in names:
                names[key].load({row[position] for row in batch})

    return readers, prepare


def plan(job, user):
    """(headers, queryset, to_rows) for a job: the columns the user may see, the rows (a
    ``values_list`` in batches of ``_keyset``), and a function turning a batch into its rows of
    cells, masked as the user sees them (customers.presenters, customers.selectors)."""
    from imports.services import export_customers_queryset

    customers = export_customers_queryset(user=user, params=job.params)
    presenter = Presenter(user, job.target)
    if job.target == Target.CUSTOMER:
        builtin, queryset, owner = CUSTOMER_COLUMNS, customers, "owner_id"
    else:
        builtin, owner = CONTACT_COLUMNS, "customer__owner"
        queryset = customer_selectors.contact_list(user=user).filter(
            customer_id__in=Subquery(customers.order_by().values("pk"))
        )
    readers, prepare = _readers(job.target)
    custom = definitions(job.target)
    shown = set(presenter.shown([key for key, _label in builtin] + [f"cf.{d.key}" for d in custom]))
    builtin = [(key, label) for key, label in builtin if key in shown]
    custom = [d for d in custom if f"cf.{d.key}" in shown]
    headers = [str(label) for _key, label in builtin] + [d.label for d in custom]

    # Read: the primary key, owner and viewer_is_member (for masking), then one field per column.
    fields = ["pk", owner, "viewer_is_member"] + [readers[key][0] for key, _label in builtin]
    if custom:
        fields.append("custom_fields")
    positions = {key: 3 + index for index, (key, _label) in enumerate(builtin)}
    converters = [(3 + index, readers[key][1]) for index, (key, _label) in enumerate(builtin)]
    stored_at = len(fields) - 1
    queryset = queryset.prefetch_related(None).values_list(*fields)
    mask = presenter.row_masker([key for key, _label in builtin] + [f"cf.{d.key}" for d in custom])
    sees_full = customer_selectors.full_contact_rule(user=user)
    first_custom = len(builtin)

    def to_rows(batch):
        prepare(positions, batch)
        rows = []
        for row in batch:
            values = [row[position] if convert is None else convert(row[position]) for position, convert in converters]
            if custom:
                stored = row[stored_at] or {}
                values += [stored.get(definition.key) for definition in custom]
            if not sees_full(row[1], row[2]):
                mask(values)
            for index, definition in enumerate(custom, start=first_custom):
                values[index] = custom_display(definition, values[index])
            rows.append(neutralise_row(values))
        return rows

    return headers, queryset, to_rows


def write(job, user, *, progress):
    """Write the job's file and attach it; returns the number of rows written."""
    from imports.services import EXPORT_BATCH_ROWS, _keyset

    headers, queryset, to_rows = plan(job, user)
    total = queryset.order_by().count()
    progress(0, total)
    written = 0
    with tempfile.TemporaryFile() as handle:
        if job.file_format == "xlsx":
            name = _("客户") if job.target == Target.CUSTOMER else _("联系人")
            with XlsxWriter(handle, sheet_name=name, headers=headers) as sheet:
                for batch in _keyset(queryset, EXPORT_BATCH_ROWS):
                    sheet.write_rows(to_rows(batch))
                    written += len(batch)
                    progress(written, max(total, written))
        else:
            text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
            writer = csv.writer(text)
            writer.writerow(headers)
            for batch in _keyset(queryset, EXPORT_BATCH_ROWS):
                writer.writerows(to_rows(batch))
                written += len(batch)
                progress(written, max(total, written))
            text.flush()
            text.detach()
        handle.seek(0)
        job.file.save(job.download_name.replace(" ", "_"), File(handle), save=False)
    return written
