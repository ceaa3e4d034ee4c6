"""Shared normalisers, validators and fields: phone numbers, 统一社会信用代码, e-mail."""

import random

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.fields import (
    CnMobileField,
    CnMobileFormField,
    CnPhoneField,
    CnPhoneFormField,
    CreditCodeField,
    CreditCodeFormField,
    NormalizedEmailFormField,
)
from crm.validators import (
    CREDIT_CODE_MESSAGE,
    EMAIL_MESSAGE,
    LANDLINE_MESSAGE,
    PHONE_MESSAGE,
    _cn_mobile,
    _parsed_cn,
    digits_only,
    normalize_cn_landline,
    normalize_cn_mobile,
    normalize_cn_phone,
    normalize_credit_code,
    normalize_email,
    validate_cn_landline,
    validate_cn_mobile,
    validate_cn_phone,
    validate_credit_code,
    validate_email,
)


def _code_of(call, value):
    with pytest.raises(ValidationError) as caught:
        call(value)
    return caught.value.code


# --- digits_only -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+86 (010) 1234-5678", "8601012345678"),
        ("１３８ ００１３", "1380013"),  # full-width digits
        ("abc", ""),
        ("", ""),
        (None, ""),
        (440305, "440305"),
    ],
)
def test_digits_only(value, expected):
    assert digits_only(value) == expected


# --- mobiles -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["13800138000", "+86 138 0013 8000", "+8613800138000", "0086-138-0013-8000", " 138 0013 8000 "]
)
def test_mobile_spellings_normalise_to_11_digits(value):
    assert normalize_cn_mobile(value) == "13800138000"


@pytest.mark.parametrize("value", ["", None, "1380013800", "23800138000", "010-12345678", "+1 650 253 0000"])
def test_not_a_mobile(value):
    assert normalize_cn_mobile(value) is None


# --- the fast paths give the parser's answers ------------------------------------------------------------------


def _parsed_mobile(value):
    """normalize_cn_mobile as libphonenumber alone answers it (no fast path, no memory)."""
    return _cn_mobile.__wrapped__(str(value).strip()) if value else None


def test_plain_mobiles_every_six_digit_prefix():
    rng = random.Random(6)
    for prefix in range(100_000, 200_000):
        number = f"{prefix}{rng.randrange(100_000):05d}"
        assert normalize_cn_mobile(number) == _parsed_mobile(number), number


# Digits and what people write around them in a phone cell.
PHONE_CHARACTERS = "0123456789" * 3 + " -().+" + "０１８６" + "转x#,;" + "\u3000"


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(
    st.one_of(
        st.text(PHONE_CHARACTERS, max_size=16),
        st.from_regex(r"\A[ ]?(?:\+86|0086)?[ ]?1[0-9]{10}[ ]?\Z"),
        st.from_regex(r"\A\(?0[0-9]{2,3}\)?[- ]?[0-9]{7,8}\Z"),
        st.from_regex(r"\A[0-9]{10,12}\Z"),
        st.from_regex(r"\A[0-9][0-9 ().-]{8,14}[0-9]\Z"),
    )
)
def test_mobile_and_phone_fast_paths_agree_with_the_parser(value):
    mobile = _parsed_mobile(value)
    assert normalize_cn_mobile(value) == mobile
    assert normalize_cn_phone(value) == (mobile or normalize_cn_landline(value))


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(st.from_regex(r"\A0[0-9]{1,4}-[0-9]{5,9}\Z") | st.from_regex(r"\A0[1-9][0-9]{1,2}-[0-9]{7,8}\Z"))
def test_a_plain_landline_is_read_as_the_parser_reads_it(text):
    try:
        parsed = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        parsed = None
    assert _parsed_cn(text) == parsed


