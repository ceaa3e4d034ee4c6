"""Property test of data scope: random organisations (department trees, manager chains with
cycles, several roles per user, inactive users, superusers, records filed anywhere) checked against
a plain-Python reading of the rules. Every user of every example must see exactly what the
reference says, through ``visible_to``."""

from dataclasses import dataclass

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.tests.scopeapp.models import Note
from staff.models import DataScope, Department, Role, User
from staff.tests.factories import hashed_default_password

SCOPES = list(DataScope.values)


@dataclass
class OrgSpec:
    parents: list  # parents[i]: index of department i's parent (< i) or None
    users: list  # (department index | None, manager index | None, scopes, active, superuser)
    records: list  # (owner index | None, department index | None)


@st.composite
def org_specs(draw):
    n_departments = draw(st.integers(1, 7))
    # sampled_from keeps "none" to one choice among many, so most rows land somewhere interesting.
    parents = [None] + [draw(st.sampled_from([None, *range(i)])) for i in range(1, n_departments)]
    n_users = draw(st.integers(1, 9))
    department = st.sampled_from([None, *range(n_departments)])
    users = [
        (
            draw(department),
            draw(st.sampled_from([None, *range(n_users)])),  # any colleague: chains, and cycles too
            draw(st.sets(st.sampled_from(SCOPES), max_size=3)),
            draw(st.sampled_from([True, True, True, False])),
            draw(st.integers(0, 9)) == 0,
        )
        for _ in range(n_users)
    ]
    owner = st.sampled_from([None, *range(n_users)])
    records = draw(st.lists(st.tuples(owner, department), min_size=1, max_size=25))
    return OrgSpec(parents, users, records)


def expected_visible(spec, viewer):
    """The rules of SPEC.md §1 read literally, without SQL."""
    department, _manager, scopes, active, superuser = spec.users[viewer]
    if not active:
        return set()
    if superuser or DataScope.ALL in scopes:
        return set(range(len(spec.records)))
    scopes = scopes or {DataScope.SELF}

    def ancestors(index):
        chain = []
        while index is not None:
            chain.append(index)
            index = spec.parents[index]
        return chain

    subordinates, frontier = set(), {viewer}
    while frontier:
        frontier = {u for u, row in enumerate(spec.users) if row[1] in frontier} - subordinates
        subordinates |= frontier

    visible = set()
    for index, (owner, record_department) in enumerate(spec.records):
        if owner == viewer:
            visible.add(index)
        elif DataScope.SELF_AND_SUBORDINATES in scopes and owner in subordinates:
            visible.add(index)
        elif department is not None and record_department is not None:
            if DataScope.DEPARTMENT_TREE in scopes and department in ancestors(record_department):
                visible.add(index)
            elif DataScope.DEPARTMENT in scopes and record_department == department:
                visible.add(index)
    return visible


def build(spec):
    departments = []
    for i, parent in enumerate(spec.parents):
        departments.append(
            Department.objects.create(name=f"d{i}", parent=departments[parent] if parent is not None else None)
        )
    roles = {scope: Role.objects.create(name=f"r-{scope}", data_scope=scope) for scope in SCOPES}
    users = User.objects.bulk_create(
        User(
            username=f"u{i}",
            password=hashed_default_password(),
            department=departments[row[0]] if row[0] is not None else None,
            is_active=row[3],
            is_superuser=row[4],
        )
        for i, row in enumerate(spec.users)
    )
    for user, row in zip(users, spec.users, strict=True):
        user.manager = users[row[1]] if row[1] is not None else None
        user.roles.set([roles[scope] for scope in row[2]])
    User.objects.bulk_update(users, ["manager"])
    notes = Note.objects.bulk_create(
        Note(
            title=str(i),
            owner=users[owner] if owner is not None else None,
            department=departments[department] if department is not None else None,
        )
        for i, (owner, department) in enumerate(spec.records)
    )
    return users, notes


@pytest.mark.django_db
@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(spec=org_specs())
def test_visible_to_matches_the_rules_for_random_organisations(spec):
    with transaction.atomic():
        users, notes = build(spec)
        index_of = {note.pk: i for i, note in enumerate(notes)}
        for viewer, user in enumerate(users):
            fresh = User.objects.select_related("department").get(pk=user.pk)
            visible = {index_of[pk] for pk in Note.objects.visible_to(fresh).values_list("pk", flat=True)}
            assert visible == expected_visible(spec, viewer), (viewer, spec)
        transaction.set_rollback(True)
