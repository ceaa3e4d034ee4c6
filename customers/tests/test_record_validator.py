"""RecordValidator: the form's rules for many rows, built once per run."""

import gc
import weakref

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.errors import DomainError
from customers.models import CustomerLevel
from customers.services import RecordValidator
from customers.tests.factories import IndustryFactory, SourceFactory, TagFactory

pytestmark = pytest.mark.django_db


def rows(count, level, source, industry, tag):
    return [
        {
            "name": f"客户{i}有限公司",
            "mobile": f"1380013{i:04d}",
            "level": level.pk,
            "source": source.pk,
            "industry": industry.pk,
            "tags": [tag.pk],
            "province": "310000",
        }
        for i in range(count)
    ]


def test_validating_more_rows_asks_the_database_nothing_more(org, django_assert_max_num_queries):
    level, source, industry, tag = CustomerLevel.objects.first(), SourceFactory(), IndustryFactory(), TagFactory()
    validator = RecordValidator(user=org.east_rep, target="customer")

    with CaptureQueriesContext(connection) as few:
        for data in rows(3, level, source, industry, tag):
            validator.validate(data)
    with django_assert_max_num_queries(0):
        for data in rows(30, level, source, industry, tag):
            validator.validate(data)
    assert len(few) > 0  # the lookups were loaded once, by the first rows


def test_each_row_is_judged_on_its_own(org):
    validator = RecordValidator(user=org.east_rep, target="customer")

    with pytest.raises(DomainError) as bad_mobile:
        validator.validate({"name": "甲有限公司", "mobile": "123"})
    level = CustomerLevel.objects.first()
    good = validator.validate({"name": "乙有限公司", "mobile": "13800138000", "level": level.pk})
    with pytest.raises(DomainError) as bad_level:
        validator.validate({"name": "丙有限公司", "level": 999999})

    assert set(bad_mobile.value.fields) == {"mobile"}
    assert good.cleaned_data["mobile"] == "13800138000" and good.instance.name == "乙有限公司"
    assert set(bad_level.value.fields) == {"level"}
    assert good.instance.pk is None and good.instance is not validator.prototype.instance


def test_a_row_naming_a_level_removed_since_the_run_began_is_refused(org):
    level = CustomerLevel.objects.create(code="Z", name="临时")
    validator = RecordValidator(user=org.east_rep, target="customer")
    validator.validate({"name": "甲有限公司", "level": level.pk})
    before = validator.fingerprint()

    level.delete()

    assert validator.fingerprint() != before
    assert RecordValidator(user=org.east_rep, target="customer").fingerprint() == validator.fingerprint()


# --- the bulk form (bound copies of one prototype) against a form built for each row -----------------------------

PHONES = ["", "13800138000", "+86 138 0013 8000", "123", "010-12345678", "0755-86013388转8", "17912345678"]


@pytest.fixture
def shaped(org):
    """A validator for a user with a hidden and a read-only field, custom fields (one required),
    and the lookups a row may name."""
    from customers.tests.factories import CustomFieldFactory
    from staff.models import FieldPermission

    CustomFieldFactory(key="budget", label="预算", type="number", required=True)
    CustomFieldFactory(key="grade", label="评级", type="choice", choices=["甲", "乙"])
    FieldPermission.objects.create(role=org.roles["self"], target="customer", field="remark", access="hidden")
    FieldPermission.objects.create(role=org.roles["self"], target="customer", field="website", access="readonly")
    lookups = {
        "level": CustomerLevel.objects.first().pk,
        "source": SourceFactory().pk,
        "industry": IndustryFactory().pk,
        "tag": TagFactory().pk,
    }
    return RecordValidator(user=org.east_rep, target="customer"), lookups


CUSTOM_VALUES = {"budget": st.sampled_from(["12", "x"]), "grade": st.sampled_from(["甲", "丙"])}


