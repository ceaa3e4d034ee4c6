"""Reads of staff, departments and roles."""

from django.db import connection
from django.db.models import prefetch_related_objects

from staff.models import Department, User
from staff.scope import SUBORDINATES_SQL


def subordinate_ids(user):
    """Ids of everyone below ``user`` in the manager chain (transitively), one recursive query."""
    with connection.cursor() as cursor:
        cursor.execute(SUBORDINATES_SQL, [user.pk])
        return {row[0] for row in cursor.fetchall()}


def username_for_mobile(mobile):
    return User.objects.filter(mobile=mobile).values_list("username", flat=True).first()


def user_list():
    """The staff directory: every colleague, for pickers and the organisation chart."""
    return User.objects.select_related("department", "manager").order_by("id")


def user_profile(*, user):
    """The signed-in user with what /me shows: department (the authentication joins it) and roles
    (one query, shared with the data scope's reading of them) — not the user read again."""
    prefetch_related_objects([user], "roles")
    return user


def department_list():
    return Department.objects.select_related("leader").order_by("path")


def department_tree():
    """All departments as nested dicts, built from one query ordered by path."""
    nodes = {}
    roots = []
    for department in department_list():
        node = {"department": department, "children": []}
        nodes[department.pk] = node
        parent = nodes.get(department.parent_id)
        (parent["children"] if parent else roots).append(node)
    return roots


def user_permission_codes(user):
    return sorted(user.get_all_permissions())
