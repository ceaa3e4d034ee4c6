"""今日需联系 per scope arm. The workbench's "follow-ups due" count for a department manager took
37-63 ms at 500,000 customers (PostgreSQL AND-ed the department's 20,811 customers with the
78,163 due company-wide); from these it is 17 ms (bench/, crm_bench)."""

from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built concurrently: customers stay writable while the index is built.
    atomic = False

    dependencies = [
        ('customers', '0007_customer_deleted_include_id'),
        ('staff', '0002_fieldpermission'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='customer',
            index=models.Index(condition=models.Q(('deleted_at__isnull', True), ('owner__isnull', False)), fields=['department', 'next_follow_up_at'], include=('owner',), name='customer_dept_next_follow_up'),
        ),
        AddIndexConcurrently(
            model_name='customer',
            index=models.Index(condition=models.Q(('deleted_at__isnull', True), ('owner__isnull', False)), fields=['owner', 'next_follow_up_at'], name='customer_owner_next_follow_up'),
        ),
    ]
