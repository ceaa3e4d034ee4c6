"""Validators and normalisers shared by every app: phone numbers, 统一社会信用代码, e-mail.

Each rule comes as ``normalize_*(value)``, which returns the one stored spelling or None when the value is not
valid (blank included), a ``*_MESSAGE`` and a ``validate_*(value)`` raising ``ValidationError(message, code=…)``.
Store what ``normalize_*`` returns, so equal values compare equal in the database.

The normalisers are pure, and each remembers its last few thousand answers (by the value's text):
a form's field cleans a value and the model field's validator checks the cleaned value again —
with libphonenumber or python-stdnum each time, ~0.1 ms a number — and a bulk import asks both
for every row.
"""

import functools
import re
import unicodedata

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext_lazy as _
from stdnum.cn import uscc


def digits_only(value) -> str:
    """The digits of ``value`` in order, as ASCII: "+86 (010) 1234-5678" -> "8601012345678"; full-width digits
    count ("１３８" -> "138"); "" for None."""
    if value is None:
        return ""
    return re.sub(r"[^0-9]", "", unicodedata.normalize("NFKC", str(value)))


# Answers remembered per normaliser (a few hundred kB at most): enough for the two calls of one
# row (form field, then model validator) and values repeated across a file.
NORMALIZE_CACHE_SIZE = 4096


def normalize_cn_mobile(value):
    """Return the 11-digit mainland mobile number for ``value`` (spaces, dashes, +86/0086 allowed),
    or None when it is not one."""
    if not value:
        return None
    text = str(value).strip()
    if _PLAIN_MOBILE.fullmatch(text):
        return text if _CN_MOBILE_NUMBER.fullmatch(text) else None
    if _NOT_MOBILE_CHARACTERS.fullmatch(text) and _too_few_digits_for_a_mobile(text):
        return None
    return _cn_mobile(text)


# Fast paths for the commonest inputs of a bulk import, each giving libphonenumber's own answer
# without its parser (~25 µs a number):
#
# - 11 ASCII digits "1[3-9]…" except "179…": parse() keeps them whole as the national number
#   (no "+", no leading "86", and neither CN's international prefix pattern,
#   00|1(?:[12]\d|79)\d\d00, nor its national prefix/carrier code pattern, (1(?:[12]\d|79)\d\d)|0,
#   matches at the start). Of CN's number types, only
#   the mobile pattern can match an 11-digit number starting 1[3-9] (the fixed-line, shared-cost,
#   toll-free and premium patterns start otherwise or are shorter), so the number is a valid
#   mobile exactly when it matches CN's mobile pattern — read from phonenumbers' metadata.
# - digits with spaces, dashes, brackets or dots only, fewer than 11 digits, or 11 starting with
#   0 (a landline "010-12345678"): libphonenumber's national number is what is left of the digits
#   once prefixes (international, country code, national prefix) are cut off, and a mobile's has
#   11 digits starting with 1 — none here. (No extension can be read without a letter, "#", ","
#   or ";".)
#
# crm/tests/test_validators.py checks both against the parser (every 6-digit prefix, hypothesis).
_PLAIN_MOBILE = re.compile(r"1(?:[3-68-9][0-9]|7[0-8])[0-9]{8}")
_CN_MOBILE_NUMBER = re.compile(phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern)
_NOT_MOBILE_CHARACTERS = re.compile(r"[0-9 ().\-]+")


def _too_few_digits_for_a_mobile(text):
    digits = re.sub(r"[^0-9]", "", text)
    return len(digits) < 11 or (len(digits) == 11 and digits[0] == "0")


@functools.lru_cache(maxsize=NORMALIZE_CACHE_SIZE)
def _cn_mobile(text):
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


# An extension after an explicit marker: "转123", "分机 123", "ext 123", "ext.123", "x123", "#123".
_MARKED_EXTENSION = re.compile(r"^(?P<number>.+?)\s*(?:转|分机|ext\.?|x|#)\s*(?P<extension>\d{1,6})$", re.IGNORECASE)
# "010-12345678-123": a trailing dash group, an extension only if the number without it is valid.
_DASH_EXTENSION = re.compile(r"^(?P<number>.+?)\s*-\s*(?P<extension>\d{1,6})$")
# What a number may be written with once the extension is split off (no letters: no vanity numbers).
_NUMBER_CHARACTERS = re.compile(r"[0-9+\-().\s]+")
_SERVICE_PREFIXES = ("400", "800")  # nationwide 400 (shared cost) and 800 (toll free) numbers, 10 digits


# "010-12345678", "0755-8601338": what phonenumbers.parse(text, "CN") makes of it without its
# parser — country code 86, the national number the digits after the leading 0 (CN's national
# prefix: no "+", no international prefix, no leading "86", no extension; 9 to 11 digits are a
# possible length, so parse() strips the 0). crm/tests/test_validators.py checks it is parse()'s.
_PLAIN_LANDLINE = re.compile(r"0([1-9][0-9]{1,2})-([0-9]{7,8})")


