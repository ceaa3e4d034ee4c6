"""Validators and normalisers shared by every app (phone numbers first)."""

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def normalize_cn_mobile(value):
    """Return the 11-digit mainland mobile number for ``value`` (spaces, dashes, +86/0086 allowed),
    or None when it is not one."""
    if not value:
        return None
    text = str(value).strip()
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return None
    return str(number.national_number)


MOBILE_MESSAGE = _("请输入有效的中国大陆手机号码（11位，以1开头）。")


def validate_cn_mobile(value):
    if normalize_cn_mobile(value) is None:
        raise ValidationError(MOBILE_MESSAGE, code="invalid_mobile")
