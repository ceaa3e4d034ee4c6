"""Custom fields (字段配置): each definition becomes a Django form field — the same form fields the
built-in fields use (a phone custom field cleans exactly like ``Customer.phone``) — so the web
form, the API, and the importer validate custom values through one path: the record's form in
``customers.forms``."""

import datetime
from decimal import Decimal

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from crm.fields import CnPhoneFormField, NormalizedEmailFormField
from customers.models import CustomField, CustomFieldType

PREFIX = "cf_"
TEXT_MAX_LENGTH = 500


def definitions(target):
    """The active custom fields of ``target``, in display order."""
    return list(CustomField.objects.filter(target=target, is_active=True).order_by("order", "id"))


def form_field_for(definition):
    common = {"label": definition.label, "required": definition.required, "help_text": definition.help_text}
    kind = definition.type
    if kind == CustomFieldType.TEXT:
        validators = []
        if definition.regex:
            validators.append(RegexValidator(rf"^(?:{definition.regex})$", _("格式不正确。")))
        return forms.CharField(max_length=TEXT_MAX_LENGTH, validators=validators, **common)
    if kind == CustomFieldType.NUMBER:
        return forms.DecimalField(max_digits=18, decimal_places=4, **common)
    if kind == CustomFieldType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if kind == CustomFieldType.CHOICE:
        return forms.ChoiceField(choices=[("", "---------")] + [(c, c) for c in definition.choices], **common)
    if kind == CustomFieldType.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=[(c, c) for c in definition.choices], widget=forms.CheckboxSelectMultiple, **common
        )
    if kind == CustomFieldType.BOOLEAN:
        return forms.NullBooleanField(
            widget=forms.NullBooleanSelect(attrs={"class": "form-select"}),
            **{**common, "required": False},  # required is checked below: False is an answer
        )
    if kind == CustomFieldType.PHONE:
        return CnPhoneFormField(**common)
    if kind == CustomFieldType.EMAIL:
        return NormalizedEmailFormField(**common)
    raise ValueError(f"unknown custom field type {kind!r}")


def to_json(value):
    """A cleaned form value as stored in the JSON column (numbers as numbers, dates ISO)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if value in ("", None, []):
        return None
    return value


def to_form(definition, value):
    """A stored value as form input (for partial updates and edit pages)."""
    if value is None:
        return None
    return value


class CustomFieldsMixin:
    """For a ModelForm of a record with ``custom_fields``: adds one ``cf_<key>`` field per active
    definition, fills them from the instance, and folds them back into ``custom_fields`` (keys of
    inactive definitions keep their stored values)."""

    custom_field_target = None

    def add_custom_fields(self, defs=None):
        self.custom_definitions = definitions(self.custom_field_target) if defs is None else defs
        stored = (self.instance.custom_fields or {}) if self.instance is not None else {}
        for definition in self.custom_definitions:
            name = PREFIX + definition.key
            self.fields[name] = form_field_for(definition)
            if name not in self.initial:
                self.initial[name] = to_form(definition, stored.get(definition.key))

    def clean_custom_fields_into(self, cleaned):
        values = dict((self.instance.custom_fields or {}) if self.instance is not None else {})
        for definition in self.custom_definitions:
            name = PREFIX + definition.key
            if name not in cleaned:
                continue  # already invalid: the field's error is on the form
            value = to_json(cleaned[name])
            if definition.type == CustomFieldType.BOOLEAN and definition.required and value is None:
                self.add_error(name, forms.Field.default_error_messages["required"])
                continue
            values[definition.key] = value
        cleaned["custom_fields"] = {key: value for key, value in values.items() if value is not None}
        return cleaned

    def custom_field_names(self):
        return [PREFIX + definition.key for definition in self.custom_definitions]
