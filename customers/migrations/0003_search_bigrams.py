"""The search column gets every two-character piece of the customer's and contacts' names as its
own word, lower-cased, between spaces: a two-character query (华为) then becomes LIKE '% 华为 %',
which the trigram index answers, instead of scanning every row."""

from django.db import migrations

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION crm_bigrams(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(substr(value, i, 2), ' '), '')
    FROM generate_series(1, char_length(coalesce(value, '')) - 1) AS i
    WHERE substr(value, i, 2) !~ '\\s'
$$;
"""

REFRESH_ALL = r"""
UPDATE customers_customer c SET search_text = lower(concat_ws(' ', '',
    c.name, crm_bigrams(c.name), c.credit_code, c.email,
    regexp_replace(c.mobile, '\D', '', 'g'), regexp_replace(c.phone, '\D', '', 'g'),
    (SELECT string_agg(concat_ws(' ', ct.name, crm_bigrams(ct.name), ct.email, ct.mobile), ' ')
       FROM customers_contact ct WHERE ct.customer_id = c.id),
    ''))
"""


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_default_levels")]

    operations = [
        migrations.RunSQL(CREATE_FUNCTION, "DROP FUNCTION IF EXISTS crm_bigrams(text);"),
        migrations.RunSQL(REFRESH_ALL, migrations.RunSQL.noop),
    ]
