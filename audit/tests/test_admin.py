"""The audit log in admin: browsable and filterable, changeable by nobody."""

import pytest
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record

pytestmark = pytest.mark.django_db
LIST = "/admin/audit/auditevent/"
THIS_YEAR = timezone.localdate().year


@pytest.fixture
def admin_client(client, org):
    client.force_login(org.admin)
    return client


@pytest.fixture
def event(org):
    return audit_record(actor=org.east_rep, action=AuditAction.REVEAL, target=org.departments["east"])


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?action__exact=reveal",
        "?at__gte=2020-01-01+00%3A00%3A00%2B08%3A00",
        f"?at__year={THIS_YEAR}",
        "?q=east_rep",
    ],
)
def test_list_opens_with_filters_search_and_dates(admin_client, event, query):
    response = admin_client.get(LIST + query)
    assert response.status_code == 200
    assert "华东组" in response.content.decode()


def test_list_has_a_bounded_number_of_queries(admin_client, org, django_assert_max_num_queries):
    for user in org.users.values():
        for _ in range(2):
            audit_record(actor=user, action=AuditAction.EXPORT, target=user)
    admin_client.get(LIST)  # warm the session and content-type caches

    with django_assert_max_num_queries(12):
        assert admin_client.get(LIST).status_code == 200


def test_search_finds_failed_logins_by_the_name_tried(admin_client, org):
    audit_record(actor=None, action=AuditAction.LOGIN_FAILED, data={"login": "ghost-admin"})
    response = admin_client.get(LIST + "?q=ghost-admin")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_superuser_cannot_add_change_or_delete(admin_client, event):
    change = f"{LIST}{event.pk}/change/"
    assert admin_client.get(f"{LIST}add/").status_code == 403
    view = admin_client.get(change)
    assert view.status_code == 200  # the event opens read-only
    assert 'name="_save"' not in view.content.decode()
    assert admin_client.post(change, {"target_repr": "forged"}).status_code == 403
    assert admin_client.get(f"{LIST}{event.pk}/delete/").status_code == 403
    assert admin_client.post(f"{LIST}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.target_repr == "华东组"


def test_no_bulk_delete_action(admin_client, event):
    response = admin_client.post(LIST, {"action": "delete_selected", "_selected_action": [event.pk]})
    assert response.status_code in (200, 302)
    assert 'value="delete_selected"' not in admin_client.get(LIST).content.decode()
    assert type(event).objects.filter(pk=event.pk).exists()


def test_staff_without_the_view_permission_is_refused(client, org, event):
    org.east_rep.is_staff = True
    org.east_rep.save(update_fields=["is_staff"])
    org.east_rep.user_permissions.clear()
    for role in org.east_rep.roles.all():
        role.permissions.remove(*role.permissions.filter(content_type__app_label="audit"))
    client.force_login(org.east_rep)
    assert client.get(LIST).status_code == 403
