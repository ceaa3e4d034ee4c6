"""Model and form fields shared by every app."""

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

from crm.validators import (
    CREDIT_CODE_MESSAGE,
    EMAIL_MESSAGE,
    MOBILE_MESSAGE,
    PHONE_MESSAGE,
    normalize_cn_mobile,
    normalize_cn_phone,
    normalize_credit_code,
    normalize_email,
    validate_cn_mobile,
    validate_cn_phone,
    validate_credit_code,
)


class NormalizingFormField(forms.CharField):
    """A CharField that cleans through ``normalize`` (a ``crm.validators.normalize_*`` function) and raises
    ``ValidationError(message, code=code)`` when it returns None. Blank values stay blank (``required`` decides)."""

    normalize = None
    message = None
    code = None

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        normalized = self.normalize(value)
        if normalized is None:
            raise ValidationError(self.message, code=self.code)
        return normalized


class CnMobileFormField(NormalizingFormField):
    """Accepts any common spelling (spaces, dashes, +86) and cleans to the 11-digit number."""

    normalize = staticmethod(normalize_cn_mobile)
    message = MOBILE_MESSAGE
    code = "invalid_mobile"


class CnPhoneFormField(NormalizingFormField):
    """A mobile or a landline in any common spelling; cleans to "13800138000" or "010-12345678[-ext]"."""

    normalize = staticmethod(normalize_cn_phone)
    message = PHONE_MESSAGE
    code = "invalid_phone"


class CreditCodeFormField(NormalizingFormField):
    """统一社会信用代码 in any case, with spaces; cleans to the 18 upper-case characters (check digit verified)."""

    normalize = staticmethod(normalize_credit_code)
    message = CREDIT_CODE_MESSAGE
    code = "invalid_credit_code"


class NormalizedEmailFormField(NormalizingFormField):
    """An e-mail address, stripped, with its domain lower-cased."""

    widget = forms.EmailInput
    normalize = staticmethod(normalize_email)
    message = EMAIL_MESSAGE
    code = "invalid_email"


class CnMobileField(models.CharField):
    """A mainland mobile number, stored normalised as 11 digits."""

    default_validators = [validate_cn_mobile]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 11)
        super().__init__(*args, **kwargs)

    def formfield(self, **kwargs):
        # Room for "+86 138 0013 8000" while typing; cleaned to 11 digits.
        return super().formfield(**{"form_class": CnMobileFormField, "max_length": 20, **kwargs})


class CnPhoneField(models.CharField):
    """A mainland mobile or landline, stored normalised: "13800138000", "0755-86013388-123", "400-810-8888"."""

    default_validators = [validate_cn_phone]

    def __init__(self, *args, **kwargs):
        # The longest normalised form, "0755-86013388-123456", is 20 characters.
        kwargs.setdefault("max_length", 24)
        super().__init__(*args, **kwargs)

    def formfield(self, **kwargs):
        # Room for "+86 (0755) 8601 3388 转 123456" while typing; cleaned to the short form.
        return super().formfield(**{"form_class": CnPhoneFormField, "max_length": 40, **kwargs})


class CreditCodeField(models.CharField):
    """A 统一社会信用代码, stored as its 18 upper-case characters."""

    default_validators = [validate_credit_code]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 18)
        super().__init__(*args, **kwargs)

    def formfield(self, **kwargs):
        # Room for a code typed in groups ("9135 0100 M000 100Y 43"); cleaned to 18 characters.
        return super().formfield(**{"form_class": CreditCodeFormField, "max_length": 30, **kwargs})
