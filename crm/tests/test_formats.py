"""SPEC §12: money with thousands separators and dates YYYY-MM-DD, in both languages."""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_money_is_grouped_by_thousands_and_dates_are_iso(language):
    template = Template('{{ amount|floatformat:"2g" }} {{ day|date }} {{ moment|date:"DATETIME_FORMAT" }}')
    with translation.override(language):
        text = template.render(
            Context(
                {
                    "amount": Decimal("1234567.5"),
                    "day": datetime.date(2026, 3, 5),
                    "moment": datetime.datetime(2026, 3, 5, 9, 30, tzinfo=SHANGHAI),
                }
            )
        )
    assert text == "1,234,567.50 2026-03-05 2026-03-05 09:30"


def test_form_inputs_stay_ungrouped():
    from django.utils.formats import localize_input

    with translation.override("zh-hans"):
        assert localize_input(Decimal("8800.80")) == "8800.80"