@st.composite
def record_rows(draw, lookups):
    row = {
        "name": draw(st.sampled_from(["", "甲有限公司", " 乙 ", "名" * 201])),
        "kind": draw(st.sampled_from(["company", "person", "other"])),
        "credit_code": draw(st.sampled_from(["", "91350100M000100Y43", "91350100M000100Y44"])),
        "mobile": draw(st.sampled_from(PHONES)),
        "phone": draw(st.sampled_from(PHONES)),
        "email": draw(st.sampled_from(["", "a@EXAMPLE.com", "not-an-email"])),
        "level": draw(st.sampled_from([None, lookups["level"], 999999, "x"])),
        "source": draw(st.sampled_from([None, lookups["source"], 999999])),
        "industry": draw(st.sampled_from([None, lookups["industry"]])),
        "tags": draw(st.sampled_from([[], None, "", [lookups["tag"]], [lookups["tag"], 999999], "x"])),
        "province": draw(st.sampled_from(["", "310000", "440000", "999999"])),
        "city": draw(st.sampled_from(["", "310100", "440300"])),
        "next_follow_up_at": draw(st.sampled_from(["", "2026-01-05T10:00", "tomorrow"])),
        "custom_fields": draw(st.fixed_dictionaries({}, optional=CUSTOM_VALUES)),
    }
    return {key: value for key, value in row.items() if draw(st.booleans())}


def _outcome(validator, form, *, bulk):
    """Everything a validated form tells: errors, cleaned values, the instance, the row the
    importer keeps; ``bulk`` forms also their exclusions and bound fields (attributes and HTML)."""
    from customers.services import _BulkFormMixin

    cleaned = {
        name: sorted(tag.pk for tag in value) if name == "tags" else value
        for name, value in getattr(form, "cleaned_data", {}).items()
    }
    instance = {field.attname: getattr(form.instance, field.attname) for field in form.instance._meta.concrete_fields}
    outcome = {
        "errors": form.errors.get_json_data(),
        "cleaned": cleaned,
        "instance": instance,
        "row": validator.cleaned_row(form) if form.is_valid() else None,
    }
    if not bulk:
        return outcome
    bound = {}
    for name in form.fields:
        field = form[name]
        assert field.form is form and field.field is form.fields[name]
        attributes = {key: value for key, value in field.__dict__.items() if key not in ("form", "field")}
        bound[name] = (type(field), attributes, field.auto_id, str(field))
    exclusions = form._get_validation_exclusions()
    assert exclusions == super(_BulkFormMixin, form)._get_validation_exclusions() | form.preloaded_foreign_keys
    return {**outcome, "exclusions": exclusions, "bound": bound}


def _validated(validator, data, *, prototype=False, bulk=True):
    """The outcome of ``data`` validated as RecordValidator does (``prototype``: a bound copy of
    its prototype), or with a form built for the row: of the bulk form class (lookups
    preloaded), or (not ``bulk``) the plain CustomerForm, every lookup a query."""
    from customers.forms import CustomerForm
    from customers.services import FormValidationError, _validated_form, _writable_data

    try:
        data = _writable_data(validator.user, "customer", data, None, masked_keys=validator.masked_keys(full=True))
        form = _validated_form(
            validator.form_class if bulk else CustomerForm,
            user=validator.user,
            data=data,
            defs=validator.defs,
            base=validator.base,
            preloaded=validator.preloaded if bulk else None,
            prototype=validator.prototype if prototype else None,
        )
    except FormValidationError as error:
        return "invalid", error.fields, _outcome(validator, error.form, bulk=bulk)
    except DomainError as error:
        return "refused", error.fields, None
    return "valid", None, _outcome(validator, form, bulk=bulk)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_bound_copy_of_the_prototype_validates_as_a_form_built_for_the_row(shaped, data):
    validator, lookups = shaped
    row = data.draw(record_rows(lookups))

    copied = _validated(validator, row, prototype=True)
    assert copied == _validated(validator, row)
    status, errors, outcome = copied
    plain = _validated(validator, row, bulk=False)
    assert plain == (status, errors, outcome and {key: outcome[key] for key in plain[2]})


def test_a_released_form_still_works_and_is_freed_without_the_cycle_collector(org):
    validator = RecordValidator(user=org.east_rep, target="customer")
    form = validator.validate({"name": "甲有限公司"})
    validator.release(form)
    assert form["name"].value() == "甲有限公司" and form["name"].form is form  # made again when asked
    validator.release(form)
    validator.release(None)
    gone = weakref.ref(form)
    gc.disable()
    try:
        del form
        assert gone() is None
    finally:
        gc.enable()
