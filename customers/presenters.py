"""How customer and contact values reach a viewer: masked (138****5678, zh***@example.com) unless
they may see them in full, hidden fields dropped, custom fields filtered the same way. The API
serializers, pages and history all present through here."""

import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from crm import regions
from crm.masking import mask_email, mask_phone
from customers.models import (
    CustomerKind,
    CustomerLevel,
    CustomField,
    CustomFieldTarget,
    CustomFieldType,
    DealStatus,
    Industry,
    Source,
    Tag,
)
from staff.fieldperms import hidden_fields
from staff.models import Department, User

# Output keys that show another field: hidden with it.
DERIVED = {"owner_name": "owner", "level_name": "level"}
MASKERS = {"mobile": mask_phone, "phone": mask_phone, "email": mask_email}
CUSTOM_MASKERS = {CustomFieldType.PHONE: mask_phone, CustomFieldType.EMAIL: mask_email}


class Presenter:
    """Per request and record type: the user's hidden fields and the custom field types, loaded
    once (two queries at most, whatever the page size)."""

    def __init__(self, user, target):
        self.user = user
        self.target = target
        self.hidden = hidden_fields(user, target)
        self._custom_types = None

    @property
    def custom_types(self):
        if self._custom_types is None:
            self._custom_types = dict(CustomField.objects.filter(target=self.target).values_list("key", "type"))
        return self._custom_types

    def masker(self, name):
        """The function masking output field ``name`` ("cf.<key>": a custom field) for a viewer who
        may not see contact details in full; None when it is shown as is."""
        if name.startswith("cf."):
            return CUSTOM_MASKERS.get(self.custom_types.get(name[3:]))
        return MASKERS.get(name)

    def custom_fields(self, values, *, full):
        shown = {}
        for key, value in (values or {}).items():
            if f"cf.{key}" in self.hidden:
                continue
            if key not in self.custom_types:
                continue  # the definition was deleted: its type (phone? e-mail?) is unknown
            masker = self.masker(f"cf.{key}")
            shown[key] = masker(value) if (masker and not full and isinstance(value, str)) else value
        return shown

    def record(self, data, *, full):
        """``data``: the serialized record (a dict), changed in place and returned."""
        for name in list(data):
            if name in self.hidden or DERIVED.get(name) in self.hidden:
                del data[name]
            elif not full and data[name] and (masker := self.masker(name)):
                data[name] = masker(data[name])
        if "custom_fields" in data:
            data["custom_fields"] = self.custom_fields(data["custom_fields"], full=full)
        return data

    def shown(self, names):
        """``names`` (output fields, "cf.<key>" for custom fields) without the ones ``record``
        drops for this user: the columns of a table of records (exports)."""
        return [
            name
            for name in names
            if name not in self.hidden
            and DERIVED.get(name) not in self.hidden
            and (not name.startswith("cf.") or name[3:] in self.custom_types)
        ]

    def row_masker(self, names):
        """``record``'s masking for rows of values in the order of ``names`` (``shown`` names), a
        list per record instead of a dict (exports: ~25 values a row, 500,000 rows): a function
        masking such a row in place, for a viewer who may not see it in full. Built-in fields
        hold strings; a custom field's value is masked only when it is one, as in ``record``."""
        positions = [(position, masker) for position, name in enumerate(names) if (masker := self.masker(name))]

        def mask(values):
            for position, masker in positions:
                value = values[position]
                if value and isinstance(value, str):
                    values[position] = masker(value)
            return values

        return mask


def present_history_value(field, value, *, full, presenter=None):
    if field in MASKERS and not full and value:
        return MASKERS[field](value)
    if field == "custom_fields" and presenter is not None:
        return presenter.custom_fields(value, full=full)
    return value


def custom_display(definition, value):
    """A custom field's value as text (lists joined, yes/no for booleans)."""
    if value is None or value == "" or value == []:
        return ""
    if definition is not None and definition.type == CustomFieldType.BOOLEAN:
        return _("是") if value else _("否")
    if isinstance(value, list):
        return "、".join(str(item) for item in value)
    return str(value)


HISTORY_LOOKUPS = {
    "industry": Industry,
    "source": Source,
    "level": CustomerLevel,
    "owner": User,
    "created_by": User,
    "deleted_by": User,
    "department": Department,
}
HISTORY_CHOICES = {"kind": dict(CustomerKind.choices), "deal_status": dict(DealStatus.choices)}


def readable_history(entries):
    """History entries (``selectors.customer_history`` / ``customer_timeline``) with readable
    values beside the raw ones: ``old_display`` / ``new_display`` — names for ids, labels for
    choices, region names for codes, custom fields one change per key (``custom_fields.<key>``).
    Pages and the API both show these. A fixed number of queries."""
    wanted = {}
    for entry in entries:
        for change in entry.get("changes", []):
            model = Tag if change["field"] == "tags" else HISTORY_LOOKUPS.get(change["field"])
            if model is None:
                continue
            for value in (change["old"], change["new"]):
                values = value if isinstance(value, list) else [value]
                wanted.setdefault(model, set()).update(item for item in values if isinstance(item, int))
    names = {model: {row.pk: str(row) for row in model.objects.filter(pk__in=ids)} for model, ids in wanted.items()}
    custom_labels, custom_types = {}, {}
    for key, label, type_ in CustomField.objects.filter(target=CustomFieldTarget.CUSTOMER).values_list(
        "key", "label", "type"
    ):
        custom_labels[key], custom_types[key] = label, type_

    def show(field, value):
        if value is None or value == "" or value == [] or value == {}:
            return ""
        model = Tag if field == "tags" else HISTORY_LOOKUPS.get(field)
        if model is not None:
            values = value if isinstance(value, list) else [value]
            return "、".join(names.get(model, {}).get(item, f"#{item}") for item in values)
        if field in HISTORY_CHOICES:
            return str(HISTORY_CHOICES[field].get(value, value))
        if field in ("province", "city", "district"):
            try:
                return regions.region_name(value) or value
            except (KeyError, LookupError, ValueError):
                return value
        if isinstance(value, datetime.datetime):
            return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
        if isinstance(value, bool):
            return _("是") if value else _("否")
        if isinstance(value, list):
            return "、".join(str(item) for item in value)
        return str(value)

    shown = []
    for entry in entries:
        if entry.get("kind", "history") != "history":
            shown.append(entry)
            continue
        changes = []
        for change in entry["changes"]:
            if change["field"] == "custom_fields":
                old, new = change["old"] or {}, change["new"] or {}
                for key in sorted(set(old) | set(new)):
                    if old.get(key) != new.get(key):
                        definition = type("Definition", (), {"type": custom_types.get(key)})
                        changes.append(
                            {
                                "field": f"custom_fields.{key}",
                                "label": custom_labels.get(key, key),
                                "old": old.get(key),
                                "new": new.get(key),
                                "old_display": custom_display(definition, old.get(key)),
                                "new_display": custom_display(definition, new.get(key)),
                            }
                        )
                continue
            changes.append(
                {
                    **change,
                    "old_display": show(change["field"], change["old"]),
                    "new_display": show(change["field"], change["new"]),
                }
            )
        shown.append({**entry, "changes": changes})
    return shown