def _parsed_cn(text):
    """phonenumbers.parse(text, "CN"), or None when it refuses the text."""
    plain = _PLAIN_LANDLINE.fullmatch(text)
    if plain:
        return phonenumbers.PhoneNumber(country_code=86, national_number=int(plain[1] + plain[2]))
    try:
        return phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None


def _landline(text, extension):
    """ "<0 + area code>-<subscriber>[-<extension>]" or "400-810-8888[-<extension>]" for ``text``; else None."""
    if not _NUMBER_CHARACTERS.fullmatch(text):
        return None
    number = _parsed_cn(text)
    if number is None:
        return None
    if number.country_code != 86 or number.extension or not phonenumbers.is_valid_number(number):
        return None
    national = str(number.national_number)
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.FIXED_LINE:
        area_code_length = phonenumbers.length_of_geographical_area_code(number)
        if not area_code_length:
            return None
        normalized = f"0{national[:area_code_length]}-{national[area_code_length:]}"
    elif (
        kind in (phonenumbers.PhoneNumberType.SHARED_COST, phonenumbers.PhoneNumberType.TOLL_FREE)
        and len(national) == 10
        and national.startswith(_SERVICE_PREFIXES)
    ):
        normalized = f"{national[:3]}-{national[3:6]}-{national[6:]}"
    else:  # mobiles, short and premium numbers, other service numbers
        return None
    return f"{normalized}-{extension}" if extension else normalized


def normalize_cn_landline(value) -> str | None:
    """Return a mainland fixed-line number as "<area code with its 0>-<subscriber>", plus "-<extension>" when
    one is given, e.g. "010-12345678", "0755-86013388-123"; 400/800 numbers as "400-810-8888"; None otherwise.

    Accepts "010-12345678", "(010)12345678", "010 1234 5678", "01012345678", "+86 10 1234 5678",
    full-width characters, and an extension as "-123", "转123", "分机123", "ext 123", "x123" or "#123".
    Validity (area code, subscriber length) is libphonenumber's; mobiles are not landlines.
    """
    if not value:
        return None
    return _cn_landline(unicodedata.normalize("NFKC", str(value)).strip())


@functools.lru_cache(maxsize=NORMALIZE_CACHE_SIZE)
def _cn_landline(text):
    marked = _MARKED_EXTENSION.match(text)
    if marked:
        return _landline(marked["number"], marked["extension"])
    normalized = _landline(text, None)
    if normalized is None and (dashed := _DASH_EXTENSION.match(text)):
        normalized = _landline(dashed["number"], dashed["extension"])
    return normalized


def normalize_cn_phone(value) -> str | None:
    """A mainland mobile (-> 11 digits, as ``normalize_cn_mobile``) or landline (-> as ``normalize_cn_landline``);
    None when it is neither."""
    return normalize_cn_mobile(value) or normalize_cn_landline(value)


LANDLINE_MESSAGE = _("请输入有效的中国大陆固定电话号码（区号-号码，如 010-12345678，可加分机号）或 400/800 号码。")
PHONE_MESSAGE = _("请输入有效的中国大陆手机号码或固定电话号码（如 13800138000 或 010-12345678）。")


def validate_cn_landline(value):
    if normalize_cn_landline(value) is None:
        raise ValidationError(LANDLINE_MESSAGE, code="invalid_landline")


def validate_cn_phone(value):
    if normalize_cn_phone(value) is None:
        raise ValidationError(PHONE_MESSAGE, code="invalid_phone")


def normalize_credit_code(value) -> str | None:
    """Return the 统一社会信用代码 (USCC) as its 18 upper-case characters when its format and check digit are
    right (GB 32100, via python-stdnum); lower case, surrounding spaces and inner spaces/dashes are accepted.
    None otherwise."""
    if not value:
        return None
    return _credit_code(str(value).strip())


@functools.lru_cache(maxsize=NORMALIZE_CACHE_SIZE)
def _credit_code(text):
    if not uscc.is_valid(text):
        return None
    return uscc.compact(text)


CREDIT_CODE_MESSAGE = _("请输入有效的统一社会信用代码（18位数字或大写字母，最后一位校验码须正确）。")


def validate_credit_code(value):
    if normalize_credit_code(value) is None:
        raise ValidationError(CREDIT_CODE_MESSAGE, code="invalid_credit_code")


_email_validator = EmailValidator()


def normalize_email(value) -> str | None:
    """Return the e-mail address stripped and with its domain in lower case (the local part is kept as typed:
    it may be case-sensitive); None when Django's EmailValidator rejects it."""
    if not value:
        return None
    return _email(str(value).strip())


@functools.lru_cache(maxsize=NORMALIZE_CACHE_SIZE)
def _email(text):
    try:
        _email_validator(text)
    except ValidationError:
        return None
    local, _at, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


EMAIL_MESSAGE = _("请输入有效的电子邮箱地址。")


def validate_email(value):
    if normalize_email(value) is None:
        raise ValidationError(EMAIL_MESSAGE, code="invalid_email")
