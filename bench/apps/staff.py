"""200 staff in a 4-level department tree (总公司 → 4 regions → 12 branches → 24 teams), with roles of
every data scope, and one user per scope the scenarios run as (``BENCH_USERS``)."""

import random

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission

from bench.registry import generator
from bench.words import person_name

# The user each scenario runs as, by data scope.
BENCH_USERS = {
    "all": "bench_all",  # 总经理: the whole company
    "department_tree": "bench_tree",  # a region's head: 3 branches, 6 teams
    "department": "bench_dept",  # a team's manager with "本部门"
    "self_and_subordinates": "bench_subs",  # a team's leader with "本人及下属"
    "self": "bench_self",  # a sales rep
}
REGIONS = ["华东大区", "华北大区", "华南大区", "西部大区"]
BRANCHES = {
    "华东大区": ["上海分公司", "杭州分公司", "南京分公司"],
    "华北大区": ["北京分公司", "天津分公司", "济南分公司"],
    "华南大区": ["广州分公司", "深圳分公司", "厦门分公司"],
    "西部大区": ["成都分公司", "重庆分公司", "西安分公司"],
}
STAFF = 200
# Apps whose permissions sales roles hold (everything but Django's own administration).
NOT_SALES = {"admin", "auth", "contenttypes", "sessions", "axes", "guardian", "token_blacklist", "staff", "audit"}


@generator("staff", version=1)
def staff(load):
    from staff.models import DataScope, Department, Role, User

    rng = random.Random("staff")
    permissions = list(Permission.objects.exclude(content_type__app_label__in=NOT_SALES))
    roles = {}
    for scope, name in [
        (DataScope.ALL, "总经理"),
        (DataScope.DEPARTMENT_TREE, "区域总监"),
        (DataScope.DEPARTMENT, "部门经理"),
        (DataScope.SELF_AND_SUBORDINATES, "销售主管"),
        (DataScope.SELF, "销售"),
    ]:
        roles[scope] = Role.objects.create(name=name, data_scope=scope)
        roles[scope].permissions.set(permissions)

    root = Department.objects.create(name="总公司")
    tree = []  # (region, [(branch, [team, team])])
    for order, region_name in enumerate(REGIONS):
        region = Department.objects.create(name=region_name, parent=root, order=order)
        branches = []
        for branch_order, branch_name in enumerate(BRANCHES[region_name]):
            branch = Department.objects.create(name=branch_name, parent=region, order=branch_order)
            teams = [
                Department.objects.create(name=f"销售{label}组", parent=branch, order=order)
                for order, label in enumerate("一二")
            ]
            branches.append((branch, teams))
        tree.append((region, branches))

    password = make_password("bench-password")  # one hash for all: argon2 × 200 would take a while
    users, user_roles = [], []
    used = set()

    def add(username, department, role, manager=None):
        name = person_name(rng)
        while name in used:
            name = person_name(rng)
        used.add(name)
        user = User(
            username=username,
            display_name=name,
            mobile=f"1390000{len(users):04d}",
            email=f"{username}@bench.example.com",
            department=department,
            manager=manager,
            password=password,
        )
        users.append(user)
        user_roles.append((user, roles[role]))
        return user

    # Saved level by level: each level's managers need their ids.
    ceo = add("bench_all", root, DataScope.ALL)
    User.objects.bulk_create(users)
    heads, managers = [], []
    for index, (region, branches) in enumerate(tree):
        head = add("bench_tree" if index == 0 else f"region{index}", region, DataScope.DEPARTMENT_TREE, ceo)
        heads.append((head, branches))
    User.objects.bulk_create(users[1:])
    start = len(users)
    for head, branches in heads:
        for branch, teams in branches:
            manager = add(f"branch{len(managers)}", branch, DataScope.DEPARTMENT_TREE, head)
            managers.append((manager, teams))
    User.objects.bulk_create(users[start:])
    start = len(users)
    team_leads = []
    for manager, teams in managers:
        for team in teams:
            # Half the teams' managers see their department, half their reports (the first team of
            # all is the department-scoped bench user's, the second the subordinates-scoped one's).
            scope = DataScope.DEPARTMENT if len(team_leads) % 2 == 0 else DataScope.SELF_AND_SUBORDINATES
            username = {0: "bench_dept", 1: "bench_subs"}.get(len(team_leads), f"lead{len(team_leads)}")
            team_leads.append((add(username, team, scope, manager), team))
    User.objects.bulk_create(users[start:])
    start = len(users)
    rep = 0
    while len(users) < STAFF:
        leader, team = team_leads[rep % len(team_leads)]
        add("bench_self" if rep == 0 else f"rep{rep}", team, DataScope.SELF, leader)
        rep += 1
    User.objects.bulk_create(users[start:])
    User.roles.through.objects.bulk_create(
        [User.roles.through(user_id=user.pk, role_id=role.pk) for user, role in user_roles]
    )
    load.log(f"  staff: {len(users)} users, {Department.objects.count()} departments, {len(roles)} roles")
    load.rows["staff_user"] = len(users)
    load.rows["staff_department"] = Department.objects.count()
