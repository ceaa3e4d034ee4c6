"""Demo organisation, loaded once: a 3-level department tree, about 20 staff covering all five
data scopes, and an admin. Two generated passwords (the admin's, and one shared by the demo staff)
are printed this one time and stored nowhere. A database that already has departments is left
alone, so a second run — or a real company's database — is never touched."""

import secrets

from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from activities.demo import load_demo as load_demo_activities
from approvals.demo import load_demo as load_demo_approvals
from contracts.demo import load_demo as load_demo_contracts
from customers.demo import load_demo as load_demo_customers
from opportunities.demo import load_demo as load_demo_opportunities
from pool.demo import load_demo as load_demo_pool
from staff import services
from staff.models import DataScope, Department, User

ADMIN_USERNAME = "admin"

ROLES = [
    ("总经理", DataScope.ALL, "全公司数据"),
    ("事业部总监", DataScope.DEPARTMENT_TREE, "本部门及下属部门"),
    ("部门经理", DataScope.DEPARTMENT, "本部门"),
    ("销售主管", DataScope.SELF_AND_SUBORDINATES, "本人及下属"),
    ("销售代表", DataScope.SELF, "本人"),
]

# The tree 总公司 → 销售一部 → 华东组 …, parents first; leaders are set from STAFF.
DEPARTMENTS = [
    "总公司",
    "总公司/销售一部",
    "总公司/销售一部/华东组",
    "总公司/销售一部/华南组",
    "总公司/销售二部",
    "总公司/销售二部/华北组",
    "总公司/销售二部/西南组",
]

# username, name, mobile, department, manager, role, leads department
STAFF = [
    ("zhangwei", "张伟", "13800000001", "总公司", None, "总经理", True),
    ("wangfang", "王芳", "13800000002", "总公司/销售一部", "zhangwei", "事业部总监", True),
    ("lina", "李娜", "13800000003", "总公司/销售二部", "zhangwei", "事业部总监", True),
    ("liuyang", "刘洋", "13800000004", "总公司/销售一部/华东组", "wangfang", "部门经理", True),
    ("chenjing", "陈静", "13800000005", "总公司/销售一部/华南组", "wangfang", "销售主管", True),
    ("yangmin", "杨敏", "13800000006", "总公司/销售二部/华北组", "lina", "销售主管", True),
    ("zhaolei", "赵磊", "13800000007", "总公司/销售二部/西南组", "lina", "部门经理", True),
    ("huangqiang", "黄强", "13800000008", "总公司/销售一部/华东组", "liuyang", "销售主管", False),
    ("zhoujie", "周杰", "13800000009", "总公司/销售一部/华东组", "huangqiang", "销售代表", False),
    ("wuxia", "吴霞", "13800000010", "总公司/销售一部/华东组", "huangqiang", "销售代表", False),
    ("xuming", "徐明", "13800000011", "总公司/销售一部/华东组", "liuyang", "销售代表", False),
    ("sunli", "孙丽", "13800000012", "总公司/销售一部/华南组", "chenjing", "销售代表", False),
    ("majun", "马军", "13800000013", "总公司/销售一部/华南组", "chenjing", "销售代表", False),
    ("zhuting", "朱婷", "13800000014", "总公司/销售二部/华北组", "yangmin", "销售代表", False),
    ("huhao", "胡浩", "13800000015", "总公司/销售二部/华北组", "yangmin", "销售代表", False),
    ("guoyan", "郭燕", "13800000016", "总公司/销售二部/西南组", "zhaolei", "销售代表", False),
    ("hejun", "何军", "13800000017", "总公司/销售二部/西南组", "zhaolei", "销售代表", False),
    ("linfeng", "林峰", "13800000018", "总公司/销售二部/西南组", "zhaolei", "销售主管", False),
    ("luoqian", "罗倩", "13800000019", "总公司/销售二部/西南组", "linfeng", "销售代表", False),
    ("gaoyu", "高宇", "13800000020", "总公司/销售一部/华南组", "chenjing", "销售代表", False),
]


