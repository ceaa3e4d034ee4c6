"""Simplified Chinese formats: Django's, with money grouped by thousands (SPEC §12: "money in CNY
with thousands separators" — Django's zh_Hans has no separator). Only grouping filters use it
(``floatformat:"2g"``, ``intcomma``); form inputs stay ungrouped (USE_THOUSAND_SEPARATOR is off)."""

from django.conf.locale.zh_Hans.formats import *  # noqa: F403

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
# SPEC §12: dates YYYY-MM-DD wherever a template or the admin shows one without its own format.
DATE_FORMAT = SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = SHORT_DATETIME_FORMAT = "Y-m-d H:i"
