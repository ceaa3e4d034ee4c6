"""The forms that validate customers and contacts — used by the services for every write (web
pages, API, imports), so a rule lives in one place. Field permissions shape them per user: hidden
fields are removed, read-only ones disabled (Django then keeps the stored value)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from crm import regions
from crm.fields import NormalizedEmailFormField
from customers.custom_fields import PREFIX, CustomFieldsMixin
from customers.models import Contact, Customer, CustomerLevel, CustomFieldTarget, Industry, Source, Tag
from staff.fieldperms import field_access
from staff.models import FieldAccess

CUSTOMER_FIELDS = [
    "name", "kind", "credit_code", "mobile", "phone", "email", "industry", "source", "level", "tags",
    "province", "city", "district", "address", "website", "next_follow_up_at", "remark",
]  # fmt: skip
CONTACT_FIELDS = ["name", "title", "mobile", "email", "wechat", "birthday", "is_primary", "remark"]


class _RecordForm(CustomFieldsMixin, forms.ModelForm):
    target = None

    def __init__(self, *args, user=None, custom_definitions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.custom_field_target = self.target
        self.add_custom_fields(custom_definitions)
        self.user = user
        for name, access in field_access(user, self.target).items():
            form_name = PREFIX + name[3:] if name.startswith("cf.") else name
            if form_name not in self.fields:
                continue
            if access == FieldAccess.HIDDEN:
                del self.fields[form_name]
            elif access == FieldAccess.READONLY:
                self.fields[form_name].disabled = True
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.CheckboxSelectMultiple):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")

    def clean(self):
        cleaned = super().clean()
        return self.clean_custom_fields_into(cleaned)

    def builtin_field_names(self):
        return [name for name in self.fields if not name.startswith(PREFIX)]


class CustomerForm(_RecordForm):
    target = CustomFieldTarget.CUSTOMER

    email = NormalizedEmailFormField(label=_("邮箱"), required=False)
    industry = forms.ModelChoiceField(Industry.objects.filter(is_active=True), label=_("行业"), required=False)
    source = forms.ModelChoiceField(Source.objects.filter(is_active=True), label=_("来源"), required=False)
    level = forms.ModelChoiceField(CustomerLevel.objects.all(), label=_("等级"), required=False)
    tags = forms.ModelMultipleChoiceField(Tag.objects.all(), label=_("标签"), required=False)
    website = forms.URLField(label=_("网址"), required=False, max_length=200, assume_scheme="https")
    next_follow_up_at = forms.DateTimeField(
        label=_("下次联系时间"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    class Meta:
        model = Customer
        fields = CUSTOMER_FIELDS
        widgets = {"remark": forms.Textarea(attrs={"rows": 3})}

    def clean(self):
        cleaned = super().clean()
        try:
            regions.validate_region(cleaned.get("province"), cleaned.get("city"), cleaned.get("district"))
        except forms.ValidationError as error:
            for field, messages in error.message_dict.items():
                if field in self.fields and field not in self.errors:
                    self.add_error(field, messages)
        return cleaned


class ContactForm(_RecordForm):
    target = CustomFieldTarget.CONTACT

    email = NormalizedEmailFormField(label=_("邮箱"), required=False)
    birthday = forms.DateField(label=_("生日"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = Contact
        fields = CONTACT_FIELDS
        widgets = {"remark": forms.Textarea(attrs={"rows": 2})}
