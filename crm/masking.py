"""Masking of personal contact details (SPEC §1): ``138****5678``, ``010-****5678``,
``zh***@example.com``. Who sees what unmasked is decided by each record type's selectors; these
functions only shape the string."""


def mask_phone(value):
    """Keep the first three and last four digits of a mobile; keep the area code and last four
    digits of a landline (and drop any extension)."""
    if not value:
        return value
    text = str(value)
    if "-" in text:
        area, number = text.split("-")[:2]
        return f"{area}-{'*' * max(len(number) - 4, 0)}{number[-4:]}"
    if len(text) <= 7:
        return "*" * (len(text) - 2) + text[-2:]
    return f"{text[:3]}{'*' * (len(text) - 7)}{text[-4:]}"


def mask_email(value):
    if not value or "@" not in value:
        return value
    local, domain = value.rsplit("@", 1)
    return f"{local[:2]}***@{domain}"


def mask_text(value):
    """Anything else that identifies a person (a WeChat id): first and last character."""
    if not value:
        return value
    text = str(value)
    if len(text) <= 2:
        return text[0] + "*"
    return f"{text[0]}***{text[-1]}"
