"""Writing an export file: the user's filtered list, masked and without hidden fields (the
customers presenters), streamed to a temporary file in batches and then stored."""

import csv
import io
import tempfile

from django.core.files import File
from django.db.models import Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import regions
from crm.xlsx import XlsxWriter
from customers import selectors as customer_selectors
from customers.custom_fields import definitions
from customers.models import CustomerKind, DealStatus
from customers.presenters import Presenter, custom_display
from imports.models import Target
from imports.workbooks import neutralise

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


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if hasattr(value, "tzinfo") and hasattr(value, "hour"):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _labels(choices):
    """{value: label} of a TextChoices, translated once per export (get_FOO_display() rebuilds the
    choices dict at every call: ~0.2 ms a row)."""
    return {value: str(label) for value, label in choices}


def _customer_record(customer, labels):
    return {
        "name": customer.name,
        "kind": labels["kind"].get(customer.kind, customer.kind),
        "credit_code": customer.credit_code,
        "mobile": customer.mobile,
        "phone": customer.phone,
        "email": customer.email,
        "industry": customer.industry.name if customer.industry else "",
        "source": customer.source.name if customer.source else "",
        "level": str(customer.level) if customer.level else "",
        "tags": "、".join(tag.name for tag in customer.tags.all()),
        "province": regions.region_name(customer.province) or "",
        "city": regions.region_name(customer.city) or "",
        "district": regions.region_name(customer.district) or "",
        "address": customer.address,
        "website": customer.website,
        "owner": str(customer.owner) if customer.owner else labels["pool"],
        "department": str(customer.department) if customer.department else "",
        "deal_status": labels["deal_status"].get(customer.deal_status, customer.deal_status),
        "next_follow_up_at": customer.next_follow_up_at,
        "last_follow_up_at": customer.last_follow_up_at,
        "remark": customer.remark,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "custom_fields": dict(customer.custom_fields or {}),
    }


def _contact_record(contact):
    return {
        "customer": contact.customer.name,
        "name": contact.name,
        "title": contact.title,
        "mobile": contact.mobile,
        "email": contact.email,
        "wechat": contact.wechat,
        "birthday": contact.birthday,
        "is_primary": contact.is_primary,
        "remark": contact.remark,
        "created_at": contact.created_at,
        "custom_fields": dict(contact.custom_fields or {}),
    }


def plan(job, user):
    """(headers, queryset, to_row) for a job: the columns the user may see, the rows, and a
    function turning one record into its cells (masked as the user sees it)."""
    from imports.services import export_customers_queryset

    customers = export_customers_queryset(user=user, params=job.params)
    presenter = Presenter(user, job.target)
    hidden = presenter.hidden
    if job.target == Target.CUSTOMER:
        builtin = [(key, label) for key, label in CUSTOMER_COLUMNS if key not in hidden]
        queryset = customers
        sees_full = customer_selectors.sees_full_contact
        labels = {"kind": _labels(CustomerKind.choices), "deal_status": _labels(DealStatus.choices), "pool": _("公海")}

        def record(customer):
            return presenter.record(_customer_record(customer, labels), full=sees_full(user=user, customer=customer))
    else:
        builtin = [(key, label) for key, label in CONTACT_COLUMNS if key not in hidden]
        queryset = customer_selectors.contact_list(user=user).filter(
            customer_id__in=Subquery(customers.order_by().values("pk"))
        )

        def record(contact):
            full = customer_selectors.contact_sees_full(user=user, contact=contact)
            return presenter.record(_contact_record(contact), full=full)

    custom = [d for d in definitions(job.target) if f"cf.{d.key}" not in hidden]
    headers = [str(label) for _key, label in builtin] + [d.label for d in custom]

    def to_row(obj):
        data = record(obj)
        values = [_text(data.get(key)) for key, _label in builtin]
        stored = data.get("custom_fields", {})
        values += [custom_display(d, stored.get(d.key)) for d in custom]
        return [neutralise(value) for value in values]

    return headers, queryset, to_row


def write(job, user, *, progress):
    """Write the job's file and attach it; returns the number of rows written."""
    from imports.services import EXPORT_BATCH_ROWS, _keyset

    headers, queryset, to_row = plan(job, user)
    total = queryset.order_by().count()
    progress(0, total)
    written = 0
    with tempfile.TemporaryFile() as handle:
        if job.file_format == "xlsx":
            name = _("客户") if job.target == Target.CUSTOMER else _("联系人")
            with XlsxWriter(handle, sheet_name=name, headers=headers) as sheet:
                for rows in _keyset(queryset, EXPORT_BATCH_ROWS):
                    sheet.write_rows(to_row(obj) for obj in rows)
                    written += len(rows)
                    progress(written, max(total, written))
        else:
            text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
            writer = csv.writer(text)
            writer.writerow(headers)
            for rows in _keyset(queryset, EXPORT_BATCH_ROWS):
                writer.writerows(to_row(obj) for obj in rows)
                written += len(rows)
                progress(written, max(total, written))
            text.flush()
            text.detach()
        handle.seek(0)
        job.file.save(job.download_name.replace(" ", "_"), File(handle), save=False)
    return written
