"""Fixtures shared by every app's tests: the organisation (3-level department tree, users in
every data scope), API clients with bearer tokens, and a clean cache per test."""

from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from staff.models import DataScope
from staff.tests.factories import DepartmentFactory, RoleFactory, UserFactory


@pytest.fixture(autouse=True)
def _clean_cache():
    """Throttle counters live in Redis (a database of the test settings' own): start each test clean."""
    cache.clear()
    yield


@dataclass
class Org:
    departments: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    roles: dict = field(default_factory=dict)

    def __getattr__(self, name):
        users = self.__dict__.get("users", {})
        if name in users:
            return users[name]
        raise AttributeError(name)


@pytest.fixture
def org(db):
    """总公司 → 销售一部 → 华东组 / 华南组; 总公司 → 销售二部 → 华北组, and a user in every scope:

    ceo            总公司    all
    s1_director    销售一部  department_tree
    east_manager   华东组    department
    east_lead      华东组    self_and_subordinates   manager: s1_director
    east_rep       华东组    self                    manager: east_lead
    east_intern    华东组    self                    manager: east_rep (a subordinate of east_lead, transitively)
    south_rep      华南组    self                    manager: s1_director
    north_rep      华北组    self + department (two roles: the union)
    north_other    华北组    self
    s2_rep         销售二部  self
    norole         华东组    no role at all (sees what they own)
    inactive       华东组    all, but deactivated (sees nothing)
    admin          —         superuser
    """
    o = Org()
    root = DepartmentFactory(name="总公司")
    s1 = DepartmentFactory(name="销售一部", parent=root)
    s2 = DepartmentFactory(name="销售二部", parent=root)
    east = DepartmentFactory(name="华东组", parent=s1)
    south = DepartmentFactory(name="华南组", parent=s1)
    north = DepartmentFactory(name="华北组", parent=s2)
    o.departments = {"root": root, "s1": s1, "s2": s2, "east": east, "south": south, "north": north}
    # Every role may do everything; only the data scope differs (permission tests narrow it).
    everything = list(Permission.objects.all())
    o.roles = {
        scope: RoleFactory(name=f"role-{scope}", data_scope=scope, permissions=everything) for scope in DataScope.values
    }
    r = o.roles

    def user(name, department, roles=(), **kwargs):
        o.users[name] = UserFactory(username=name, department=department, roles=list(roles), **kwargs)
        return o.users[name]

    user("ceo", root, [r["all"]])
    s1_director = user("s1_director", s1, [r["department_tree"]])
    user("east_manager", east, [r["department"]])
    east_lead = user("east_lead", east, [r["self_and_subordinates"]], manager=s1_director)
    east_rep = user("east_rep", east, [r["self"]], manager=east_lead)
    user("east_intern", east, [r["self"]], manager=east_rep)
    user("south_rep", south, [r["self"]], manager=s1_director)
    user("north_rep", north, [r["self"], r["department"]])
    user("north_other", north, [r["self"]])
    user("s2_rep", s2, [r["self"]])
    user("norole", east).user_permissions.set(everything)  # may act, but holds no scope of a role
    user("inactive", east, [r["all"]], is_active=False)
    user("admin", None, is_superuser=True, is_staff=True)
    return o


def bearer_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for():
    """client_for(user) → an APIClient sending that user's bearer token."""
    return bearer_client
