"""Two columns derived from the stage history, for the funnel (4.3 s at 200,000 deals without them:
it aggregated every deal's history on every request, once per funnel stage; see bench/):

- ``Opportunity.furthest_stage_order``: the order of the furthest funnel stage (open or won) in
  the deal's history;
- ``StageHistory.left_at``: when the deal left the row's stage — the next row's ``changed_at`` in
  (changed_at, id) order, None for the last row (the stay has not ended).

Backfilled set-based; kept equal to the history by triggers, whatever writes it:

- history rows inserted, updated or deleted (statement-level, the rows as transition tables): for
  the deals concerned, ``left_at`` of their rows recomputed; ``furthest_stage_order`` raised to the
  new rows' furthest funnel stage on insert (never lowered: moving back keeps what was reached),
  recomputed from the remaining history on update and delete;
- a stage's ``order`` or ``kind`` changed: ``furthest_stage_order`` recomputed for the deals whose
  history went through it.

The triggers' own updates of ``left_at`` fire the update trigger again: it returns at once there
(``pg_trigger_depth() > 1``). ``services._enter_stage`` sets the same furthest order on the
instance it saves, so a save never writes a stale one back."""

from django.db import migrations, models

FUNNEL_KINDS = "('open', 'won')"
FURTHEST = f"""
    SELECT max(s."order") FROM opportunities_stagehistory h
      JOIN opportunities_stage s ON s.id = h.to_stage_id
     WHERE h.opportunity_id = o.id AND s.kind IN {FUNNEL_KINDS}
"""

BACKFILL_SQL = f"""
UPDATE opportunities_opportunity o SET furthest_stage_order = f.furthest
  FROM (SELECT h.opportunity_id, max(s."order") AS furthest
          FROM opportunities_stagehistory h JOIN opportunities_stage s ON s.id = h.to_stage_id
         WHERE s.kind IN {FUNNEL_KINDS}
         GROUP BY h.opportunity_id) f
 WHERE o.id = f.opportunity_id;

UPDATE opportunities_stagehistory h SET left_at = n.next_at
  FROM (SELECT id, lead(changed_at) OVER (PARTITION BY opportunity_id ORDER BY changed_at, id) AS next_at
          FROM opportunities_stagehistory) n
 WHERE h.id = n.id AND n.next_at IS NOT NULL;
"""


def _left_at(deals):
    return f"""
        UPDATE opportunities_stagehistory h SET left_at = n.next_at
          FROM (SELECT id, lead(changed_at) OVER (PARTITION BY opportunity_id ORDER BY changed_at, id) AS next_at
                  FROM opportunities_stagehistory WHERE opportunity_id IN ({deals})) n
         WHERE h.id = n.id AND h.left_at IS DISTINCT FROM n.next_at;
    """


def _recompute_furthest(deals):
    return f"""
        UPDATE opportunities_opportunity o SET furthest_stage_order = ({FURTHEST})
         WHERE o.id IN ({deals}) AND o.furthest_stage_order IS DISTINCT FROM ({FURTHEST});
    """


NEW = "SELECT opportunity_id FROM new_rows"
OLD = "SELECT opportunity_id FROM old_rows"

TRIGGERS_SQL = f"""
CREATE FUNCTION opportunity_history_derived() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() > 1 THEN  -- this function's own update of left_at
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        UPDATE opportunities_opportunity o SET furthest_stage_order = n.furthest
          FROM (SELECT h.opportunity_id, max(s."order") AS furthest
                  FROM new_rows h JOIN opportunities_stage s ON s.id = h.to_stage_id
                 WHERE s.kind IN {FUNNEL_KINDS}
                 GROUP BY h.opportunity_id) n
         WHERE o.id = n.opportunity_id
           AND (o.furthest_stage_order IS NULL OR o.furthest_stage_order < n.furthest);
        {_left_at(NEW)}
    ELSIF TG_OP = 'UPDATE' THEN
        {_recompute_furthest(f"{OLD} UNION {NEW}")}
        {_left_at(f"{OLD} UNION {NEW}")}
    ELSE
        {_recompute_furthest(OLD)}
        {_left_at(OLD)}
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER opportunity_history_insert AFTER INSERT ON opportunities_stagehistory
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION opportunity_history_derived();
CREATE TRIGGER opportunity_history_update AFTER UPDATE ON opportunities_stagehistory
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION opportunity_history_derived();
CREATE TRIGGER opportunity_history_delete AFTER DELETE ON opportunities_stagehistory
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION opportunity_history_derived();

CREATE FUNCTION opportunity_furthest_from_stage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_recompute_furthest("SELECT opportunity_id FROM opportunities_stagehistory WHERE to_stage_id = NEW.id")}
    RETURN NULL;
END;
$$;

CREATE TRIGGER opportunity_furthest_stage AFTER UPDATE OF "order", kind ON opportunities_stage
    FOR EACH ROW WHEN (OLD."order" IS DISTINCT FROM NEW."order" OR OLD.kind IS DISTINCT FROM NEW.kind)
    EXECUTE FUNCTION opportunity_furthest_from_stage();
"""

DROP_TRIGGERS_SQL = """
DROP TRIGGER IF EXISTS opportunity_furthest_stage ON opportunities_stage;
DROP FUNCTION IF EXISTS opportunity_furthest_from_stage();
DROP TRIGGER IF EXISTS opportunity_history_insert ON opportunities_stagehistory;
DROP TRIGGER IF EXISTS opportunity_history_update ON opportunities_stagehistory;
DROP TRIGGER IF EXISTS opportunity_history_delete ON opportunities_stagehistory;
DROP FUNCTION IF EXISTS opportunity_history_derived();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("opportunities", "0002_default_stage_group"),
    ]

    operations = [
        migrations.AddField(
            model_name="opportunity",
            name="furthest_stage_order",
            field=models.PositiveSmallIntegerField(editable=False, null=True, verbose_name="到达的最远阶段顺序"),
        ),
        migrations.AddField(
            model_name="stagehistory",
            name="left_at",
            field=models.DateTimeField(editable=False, null=True, verbose_name="离开时间"),
        ),
        migrations.RunSQL(BACKFILL_SQL, migrations.RunSQL.noop),
        migrations.RunSQL(TRIGGERS_SQL, DROP_TRIGGERS_SQL),
        migrations.AddIndex(
            model_name="stagehistory",
            index=models.Index(
                condition=models.Q(("left_at__isnull", False)),
                fields=["opportunity"],
                include=("to_stage", "changed_at", "left_at"),
                name="stage_history_ended_stays",
            ),
        ),
    ]
