"""English formats: Django's, with dates YYYY-MM-DD as in Chinese (SPEC §12)."""

from django.conf.locale.en.formats import *  # noqa: F403

DATE_FORMAT = SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = SHORT_DATETIME_FORMAT = "Y-m-d H:i"
