"""Staff, departments and roles are managed in Django admin."""

import pytest

from staff.models import DataScope, Department, Role, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, org):
    client.force_login(org.admin)
    return client


@pytest.mark.parametrize("url", ["/admin/", "/admin/staff/user/", "/admin/staff/department/", "/admin/staff/role/"])
def test_admin_pages_open(admin_client, url):
    assert admin_client.get(url).status_code == 200


def test_admin_adds_a_department_under_another(admin_client, org):
    response = admin_client.post(
        "/admin/staff/department/add/", {"name": "华中组", "parent": org.departments["s1"].pk, "order": 0}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    department = Department.objects.get(name="华中组")
    assert department.path == f"{org.departments['s1'].path}{department.pk}/"


NO_INLINES = {"field_permissions-TOTAL_FORMS": "0", "field_permissions-INITIAL_FORMS": "0"}


def test_admin_adds_a_role_with_a_scope(admin_client):
    response = admin_client.post(
        "/admin/staff/role/add/", {"name": "区域经理", "data_scope": "department_tree", **NO_INLINES}
    )
    assert response.status_code == 302
    assert Role.objects.get(name="区域经理").data_scope == DataScope.DEPARTMENT_TREE


def test_admin_sets_field_permissions_on_a_role_and_the_change_is_audited(admin_client, org):
    from audit.models import AuditAction, AuditEvent

    response = admin_client.post(
        "/admin/staff/role/add/",
        {
            "name": "实习生",
            "data_scope": "self",
            "field_permissions-TOTAL_FORMS": "1",
            "field_permissions-INITIAL_FORMS": "0",
            "field_permissions-0-target": "customer",
            "field_permissions-0-field": "mobile",
            "field_permissions-0-access": "hidden",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    role = Role.objects.get(name="实习生")
    assert list(role.field_permissions.values_list("field", "access")) == [("mobile", "hidden")]
    event = AuditEvent.objects.get(action=AuditAction.PERMISSION_CHANGE, target_id=str(role.pk))
    assert event.actor == org.admin
    assert event.data["field_permissions"] == ["customer.mobile:hidden"]


def test_admin_adds_a_user_with_a_normalised_mobile(admin_client, org):
    response = admin_client.post(
        "/admin/staff/user/add/",
        {
            "username": "newrep",
            "display_name": "新人",
            "mobile": "138 1234 5678",
            "password1": "A-strong-pass-2026",
            "password2": "A-strong-pass-2026",
            "usable_password": "true",
            "department": org.departments["east"].pk,
            "manager": org.east_lead.pk,
            "roles": [org.roles["self"].pk],
        },
    )
    assert response.status_code == 302, [(k, v) for k, v in response.context["adminform"].form.errors.items()]
    user = User.objects.get(username="newrep")
    assert (user.mobile, user.department, user.manager) == ("13812345678", org.departments["east"], org.east_lead)
    assert list(user.roles.all()) == [org.roles["self"]]


def test_admin_refuses_a_bad_mobile(admin_client):
    response = admin_client.post(
        "/admin/staff/user/add/",
        {"username": "bad", "mobile": "12345", "password1": "A-strong-pass-2026", "password2": "A-strong-pass-2026"},
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="bad").exists()
