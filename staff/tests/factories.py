import factory
from django.contrib.auth.hashers import make_password

from staff.models import DataScope, Department, Role, User

DEFAULT_PASSWORD = "Crm-test-pass-2026"
_HASHED = {}


def hashed_default_password():
    """Argon2 is deliberately slow; hash the shared test password once per run."""
    if "value" not in _HASHED:
        _HASHED["value"] = make_password(DEFAULT_PASSWORD)
    return _HASHED["value"]


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    name = factory.Sequence(lambda n: f"部门{n}")


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role
        django_get_or_create = ["name"]
        skip_postgeneration_save = True

    name = factory.LazyAttribute(lambda o: f"role-{o.data_scope}")
    data_scope = DataScope.SELF

    @factory.post_generation
    def permissions(self, create, extracted, **kwargs):
        if create and extracted:
            self.permissions.set(extracted)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Faker("name", locale="zh_CN")
    password = factory.LazyFunction(hashed_default_password)
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.roles.set(extracted)
