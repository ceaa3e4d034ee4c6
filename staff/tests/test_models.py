import pytest
from django.core.exceptions import ValidationError

from staff.models import Department
from staff.selectors import department_tree, subordinate_ids
from staff.tests.factories import DepartmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_department_path_is_materialised_from_the_root():
    root = DepartmentFactory(name="总公司")
    s1 = DepartmentFactory(name="销售一部", parent=root)
    east = DepartmentFactory(name="华东组", parent=s1)
    assert (root.path, s1.path, east.path) == (f"/{root.pk}/", f"/{root.pk}/{s1.pk}/", f"/{root.pk}/{s1.pk}/{east.pk}/")
    assert (root.depth, s1.depth, east.depth) == (0, 1, 2)


def test_subtree_is_one_query(django_assert_num_queries):
    root = DepartmentFactory(name="总公司")
    s1 = DepartmentFactory(name="销售一部", parent=root)
    east = DepartmentFactory(name="华东组", parent=s1)
    DepartmentFactory(name="销售二部", parent=root)
    with django_assert_num_queries(1):
        names = set(Department.objects.subtree_of(s1).values_list("name", flat=True))
    assert names == {"销售一部", "华东组"}
    assert east.path.startswith(s1.path)


def test_moving_a_department_re_roots_its_whole_subtree():
    root = DepartmentFactory(name="总公司")
    s1 = DepartmentFactory(name="销售一部", parent=root)
    s2 = DepartmentFactory(name="销售二部", parent=root)
    east = DepartmentFactory(name="华东组", parent=s1)
    team = DepartmentFactory(name="一队", parent=east)

    east.parent = s2
    east.save()

    team.refresh_from_db()
    assert team.path == f"/{root.pk}/{s2.pk}/{east.pk}/{team.pk}/"
    assert team.depth == 3
    assert set(Department.objects.subtree_of(s1).values_list("name", flat=True)) == {"销售一部"}

    s2.parent = None
    s2.save()
    team.refresh_from_db()
    assert (team.path, team.depth) == (f"/{s2.pk}/{east.pk}/{team.pk}/", 2)


def test_a_department_cannot_move_below_itself():
    root = DepartmentFactory(name="总公司")
    s1 = DepartmentFactory(name="销售一部", parent=root)
    east = DepartmentFactory(name="华东组", parent=s1)
    s1.parent = east
    with pytest.raises(ValidationError):
        s1.full_clean()


def test_department_tree_nests_children_from_one_query(django_assert_num_queries):
    root = DepartmentFactory(name="总公司")
    s1 = DepartmentFactory(name="销售一部", parent=root)
    DepartmentFactory(name="华东组", parent=s1)
    with django_assert_num_queries(1):
        tree = department_tree()
    assert [node["department"].name for node in tree] == ["总公司"]
    assert tree[0]["children"][0]["children"][0]["department"].name == "华东组"


def test_subordinates_follow_the_manager_chain_transitively():
    boss = UserFactory(username="boss")
    lead = UserFactory(username="lead", manager=boss)
    rep = UserFactory(username="rep", manager=lead)
    intern = UserFactory(username="intern", manager=rep)
    UserFactory(username="other")
    assert subordinate_ids(boss) == {lead.pk, rep.pk, intern.pk}
    assert subordinate_ids(rep) == {intern.pk}
    assert subordinate_ids(intern) == set()


def test_a_manager_cycle_is_refused_and_cannot_hang_the_query():
    boss = UserFactory(username="boss")
    lead = UserFactory(username="lead", manager=boss)
    boss.manager = lead
    with pytest.raises(ValidationError):
        boss.full_clean()
    boss.save()  # bad data written around validation still terminates
    assert subordinate_ids(boss) == {lead.pk, boss.pk}


def test_mobile_is_validated_and_normalised():
    from staff.services import user_create

    user = user_create(username="wang", password="A-long-pass-2026", mobile="+86 138-0013-8000")
    assert user.mobile == "13800138000"
    with pytest.raises(ValidationError) as error:
        user_create(username="li", password="A-long-pass-2026", mobile="12345")
    assert "mobile" in error.value.message_dict
