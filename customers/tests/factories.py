import factory

from customers import services
from customers.duplicates import normalize_company_name
from customers.models import Contact, Customer, CustomerLevel, CustomField, Industry, Source, Tag


class CustomerLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerLevel
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"L{n}")
    name = factory.Sequence(lambda n: f"等级{n}")
    priority = 5


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"标签{n}")


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"来源{n}")


class IndustryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Industry
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"行业{n}")


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomField

    target = "customer"
    key = factory.Sequence(lambda n: f"field{n}")
    label = factory.Sequence(lambda n: f"字段{n}")
    type = "text"


class CustomerFactory(factory.django.DjangoModelFactory):
    """A customer written straight to the table (owner/department as given) — for tests that
    need many rows fast. Tests of the write rules go through ``make_customer`` (the service)."""

    class Meta:
        model = Customer
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"测试客户{n}有限公司")
    name_key = factory.LazyAttribute(lambda o: normalize_company_name(o.name))
    owner = None
    department = factory.LazyAttribute(lambda o: o.owner.department if o.owner else None)

    @factory.post_generation
    def refresh_search(self, create, extracted, **kwargs):
        if create:
            services.customer_search_refresh(customer_ids=[self.pk])


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"联系人{n}")


def make_customer(user, *, check=True, **data):
    """A customer through the service (``check=False``: no duplicate check, for tests that want
    duplicates)."""
    data.setdefault("name", "样例客户有限公司")
    return services.customer_create(user=user, data=data, check_duplicates=check)
