"""The customer's owner, department and creation time on each profile, copied by the database (see
``customers.models.CarriedFromCustomer``):

- before every insert (the bulk recompute's INSERT … ON CONFLICT too), and every update that writes
  the customer or the copies: the customer's, whatever the statement wrote;
- after a customer's owner, department (transfer, pool claim and return, 离职交接, a department
  move) or creation time changes: its profile's copies, in the same statement.

Backfilled set-based before the triggers and indexes are created. Reversible: the triggers go,
then the columns.

Why (bench/, 500,000 customers, 497,527 profiles): a department manager's 客户价值 and 流失预警
reports (20,706 visible profiles) hash-joined all 497,527 profiles to the customers for the scope
(~290 ms per statement; the reports 840-1,000 and 1,250-1,800 ms in-process), and 流失预警's
"customers by then" looked each profile's customer up for its creation time (a nested loop of
20,000 index probes, ~250 ms). From these columns the scope is a bitmap of the department's and
the owner's profiles and the creation time is on the row: ~165 and ~270 ms per report."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


TABLE = "analytics_customerprofile"

# Every insert, and every update that writes the customer or the copies (an ORM save writes every
# column): the customer's owner, department and creation time, whatever the statement wrote.
COPY_SQL = f"""
CREATE FUNCTION {TABLE}_scope() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT owner_id, department_id, created_at INTO NEW.owner_id, NEW.department_id, NEW.customer_created_at
      FROM customers_customer WHERE id = NEW.customer_id;
    RETURN NEW;
END;
$$;
CREATE TRIGGER {TABLE}_scope BEFORE INSERT OR UPDATE OF customer_id, owner_id, department_id, customer_created_at ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {TABLE}_scope();
"""

# A customer's owner, department (transfer, pool claim and return, 离职交接, a department move) or
# creation time (a data fix) changed: its profile's copies, in the same statement.
PUSH_SQL = f"""
CREATE FUNCTION customers_customer_scope_to_{TABLE}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {TABLE} SET owner_id = NEW.owner_id, department_id = NEW.department_id, customer_created_at = NEW.created_at
     WHERE customer_id = NEW.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER customers_customer_scope_to_{TABLE} AFTER UPDATE OF owner_id, department_id, created_at
    ON customers_customer FOR EACH ROW
    WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.department_id IS DISTINCT FROM NEW.department_id
          OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION customers_customer_scope_to_{TABLE}();
"""

DROP_SQL = f"""
DROP TRIGGER IF EXISTS customers_customer_scope_to_{TABLE} ON customers_customer;
DROP FUNCTION IF EXISTS customers_customer_scope_to_{TABLE}();
DROP TRIGGER IF EXISTS {TABLE}_scope ON {TABLE};
DROP FUNCTION IF EXISTS {TABLE}_scope();
"""

BACKFILL_SQL = f"""
UPDATE {TABLE} r SET owner_id = c.owner_id, department_id = c.department_id, customer_created_at = c.created_at
  FROM customers_customer c WHERE c.id = r.customer_id;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0002_summary_subscriptions'),
        ('customers', '0007_customer_deleted_include_id'),
        ('staff', '0002_fieldpermission'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='customerprofile',
            name='department',
            field=models.ForeignKey(db_constraint=False, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='staff.department', verbose_name='客户所属部门'),
        ),
        migrations.AddField(
            model_name='customerprofile',
            name='owner',
            field=models.ForeignKey(db_constraint=False, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='客户负责人'),
        ),
        migrations.AddField(
            model_name='customerprofile',
            name='customer_created_at',
            field=models.DateTimeField(editable=False, null=True, verbose_name='客户创建时间'),
        ),
        migrations.RunSQL(BACKFILL_SQL, migrations.RunSQL.noop),
        migrations.RunSQL(COPY_SQL + PUSH_SQL, DROP_SQL),
        migrations.AddIndex(
            model_name='customerprofile',
            index=models.Index(fields=['department'], name='profile_department'),
        ),
        migrations.AddIndex(
            model_name='customerprofile',
            index=models.Index(fields=['owner'], name='profile_owner'),
        ),
    ]
