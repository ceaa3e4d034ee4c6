"""Model and form fields shared by every app."""

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

from crm.validators import MOBILE_MESSAGE, normalize_cn_mobile, validate_cn_mobile


class CnMobileFormField(forms.CharField):
    """Accepts any common spelling (spaces, dashes, +86) and cleans to the 11-digit number."""

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        normalized = normalize_cn_mobile(value)
        if normalized is None:
            raise ValidationError(MOBILE_MESSAGE, code="invalid_mobile")
        return normalized


class CnMobileField(models.CharField):
    """A mainland mobile number, stored normalised as 11 digits."""

    default_validators = [validate_cn_mobile]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 11)
        super().__init__(*args, **kwargs)

    def formfield(self, **kwargs):
        # Room for "+86 138 0013 8000" while typing; cleaned to 11 digits.
        return super().formfield(**{"form_class": CnMobileFormField, "max_length": 20, **kwargs})