class Command(BaseCommand):
    help = "Load the demo organisation once (departments, roles, ~20 staff, an admin, 20 customers, follow-ups, tasks)."

    def handle(self, *args, **options):
        if Department.objects.exists():
            self.stdout.write("An organisation is already loaded; nothing to do.")
            return
        admin_password, staff_password = secrets.token_urlsafe(12), secrets.token_urlsafe(9)
        with transaction.atomic():
            created_admin = self._load(admin_password, staff_password)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        if created_admin:
            self.stdout.write(f"Admin login:      {ADMIN_USERNAME} / {admin_password}")
        self.stdout.write(
            f"Demo staff login: zhoujie (or mobile 13800000009) / {staff_password} — every demo staff member\n"
            "These passwords are shown only now; change them with `python manage.py changepassword <username>`."
        )

    def _load(self, admin_password, password):
        view_user = Permission.objects.get(codename="view_user", content_type__app_label="staff")
        sales = list(
            Permission.objects.filter(
                content_type__app_label="customers",
                codename__in=[
                    "view_customer", "add_customer", "change_customer", "delete_customer",
                    "view_contact", "add_contact", "change_contact", "delete_contact",
                ],
            )
        ) + list(
            Permission.objects.filter(
                content_type__app_label="activities",
                codename__in=["view_followup", "add_followup", "view_task", "add_task", "change_task"],
            )
        )  # fmt: skip
        sales += list(
            Permission.objects.filter(
                content_type__app_label="opportunities",
                codename__in=["view_opportunity", "add_opportunity", "change_opportunity", "delete_opportunity"],
            )
        )
        sales += list(
            Permission.objects.filter(
                content_type__app_label="contracts",
                codename__in=[
                    "view_product", "view_contract", "add_contract", "change_contract", "delete_contract",
                    "view_paymentplan", "change_paymentplan", "view_payment", "add_payment",
                    "view_invoicetitle", "add_invoicetitle", "change_invoicetitle",
                    "view_invoice", "add_invoice",
                ],
            )
        )  # fmt: skip
        managing = list(
            Permission.objects.filter(
                content_type__app_label="customers", codename__in=["transfer_customer", "view_full_contact"]
            )
        ) + list(Permission.objects.filter(content_type__app_label="contracts", codename="confirm_payment"))
        roles = {}
        for name, scope, description in ROLES:
            permissions = sales + ([view_user, *managing] if scope != DataScope.SELF else [])
            roles[name] = services.role_create(
                name=name, data_scope=scope, description=description, permissions=permissions
            )

        departments = {}
        for path in DEPARTMENTS:
            parent_path, _, name = path.rpartition("/")
            departments[path] = services.department_create(name=name, parent=departments.get(parent_path))

        root = departments["总公司"]
        created_admin = not User.objects.filter(username=ADMIN_USERNAME).exists()
        if created_admin:
            services.user_create(
                username=ADMIN_USERNAME,
                password=admin_password,
                display_name="系统管理员",
                department=root,
                is_staff=True,
                is_superuser=True,
                validate=False,
            )
        users = {}
        for username, name, mobile, department, manager, role, leads in STAFF:
            user = services.user_create(
                username=username,
                password=password,
                display_name=name,
                mobile=mobile,
                email=f"{username}@demo.crm.local",
                department=departments[department],
                manager=users.get(manager),
                roles=[roles[role]],
                validate=False,
            )
            users[username] = user
            if leads:
                departments[department].leader = user
                departments[department].save(update_fields=["leader", "updated_at"])
        reps = [user for user in users.values() if user.roles.filter(data_scope=DataScope.SELF).exists()]
        load_demo_customers(reps)
        load_demo_activities(reps)
        load_demo_opportunities()
        load_demo_contracts()
        load_demo_pool()
        load_demo_approvals()  # the 总经理 role approves as general manager
        return created_admin