# --- landlines ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Beijing, 2-digit area code
        ("010-12345678", "010-12345678"),
        ("(010)12345678", "010-12345678"),
        ("（010）12345678", "010-12345678"),  # full-width brackets
        ("010 1234 5678", "010-12345678"),
        ("01012345678", "010-12345678"),
        ("+86 10 1234 5678", "010-12345678"),
        ("0086 10 6234 5678", "010-62345678"),
        ("010-1234-5678", "010-12345678"),  # a dash group that is part of the number, not an extension
        ("010-12345678-123", "010-12345678-123"),
        ("010-12345678转123", "010-12345678-123"),
        ("010-12345678 转 123", "010-12345678-123"),
        ("010-12345678分机123", "010-12345678-123"),
        ("010-12345678 ext 123", "010-12345678-123"),
        ("010-12345678 EXT. 123", "010-12345678-123"),
        ("010-12345678x123", "010-12345678-123"),
        ("010-12345678#123", "010-12345678-123"),
        # Shenzhen, 3-digit area code, 8-digit subscriber numbers
        ("0755-86013388", "0755-86013388"),
        ("(0755) 8601 3388", "0755-86013388"),
        ("+86 755 8601 3388", "0755-86013388"),
        ("0755-86013388-123", "0755-86013388-123"),
        ("0755-86013388转8", "0755-86013388-8"),
        # 保定 has 7-digit subscriber numbers
        ("0312-3456789", "0312-3456789"),
        ("0312-3456789-12", "0312-3456789-12"),
        # nationwide service numbers
        ("400-810-8888", "400-810-8888"),
        ("4008108888", "400-810-8888"),
        ("400 810 8888", "400-810-8888"),
        ("800-810-8888", "800-810-8888"),
        ("400-810-8888转2", "400-810-8888-2"),
    ],
)
def test_landline_spellings_normalise(value, expected):
    assert normalize_cn_landline(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        None,
        "13800138000",  # a mobile is not a landline
        "+86 138 0013 8000",
        "138-0013-8000-12",  # not even with an "extension"
        "0755-1234567",  # Shenzhen numbers have 8 digits
        "010-6234567",  # Beijing's too
        "62345678",  # no area code
        "010-12345678-1234567",  # extension too long
        "010-12345678 转",
        "+852 2123 4567",  # Hong Kong is not the mainland
        "400-FLOWERS",  # no letters
        "95588",  # short service number
        "abc",
    ],
)
def test_not_a_landline(value):
    assert normalize_cn_landline(value) is None


def test_validate_landline():
    validate_cn_landline("010-12345678")
    assert _code_of(validate_cn_landline, "13800138000") == "invalid_landline"


# --- phone: mobile or landline -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+86 138 0013 8000", "13800138000"),
        ("010-12345678", "010-12345678"),
        ("0755-86013388转123", "0755-86013388-123"),
        ("400-810-8888", "400-810-8888"),
    ],
)
def test_phone_is_a_mobile_or_a_landline(value, expected):
    assert normalize_cn_phone(value) == expected


@pytest.mark.parametrize("value", ["", None, "12345", "1380013800", "13800138000转1", "0755-1234567"])
def test_not_a_phone(value):
    assert normalize_cn_phone(value) is None


def test_validate_phone_and_mobile():
    validate_cn_phone("13800138000")
    validate_cn_phone("010-12345678")
    assert _code_of(validate_cn_phone, "12345") == "invalid_phone"
    assert _code_of(validate_cn_mobile, "010-12345678") == "invalid_mobile"


# --- 统一社会信用代码 -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "91350100M000100Y43",
        "91350100m000100y43",
        "  91350100M000100Y43\n",
        "9135 0100 M000 100Y43",
        "91110000600037341L",
    ],
)
def test_credit_code_normalises_to_upper_case(value):
    assert normalize_credit_code(value) in ("91350100M000100Y43", "91110000600037341L")
    assert normalize_credit_code(value) == normalize_credit_code(value).upper()


@pytest.mark.parametrize(
    "value",
    [
        "",
        None,
        "91350100M000100Y44",  # wrong check digit
        "91350100M000100Y4",  # 17 characters
        "91350100M000100Y430",  # 19 characters
        "A1350100M000100Y43",  # registering authority must be a digit
        "91350100I000100Y43",  # I is not in the alphabet
    ],
)
def test_invalid_credit_code(value):
    assert normalize_credit_code(value) is None


