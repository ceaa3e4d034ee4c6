-- 500,000 customers, 1,000,000 contacts over the demo staff (scratch measurement for issue 3)
SET synchronous_commit = off;
CREATE TEMP TABLE w(i int, w text);
INSERT INTO w SELECT i, (ARRAY['华','为','明','远','云','帆','科','技','智','联','金','陵','南','方','天','府','长','江','海','湾','鹭','岛','中','原','春','城','精','密','建','材','电','子','食','品','物','流','医','疗','教','育','信','息'])[i] FROM generate_series(1,42) i;
CREATE TEMP TABLE owners AS SELECT id, department_id, row_number() OVER () AS n FROM staff_user WHERE NOT is_superuser;
INSERT INTO customers_customer (name, kind, credit_code, mobile, phone, email, province, city, district, address, website,
  deal_status, remark, custom_fields, version, search_text, owner_id, department_id, created_by_id, created_at, updated_at, level_id)
SELECT
  (SELECT string_agg(w.w, '') FROM w WHERE w.i IN (1 + (g*7)%42, 1 + (g*13)%42, 1 + (g*31)%42, 1 + (g/42)%42)) || (ARRAY['有限公司','股份有限公司','贸易有限公司','科技有限公司'])[1 + g%4],
  'company', '', '13' || lpad(((g::bigint * 7919) % 1000000000)::text, 9, '0'), '', 'c' || g || '@example.com', '', '', '', '', '',
  'none', '', jsonb_build_object('annual_budget', g % 500), 1, '',
  o.id, o.department_id, o.id, now() - (g % 1000) * interval '1 day', now() - (g % 1000) * interval '1 hour',
  (SELECT id FROM customers_customerlevel ORDER BY priority LIMIT 1 OFFSET g % 3)
FROM generate_series(1, 500000) g JOIN owners o ON o.n = 1 + g % (SELECT count(*) FROM owners);
INSERT INTO customers_contact (customer_id, name, title, mobile, email, wechat, is_primary, remark, custom_fields, created_at, updated_at)
SELECT c.id, (ARRAY['张','王','李','赵','刘','陈'])[1 + (c.id + k) % 6] || (ARRAY['伟','芳','娜','敏','静','磊'])[1 + (c.id * k) % 6],
  '', '139' || lpad(((c.id::bigint * 104729 + k) % 100000000)::text, 8, '0'), '', '', k = 1, '', '{}', now(), now()
FROM customers_customer c, generate_series(1, 2) k;
UPDATE customers_customer c SET search_text = lower(concat_ws(' ', '', c.name, crm_bigrams(c.name), c.credit_code, c.email, c.mobile,
  (SELECT string_agg(concat_ws(' ', ct.name, crm_bigrams(ct.name), ct.email, ct.mobile), ' ') FROM customers_contact ct WHERE ct.customer_id = c.id), ''));
VACUUM ANALYZE customers_customer;
VACUUM ANALYZE customers_contact;
