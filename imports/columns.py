"""The columns of an import file and of its template: one per built-in field and active custom
field the importing user may see (Chinese header, ``*`` on required ones), each turning a cell's
text into what the customers services take (names → ids for levels, sources, industries, tags;
region names → GB/T 2260 codes; 是/否 → booleans)."""

import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm import regions
from customers.custom_fields import definitions
from customers.models import CustomerKind, CustomerLevel, CustomFieldType, Industry, Source, Tag
from imports import files
from staff.fieldperms import hidden_fields

SPLIT = re.compile(r"[,，、;；\n]+")
TRUE_WORDS = {"是", "true", "yes", "y", "1", "√", "✓"}
FALSE_WORDS = {"否", "false", "no", "n", "0", "×", "✗"}
# Contacts name their customer by one of these (never by an internal id).
CUSTOMER_LINK = "customer"


class CellError(ValueError):
    pass


@dataclass
class Column:
    key: str  # a form field name; custom fields "cf_<key>"; contacts' customer link "customer"
    label: str
    kind: str = files.TEXT
    required: bool = False
    choices: list = field(default_factory=list)  # offered as a drop-down in the template
    example: str = ""
    convert: object = None  # text -> value for the service, or CellError

    @property
    def header(self):
        return f"{self.label}*" if self.required else self.label

    @property
    def custom_key(self):
        return self.key[3:] if self.key.startswith("cf_") else None


def _by_name(model, queryset, what):
    rows = list(queryset)
    names = {}
    for row in rows:
        names.setdefault(row.name.strip().lower(), row.pk)

    def convert(text):
        found = names.get(text.strip().lower())
        if found is None:
            raise CellError(_("%(what)s「%(value)s」不存在。") % {"what": what, "value": text})
        return found

    return [row.name for row in rows], convert


def _levels():
    rows = list(CustomerLevel.objects.all())
    names = {}
    for row in rows:
        for alias in (row.code, row.name, f"{row.code} {row.name}", f"{row.code}{row.name}"):
            names.setdefault(alias.strip().lower(), row.pk)

    def convert(text):
        found = names.get(" ".join(text.split()).lower())
        if found is None:
            raise CellError(_("等级「%(value)s」不存在。") % {"value": text})
        return found

    return [str(row) for row in rows], convert


def _tags():
    names = {tag.name.strip().lower(): tag.pk for tag in Tag.objects.all()}

    def convert(text):
        ids = []
        for name in SPLIT.split(text):
            name = name.strip()
            if not name:
                continue
            found = names.get(name.lower())
            if found is None:
                raise CellError(_("标签「%(value)s」不存在。") % {"value": name})
            ids.append(found)
        return ids

    return convert


def _kind_converter():
    """The kind column's converter: a kind's value, or its label in the language in use when the
    columns are made (as their headers are) — looked up once a run, not for every row."""
    kinds = {}
    for value, label in CustomerKind.choices:  # the first kind that has the text, as a loop would find
        kinds.setdefault(value, value)
        kinds.setdefault(str(label), value)

    def convert(text):
        found = kinds.get(text)
        if found is not None:
            return found
        raise CellError(
            _("类型应为：%(choices)s。") % {"choices": "、".join(str(label) for _v, label in CustomerKind.choices)}
        )

    return convert


def _boolean(text):
    lowered = text.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise CellError(_("应填写“是”或“否”。"))


def _text(text):
    return text


def _multi(text):
    return [item.strip() for item in SPLIT.split(text) if item.strip()]


def _custom_column(definition):
    kind = {
        CustomFieldType.NUMBER: files.NUMBER,
        CustomFieldType.DATE: files.DATE,
        CustomFieldType.BOOLEAN: files.BOOLEAN,
        CustomFieldType.PHONE: files.IDENTIFIER,
        CustomFieldType.EMAIL: files.IDENTIFIER,
    }.get(definition.type, files.TEXT)
    convert = _text
    choices = []
    example = ""
    if definition.type == CustomFieldType.BOOLEAN:
        convert, choices, example = _boolean, [_("是"), _("否")], _("是")
    elif definition.type == CustomFieldType.MULTI_CHOICE:
        convert, example = _multi, "、".join(definition.choices[:2])
    elif definition.type == CustomFieldType.CHOICE:
        choices, example = list(definition.choices), definition.choices[0] if definition.choices else ""
    elif definition.type == CustomFieldType.NUMBER:
        example = "100"
    elif definition.type == CustomFieldType.DATE:
        example = "2026-01-31"
    return Column(
        key=f"cf_{definition.key}",
        label=definition.label,
        kind=kind,
        required=definition.required,
        choices=choices,
        example=example,
        convert=convert,
    )