def test_validate_credit_code():
    validate_credit_code("91350100M000100Y43")
    assert _code_of(validate_credit_code, "91350100M000100Y44") == "invalid_credit_code"
    assert "18" in str(CREDIT_CODE_MESSAGE) and "校验" in str(CREDIT_CODE_MESSAGE)


# --- e-mail --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  Zhang.San@Example.COM ", "Zhang.San@example.com"),  # local part kept as typed
        ("li@mail.qq.com", "li@mail.qq.com"),
        ("wang+crm@Sub.Example.CN", "wang+crm@sub.example.cn"),
    ],
)
def test_email_normalises_domain_case(value, expected):
    assert normalize_email(value) == expected


@pytest.mark.parametrize("value", ["", None, "zhang", "zhang@", "@example.com", "zhang san@example.com", "a@b@c.com"])
def test_invalid_email(value):
    assert normalize_email(value) is None


def test_validate_email():
    validate_email("a@Example.com")
    assert _code_of(validate_email, "not-an-address") == "invalid_email"


# --- messages --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("message", [LANDLINE_MESSAGE, PHONE_MESSAGE, CREDIT_CODE_MESSAGE, EMAIL_MESSAGE])
def test_messages_are_chinese(message):
    assert "请输入" in str(message)


# --- form fields -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (CnMobileFormField(), "+86 138 0013 8000", "13800138000"),
        (CnPhoneFormField(), "+86 138 0013 8000", "13800138000"),
        (CnPhoneFormField(), "(0755) 8601 3388 转 123", "0755-86013388-123"),
        (CreditCodeFormField(), " 91350100m000100y43 ", "91350100M000100Y43"),
        (NormalizedEmailFormField(), " Zhang@Example.COM ", "Zhang@example.com"),
        (CnPhoneFormField(required=False), "  ", ""),
        (CreditCodeFormField(required=False), "", ""),
    ],
)
def test_form_fields_clean_to_the_normalised_form(field, value, expected):
    assert field.clean(value) == expected


@pytest.mark.parametrize(
    ("field", "value", "code", "message"),
    [
        (CnPhoneFormField(), "12345", "invalid_phone", PHONE_MESSAGE),
        (CreditCodeFormField(), "91350100M000100Y44", "invalid_credit_code", CREDIT_CODE_MESSAGE),
        (NormalizedEmailFormField(), "zhang@", "invalid_email", EMAIL_MESSAGE),
    ],
)
def test_form_fields_reject_invalid_values(field, value, code, message):
    with pytest.raises(ValidationError) as caught:
        field.clean(value)
    assert caught.value.code == code
    assert caught.value.messages == [str(message)]


def test_required_form_field_rejects_blank():
    with pytest.raises(ValidationError) as caught:
        CnPhoneFormField().clean("")
    assert caught.value.code == "required"


# --- model fields ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field_class", "max_length", "form_class"),
    [
        (CnMobileField, 11, CnMobileFormField),
        (CnPhoneField, 24, CnPhoneFormField),
        (CreditCodeField, 18, CreditCodeFormField),
    ],
)
def test_model_fields_deconstruct_and_build_their_form_field(field_class, max_length, form_class):
    field = field_class("电话", blank=True)
    field.set_attributes_from_name("value")
    _name, path, args, kwargs = field.deconstruct()
    assert path == f"crm.fields.{field_class.__name__}"
    assert kwargs == {"verbose_name": "电话", "blank": True, "max_length": max_length}
    rebuilt = field_class(*args, **kwargs)
    assert rebuilt.max_length == max_length
    assert isinstance(field.formfield(), form_class)


@pytest.mark.parametrize(
    ("field", "good", "bad", "code"),
    [
        (CnPhoneField(), "0755-86013388-123", "12345", "invalid_phone"),
        (CreditCodeField(), "91350100M000100Y43", "91350100M000100Y44", "invalid_credit_code"),
    ],
)
def test_model_fields_validate(field, good, bad, code):
    field.run_validators(good)
    with pytest.raises(ValidationError) as caught:
        field.run_validators(bad)
    assert caught.value.error_list[0].code == code
