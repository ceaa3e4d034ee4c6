"""The customer's owner and department on each follow-up, copied by the database (see
``customers.models.CarriedFromCustomer``):

- before every insert, and every update that writes the customer or the copies: the customer's
  owner and department, whatever the statement wrote (ORM saves of stale instances, COPY, raw SQL);
- after a customer's owner or department changes (transfer, pool claim and return, 离职交接, a
  department move): its follow-ups' copies, in the same statement.

Backfilled set-based before the triggers and indexes are created. Reversible: the triggers go,
then the columns.

Why (bench/, 500,000 customers, 2,000,000 follow-ups over three years): a department manager's
跟进分析 (``period=month``: the last 12 months, 55,595 follow-ups of 20,750 visible customers)
took ~2,000 ms in-process: each of its three GROUP BYs hash-joined every follow-up of the period
to its customer for the scope (~600 ms each). From these columns each arm of the scope
(department, owner, the team members' customers) is an index range; the department's and the
owner's indexes cover what the report counts, so it reads them alone (``analytics.reports.
followups.follow_up_figures``: one statement, ~120 ms; the report ~130 ms in-process)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


TABLE = "activities_followup"

# Every insert, and every update that writes the customer or the copies (an ORM save writes every
# column): the customer's owner and department, whatever the statement wrote.
COPY_SQL = f"""
CREATE FUNCTION {TABLE}_scope() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT owner_id, department_id INTO NEW.owner_id, NEW.department_id
      FROM customers_customer WHERE id = NEW.customer_id;
    RETURN NEW;
END;
$$;
CREATE TRIGGER {TABLE}_scope BEFORE INSERT OR UPDATE OF customer_id, owner_id, department_id ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {TABLE}_scope();
"""

# A customer's owner or department changed (transfer, pool claim and return, 离职交接, a
# department move): its rows' copies, in the same statement.
PUSH_SQL = f"""
CREATE FUNCTION customers_customer_scope_to_{TABLE}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {TABLE} SET owner_id = NEW.owner_id, department_id = NEW.department_id WHERE customer_id = NEW.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER customers_customer_scope_to_{TABLE} AFTER UPDATE OF owner_id, department_id
    ON customers_customer FOR EACH ROW
    WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.department_id IS DISTINCT FROM NEW.department_id)
    EXECUTE FUNCTION customers_customer_scope_to_{TABLE}();
"""

DROP_SQL = f"""
DROP TRIGGER IF EXISTS customers_customer_scope_to_{TABLE} ON customers_customer;
DROP FUNCTION IF EXISTS customers_customer_scope_to_{TABLE}();
DROP TRIGGER IF EXISTS {TABLE}_scope ON {TABLE};
DROP FUNCTION IF EXISTS {TABLE}_scope();
"""

BACKFILL_SQL = f"""
UPDATE {TABLE} r SET owner_id = c.owner_id, department_id = c.department_id
  FROM customers_customer c WHERE c.id = r.customer_id;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('activities', '0001_initial'),
        ('customers', '0007_customer_deleted_include_id'),
        ('staff', '0002_fieldpermission'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='followup',
            name='department',
            field=models.ForeignKey(db_constraint=False, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='staff.department', verbose_name='客户所属部门'),
        ),
        migrations.AddField(
            model_name='followup',
            name='owner',
            field=models.ForeignKey(db_constraint=False, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='客户负责人'),
        ),
        migrations.RunSQL(BACKFILL_SQL, migrations.RunSQL.noop),
        migrations.RunSQL(COPY_SQL + PUSH_SQL, DROP_SQL),
        migrations.AddIndex(
            model_name='followup',
            index=models.Index(fields=['department', 'occurred_at'], include=('owner', 'customer', 'created_by', 'type', 'id'), name='followup_dept_occurred'),
        ),
        migrations.AddIndex(
            model_name='followup',
            index=models.Index(fields=['owner', 'occurred_at'], include=('department', 'customer', 'created_by', 'type', 'id'), name='followup_owner_occurred'),
        ),
    ]