def customer_columns(user):
    level_choices, level = _levels()
    source_choices, source = _by_name(Source, Source.objects.filter(is_active=True), _("来源"))
    industry_choices, industry = _by_name(Industry, Industry.objects.filter(is_active=True), _("行业"))
    kinds = [str(label) for _value, label in CustomerKind.choices]
    columns = [
        Column("name", _("客户名称"), required=True, example=_("（示例，导入前请删除）上海云帆科技有限公司")),
        Column("kind", _("类型"), choices=kinds, example=kinds[0], convert=_kind_converter()),
        Column("credit_code", _("统一社会信用代码"), files.IDENTIFIER, example="91310115MA1K4AB1XK"),
        Column("mobile", _("手机"), files.IDENTIFIER, example="13800138000"),
        Column("phone", _("电话"), files.IDENTIFIER, example="021-12345678"),
        Column("email", _("邮箱"), files.IDENTIFIER, example="info@example.com"),
        Column(
            "industry", _("行业"), choices=industry_choices, convert=industry, example=next(iter(industry_choices), "")
        ),
        Column("source", _("来源"), choices=source_choices, convert=source, example=next(iter(source_choices), "")),
        Column("level", _("等级"), choices=level_choices, convert=level, example=next(iter(level_choices), "")),
        Column("tags", _("标签"), convert=_tags(), example=""),
        Column("province", _("省份"), example="上海市"),
        Column("city", _("城市"), example="市辖区"),
        Column("district", _("区县"), example="浦东新区"),
        Column("address", _("详细地址"), example="张江路 88 号"),
        Column("website", _("网址"), files.IDENTIFIER, example="https://example.com"),
        Column("next_follow_up_at", _("下次联系时间"), files.DATETIME, example="2026-12-01 10:00"),
        Column("remark", _("备注")),
    ]
    hidden = hidden_fields(user, "customer")
    columns = [column for column in columns if column.key not in hidden]
    columns += [
        _custom_column(definition) for definition in definitions("customer") if f"cf.{definition.key}" not in hidden
    ]
    for column in columns:
        column.convert = column.convert or _text
    return columns


def contact_columns(user):
    columns = [
        Column(
            CUSTOMER_LINK,
            _("所属客户"),
            required=True,
            example=_("上海云帆科技有限公司"),
        ),
        Column("name", _("姓名"), required=True, example=_("张伟")),
        Column("title", _("职务"), example=_("采购经理")),
        Column("mobile", _("手机"), files.IDENTIFIER, example="13900139000"),
        Column("email", _("邮箱"), files.IDENTIFIER, example="zhangwei@example.com"),
        Column("wechat", _("微信号"), files.IDENTIFIER),
        Column("birthday", _("生日"), files.DATE, example="1990-05-01"),
        Column(
            "is_primary", _("主要联系人"), files.BOOLEAN, choices=[_("是"), _("否")], convert=_boolean, example=_("是")
        ),
        Column("remark", _("备注")),
    ]
    hidden = hidden_fields(user, "contact")
    columns = [column for column in columns if column.key not in hidden]
    columns += [
        _custom_column(definition) for definition in definitions("contact") if f"cf.{definition.key}" not in hidden
    ]
    for column in columns:
        column.convert = column.convert or _text
    return columns


def columns_for(user, target):
    return customer_columns(user) if target == "customer" else contact_columns(user)


def header_key(text):
    return re.sub(r"[\s*＊]", "", text or "").lower()


def match_header(header, columns):
    """{position in the file: Column}, plus the headers nobody knows and the required columns the
    file lacks. A column is known by its label (with or without ``*``) or its field name."""
    known = {}
    for column in columns:
        known[header_key(column.label)] = column
        known[header_key(column.key)] = column
    mapping, unknown, seen = {}, [], set()
    for index, text in enumerate(header):
        column = known.get(header_key(text))
        if column is None:
            if text:
                unknown.append(text)
            continue
        if column.key in seen:
            unknown.append(text)
            continue
        seen.add(column.key)
        mapping[index] = column
    missing = [column.label for column in columns if column.required and column.key not in seen]
    return mapping, unknown, missing


# --- regions by name -----------------------------------------------------------------------------


def _find_region(text, options):
    """A code among ``options`` [(code, name)] by code, exact name, or name without its suffix
    ("广东" → 广东省, "深圳" → 深圳市)."""
    text = text.strip()
    for code, name in options:
        if text in (code, name):
            return code
    matches = [code for code, name in options if name.startswith(text) and len(text) >= 2]
    return matches[0] if len(matches) == 1 else None


# Translated only when a message needs them (gettext per row and key costs ~0.1 ms a row).
REGION_KEYS = (("province", gettext_lazy("省份")), ("city", gettext_lazy("城市")), ("district", gettext_lazy("区县")))


def resolve_regions(data, errors, labels):
    """Province / city / district names in ``data`` → codes, in place; unknown ones go to
    ``errors`` as (column label, message) and are dropped from ``data``."""
    parent_options = regions.provinces()
    for key, what in REGION_KEYS:
        text = data.get(key)
        if not text:
            return
        code = _find_region(text, parent_options)
        if code is None:
            message = _("%(what)s「%(value)s」不存在。") % {"what": what, "value": text}
            errors.append((str(labels.get(key, what)), message))
            data.pop(key)
            for later in ("province", "city", "district")[("province", "city", "district").index(key) + 1 :]:
                data.pop(later, None)
            return
        data[key] = code
        parent_options = regions.children(code)
