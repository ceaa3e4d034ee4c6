import re

import pytest
from django.core.management import call_command

from staff.models import DataScope, Department, Role, User

pytestmark = pytest.mark.django_db


def test_seed_demo_loads_a_three_level_tree_and_staff_in_every_scope_once(capsys):
    call_command("seed_demo")
    first = capsys.readouterr().out
    assert "Admin login:" in first and "Demo staff login:" in first

    assert max(Department.objects.values_list("depth", flat=True)) >= 2
    assert set(Role.objects.values_list("data_scope", flat=True)) == set(DataScope.values)
    assert User.objects.filter(is_superuser=False).count() >= 18
    for scope in DataScope.values:
        assert User.objects.filter(roles__data_scope=scope).exists(), scope

    admin = User.objects.get(username="admin")
    rep = User.objects.get(username="zhoujie")
    staff_password = re.search(r"Demo staff login: zhoujie \(or mobile 13800000009\) / (\S+)", first).group(1)
    admin_password = re.search(r"Admin login: +admin / (\S+)", first).group(1)
    assert rep.check_password(staff_password) and not rep.check_password(admin_password)
    assert admin.check_password(admin_password) and not admin.check_password(staff_password)

    call_command("seed_demo")
    assert "nothing to do" in capsys.readouterr().out
    assert User.objects.filter(username="zhoujie").count() == 1


def test_seed_demo_loads_customers_with_contacts_owned_by_sales_reps():
    from customers.models import Contact, Customer

    call_command("seed_demo")
    assert Customer.objects.count() == 20
    assert Contact.objects.filter(is_primary=True).count() == 20
    # Every third one was released into a public pool by its owner (pool.demo).
    assert Customer.objects.filter(owner__isnull=True).count() == 7
    rep = User.objects.get(username="zhoujie")
    assert rep.has_perm("customers.add_customer") and not rep.has_perm("customers.transfer_customer")
    assert User.objects.get(username="liuyang").has_perm("customers.view_full_contact")
    assert Customer.objects.filter(search_text__contains="华为").exists()
