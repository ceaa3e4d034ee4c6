"""The duplicate check (客户查重, SPEC §2.1): one matching service for create, update, import and
the check endpoint.

- ``normalize_company_name(name)``: the company name reduced to what identifies the company —
  stored in ``Customer.name_key`` (trigram-indexed) by the customers services.
- ``find_duplicates(data=…)``: the customers (whole company: owned and pool, every department;
  never the recycle bin) that match one record: exactly on the normalised mobile, e-mail or credit
  code (the customers' own and their contacts' mobiles and e-mails), or by a company name whose
  key is trigram-similar (``CUSTOMER_DUPLICATE_NAME_SIMILARITY``, default 0.6). Unscoped: callers
  present the matches through ``customers.selectors.duplicate_candidates`` (撞单: out-of-scope
  candidates show no contact details).
- ``find_duplicates_many(rows=…)``: the same rules for up to ~1000 rows in two queries (the
  importer).

Each match carries its reasons: ``{"field": …, "similarity": …}`` with ``field`` one of
``name`` (similarity 0–1), ``mobile``, ``email``, ``credit_code`` (the customer's own value) or
``contact_mobile``, ``contact_email`` (one of its contacts'), exact matches with similarity 1.0.
"""

import functools
import re
import sys
import unicodedata
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from crm import regions
from crm.validators import normalize_cn_mobile, normalize_credit_code, normalize_email

DEFAULT_LIMIT = 10
# Name matches read per record before ranking: the index may return many similar names; the best
# few are all a caller is shown (the rest would be cut at ``limit`` anyway).
NAME_CANDIDATES = 50
# Rows per find_duplicates_many call the importer may send (its batches are this size).
MANY_MAX_ROWS = 1000

EXACT_FIELDS = ("mobile", "email", "credit_code")
REASON_FIELDS = ("name", "mobile", "email", "credit_code", "contact_mobile", "contact_email")


@dataclass
class DuplicateMatch:
    """One existing customer matching the record checked, and why (see the module docstring)."""

    customer_id: int
    reasons: list[dict] = field(default_factory=list)

    @property
    def exact(self):
        return any(reason["field"] != "name" for reason in self.reasons)

    @property
    def similarity(self):
        return max((reason["similarity"] for reason in self.reasons), default=0.0)


# --- the company name -----------------------------------------------------------------------------

# Legal forms, removed from the end again and again ("…集团股份有限公司" → "…"). Longest first.
CN_LEGAL_SUFFIXES = (
    "股份有限公司", "有限责任公司", "集团有限公司", "有限合伙企业", "普通合伙企业",
    "有限公司", "股份公司", "集团公司", "合伙企业", "有限合伙", "普通合伙",
    "分公司", "子公司", "总公司", "办事处", "代表处",
    "公司", "集团", "控股", "股份", "有限",
)  # fmt: skip
# English legal forms, as whole words at the end ("Huawei Technologies Co., Ltd.").
EN_LEGAL_SUFFIXES = (
    "co", "ltd", "limited", "inc", "incorporated", "corp", "corporation", "company", "llc", "llp", "lp",
    "plc", "gmbh", "ag", "sa", "bv", "pte", "pty", "srl", "group", "holding", "holdings",
)  # fmt: skip
_EN_SUFFIX = re.compile(r"(?:^|\s)(?:" + "|".join(EN_LEGAL_SUFFIXES) + r")\s*$")
# Category words: a leading region is stripped only if something besides them remains, so 北京银行
# and 上海银行 stay apart (and 南京大学 is not 北京大学) while 上海华为技术 becomes 华为技术.
GENERIC_WORDS = (
    "进出口", "研究院", "研究所", "设计院", "幼儿园", "房地产", "新材料",
    "银行", "大学", "学院", "学校", "中学", "小学", "医院", "科技", "技术", "贸易", "商贸", "实业", "投资",
    "发展", "电子", "信息", "网络", "软件", "物流", "建筑", "工程", "咨询", "服务", "管理", "文化", "传媒",
    "教育", "食品", "医药", "药业", "制药", "汽车", "航空", "能源", "电力", "石油", "化工", "机械", "设备",
    "电器", "电气", "国际", "地产", "置业", "建材", "钢铁", "证券", "保险", "基金", "信托", "商业", "电信",
    "移动", "联通", "铁路", "交通", "旅游", "酒店", "餐饮", "百货", "超市", "商场", "中心", "农业", "林业",
    "水务", "燃气", "热力", "环保", "科学", "生物", "材料", "智能", "数据", "高新", "开发区", "人民", "市场",
    "bank", "university", "mobile", "telecom", "technology", "technologies", "tech", "trading", "international",
    "industries", "industrial", "services", "insurance", "securities",
)  # fmt: skip
_ETHNIC = "壮|回|维吾尔|藏|蒙古|朝鲜|彝|白|傣|景颇|傈僳|土家|苗|哈尼|侗|布依|羌|哈萨克"
_ADMIN_SUFFIX = re.compile(r"(?:特别行政区|自治区|自治州|自治县|地区|省|市|盟|区|县)$")
_ETHNIC_SUFFIX = re.compile(rf"(?:(?:{_ETHNIC})族)+$")
_COUNTRY = ("中国", "中华人民共和国", "china", "prc")
_EXTRA_REGIONS = ("香港", "澳门", "台湾")
# A bracketed group: () [] {} 【】 〔〕 〖〗 (full-width ones are half-width after NFKC).
_BRACKETED = re.compile(r"[(\[{【〔〖]([^()\[\]{}【】〔〕〖〗]*)[)\]}】〕〗]")
_NOT_WORD = re.compile(r"[\W_]+")
_CJK = re.compile(r"[\u3400-\u9fff]")


def _short_names(name):
    """``name`` and its forms without the administrative suffix: 广东省 → 广东, 深圳市 → 深圳,
    广西壮族自治区 → 广西, 延边朝鲜族自治州 → 延边. Forms of one character are dropped."""
    forms = {name}
    short = _ADMIN_SUFFIX.sub("", name)
    forms.add(short)
    forms.add(_ETHNIC_SUFFIX.sub("", short))
    return {form for form in forms if len(form) >= 2}


@dataclass(frozen=True)
class _Regions:
    starts: dict
    ends: dict
    by_first: dict


@functools.cache
def _region_names():
    """``starts``/``ends``: names a company name may start (or end) with — provinces with and without
    suffix, prefecture-level cities (市) with and without it, other prefectures in full, the
    country — and the names a bracketed region group may hold (those plus short forms and
    counties), by their first character (``by_first``)."""
    leading, anywhere = set(_COUNTRY) | set(_EXTRA_REGIONS), set()
    for province_code, province in regions.provinces():
        leading |= _short_names(province)
        for city_code, city in regions.children(province_code):
            if city in regions.PLACEHOLDER_NAMES:
                pass
            elif city.endswith("市"):
                leading |= _short_names(city)
            else:  # 阿里地区, 大理白族自治州: short forms are brand words too (阿里巴巴, 红河)
                leading.add(city)
                anywhere |= _short_names(city)
            for _code, district in regions.children(city_code):
                if district not in regions.PLACEHOLDER_NAMES:
                    anywhere |= _short_names(district)
    by_first = {}
    for name in anywhere | leading:
        by_first.setdefault(name[0], []).append(name)
    # Indexed by first and by last character (a few candidates per lookup instead of ~1000), longest
    # first so 内蒙古 wins over a shorter name it starts with.
    starts, ends = {}, {}
    for name in sorted(leading, key=len, reverse=True):
        starts.setdefault(name[0], []).append(name)
        ends.setdefault(name[-1], []).append(name)
    return _Regions(starts=starts, ends=ends, by_first=by_first)


def _only_regions(text):
    """Whether ``text`` (no spaces or punctuation) is one or more region names run together:
    上海, 中国上海, 上海浦东新区, china."""
    by_first = _region_names().by_first
    if not text:
        return False

    @functools.cache
    def split(start):
        if start == len(text):
            return True
        names = by_first.get(text[start], ())
        return any(text.startswith(name, start) and split(start + len(name)) for name in names)

    return split(0)


def _meaningful(rest):
    """Whether ``rest`` still names a company once category words are set aside: two or more
    Chinese characters, or three or more letters/digits."""
    for word in GENERIC_WORDS:
        rest = rest.replace(word, "")
    return len(rest) >= (2 if _CJK.search(rest) else 3)


def _strip_legal_suffixes(text):
    """Legal forms (and a trailing region or country: 华为技术有限公司上海分公司) off the end of a
    space-separated ``text``, repeatedly."""
    ends = _region_names().ends
    while True:
        before = text
        text = _EN_SUFFIX.sub("", text).rstrip()
        for suffix in CN_LEGAL_SUFFIXES:
            if text.endswith(suffix):
                text = text[: -len(suffix)].rstrip()
                break
        else:
            for name in ends.get(text[-1:], ()):
                if text.endswith(name) and _meaningful(text[: -len(name)].replace(" ", "")):
                    text = text[: -len(name)].rstrip()
                    break
        if text == before:
            return text


def normalize_company_name(name: str) -> str:
    """The company name reduced for the duplicate check, so spellings of one company compare equal
    (or trigram-close):

    - NFKC (full-width letters, digits and brackets → half-width) and case-folded;
    - bracketed groups holding only regions or the country removed: （上海）, (中国), [北京];
      other brackets keep their text;
    - punctuation and spaces dropped;
    - legal forms removed from the end, repeatedly: 有限公司, 有限责任公司, 股份有限公司, 集团, 公司,
      分公司 …, Co., Ltd., Limited, Inc., Corp., LLC, GmbH … (English as whole words);
    - a leading region (province or prefecture, with or without 省/市/自治区, or 中国/China)
      removed, repeatedly, when a real name remains (上海华为技术 → 华为技术; 北京银行 stays).

    ``上海华为技术有限公司`` and ``华为技术（上海）有限公司`` both give ``华为技术``. Pure; "" for a
    blank name or one that is only a legal form."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", str(name)).casefold()
    text = _BRACKETED.sub(
        lambda match: " " if _only_regions(_NOT_WORD.sub("", match.group(1))) else f" {match.group(1)} ", text
    )
    text = " ".join(_NOT_WORD.sub(" ", text).split())
    text = _strip_legal_suffixes(text).replace(" ", "")
    starts = _region_names().starts
    stripped = True
    while stripped:
        stripped = False
        for region in starts.get(text[:1], ()):
            if text.startswith(region) and _meaningful(text[len(region) :]):
                text = _strip_legal_suffixes(text[len(region) :])
                stripped = True
                break
    return text[:200]


# --- matching -------------------------------------------------------------------------------------


def _threshold():
    return float(getattr(settings, "CUSTOMER_DUPLICATE_NAME_SIMILARITY", 0.6))


def _as_is(value):
    return value


def _clean(data, *, normalized=False):
    """The record's matching keys, normalised the way the forms store them ("" when blank or not
    valid): {name_key, company, mobile, email, credit_code}. ``normalized``: the values already
    are what the normalisers return (a form's cleaned data), used as they are."""
    data = data or {}

    def text(key, normalize):
        value = data.get(key)
        if value in (None, ""):
            return ""
        return (_as_is(value) if normalized else normalize(value)) or ""

    kind = data.get("kind") or "company"
    name_key = data.get("name_key")
    if name_key is None:
        name_key = normalize_company_name(data.get("name") or "")
    return {
        "company": kind == "company",
        "name_key": name_key if kind == "company" else "",
        "mobile": text("mobile", normalize_cn_mobile),
        "email": text("email", normalize_email),
        "credit_code": text("credit_code", normalize_credit_code),
    }


# One statement for a set of records (``input``: idx, name_key, mobile, email, credit_code,
# exclude_id): every exact match through the partial btree indexes on the customers' and
# contacts' columns (hence the repeated ``<> ''``: without it those indexes do not apply), the
# name through the trigram GIN index (``%`` at the transaction's similarity threshold), then the
# best ``limit`` customers per record — exact matches first, then by similarity, then the older
# customer.
MATCH_SQL = """
WITH input AS (
    SELECT * FROM unnest(%(idx)s::int[], %(name_key)s::text[], %(mobile)s::text[], %(email)s::text[],
                         %(credit_code)s::text[], %(exclude)s::bigint[])
        AS t(idx, name_key, mobile, email, credit_code, exclude_id)
),
hits AS (
    SELECT i.idx, c.id AS customer_id, 'mobile' AS field, 1.0::float AS score
      FROM input i JOIN customers_customer c ON c.mobile = i.mobile
     WHERE i.mobile <> '' AND c.mobile <> '' AND c.deleted_at IS NULL
    UNION ALL
    SELECT i.idx, c.id, 'email', 1.0 FROM input i JOIN customers_customer c ON c.email = i.email
     WHERE i.email <> '' AND c.email <> '' AND c.deleted_at IS NULL
    UNION ALL
    SELECT i.idx, c.id, 'credit_code', 1.0 FROM input i JOIN customers_customer c ON c.credit_code = i.credit_code
     WHERE i.credit_code <> '' AND c.credit_code <> '' AND c.deleted_at IS NULL
    UNION ALL
    SELECT DISTINCT i.idx, ct.customer_id, 'contact_mobile', 1.0
      FROM input i JOIN customers_contact ct ON ct.mobile = i.mobile
      JOIN customers_customer c ON c.id = ct.customer_id
     WHERE i.mobile <> '' AND ct.mobile <> '' AND c.deleted_at IS NULL
    UNION ALL
    SELECT DISTINCT i.idx, ct.customer_id, 'contact_email', 1.0
      FROM input i JOIN customers_contact ct ON ct.email = i.email
      JOIN customers_customer c ON c.id = ct.customer_id
     WHERE i.email <> '' AND ct.email <> '' AND c.deleted_at IS NULL
    UNION ALL
    SELECT i.idx, n.id, 'name', n.score
      FROM input i CROSS JOIN LATERAL (
            SELECT c.id, similarity(c.name_key, i.name_key)::float AS score
              FROM customers_customer c
             WHERE c.name_key %% i.name_key AND c.kind = 'company' AND c.deleted_at IS NULL
               AND c.id <> i.exclude_id
             ORDER BY score DESC, c.id
             LIMIT %(name_candidates)s
           ) n
     WHERE i.name_key <> ''
),
ranked AS (
    SELECT h.idx, h.customer_id,
           array_agg(h.field ORDER BY h.field) AS fields,
           array_agg(h.score ORDER BY h.field) AS scores,
           row_number() OVER (
               PARTITION BY h.idx
               ORDER BY bool_or(h.field <> 'name') DESC, max(h.score) DESC, h.customer_id
           ) AS rank
      FROM hits h JOIN input i ON i.idx = h.idx
     WHERE h.customer_id <> i.exclude_id AND NOT h.customer_id = ANY(%(exclude_all)s::bigint[])
     GROUP BY h.idx, h.customer_id
)
SELECT idx, customer_id, fields, scores FROM ranked WHERE rank <= %(limit)s ORDER BY idx, rank
"""


def _params(records, exclude_ids, limit):
    """The statement's parameters for ``records``; None when none has a key to match."""
    wanted = [
        (index, record)
        for index, record in enumerate(records)
        if record["name_key"] or record["mobile"] or record["email"] or record["credit_code"]
    ]
    if not wanted or limit <= 0:
        return None
    return {
        "idx": [index for index, _record in wanted],
        "name_key": [record["name_key"] for _index, record in wanted],
        "mobile": [record["mobile"] for _index, record in wanted],
        "email": [record["email"] for _index, record in wanted],
        "credit_code": [record["credit_code"] for _index, record in wanted],
        "exclude": [record.get("exclude_id") or 0 for _index, record in wanted],
        "exclude_all": [int(pk) for pk in exclude_ids if pk is not None],
        "name_candidates": NAME_CANDIDATES,
        "limit": limit,
    }


# ``%`` compares against pg_trgm.similarity_threshold: set for this transaction only (SET LOCAL
# semantics, the third argument), put back afterwards for whatever else runs in it. JIT off too:
# the planner's estimates for the unnested input make it compile the query (~0.5 s) for what runs
# in milliseconds. Sequential scans off as well: on a small or freshly loaded table (statistics
# not yet analysed) the planner would rather run similarity() over every row for each record —
# ~20 ms a record at 5,000 customers — than use the trigram and partial indexes this statement is
# written for (~0.4 ms a record at 500,000). show_limit() (pg_trgm's own reading of the threshold)
# rather than current_setting(): calling it loads pg_trgm's library, which is what defines the
# setting — on a fresh connection current_setting() alone fails.
SETTINGS_SQL = (
    "SELECT show_limit()::text, current_setting('jit'), current_setting('enable_seqscan'), "
    "set_config('pg_trgm.similarity_threshold', %s, true), set_config('jit', 'off', true), "
    "set_config('enable_seqscan', 'off', true)"
)
RESTORE_SQL = (
    "SELECT set_config('pg_trgm.similarity_threshold', %s, true), set_config('jit', %s, true), "
    "set_config('enable_seqscan', %s, true)"
)


def _found(rows):
    found = {}
    for index, customer_id, fields, scores in rows:
        reasons = [
            {"field": name, "similarity": round(float(score), 3)} for name, score in zip(fields, scores, strict=True)
        ]
        reasons.sort(key=lambda reason: REASON_FIELDS.index(reason["field"]))
        found.setdefault(index, []).append(DuplicateMatch(customer_id=customer_id, reasons=reasons))
    return found


def _run(records, *, exclude_ids=(), limit=DEFAULT_LIMIT):
    """{index: [DuplicateMatch, …]} for ``records`` (dicts from ``_clean`` plus ``exclude_id``)."""
    params = _params(records, exclude_ids, limit)
    if params is None:
        return {}
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(SETTINGS_SQL, [str(_threshold())])
        previous = cursor.fetchone()[:3]
        cursor.execute(MATCH_SQL, params)
        rows = cursor.fetchall()
        cursor.execute(RESTORE_SQL, list(previous))
    return _found(rows)


class PendingMatches:
    """A find_duplicates_many statement sent without waiting for its answer (psycopg pipeline
    mode on the request's own connection, in its transaction if one is open), so the caller can
    work meanwhile — the database on one core, Python on the other. ``result()`` waits for it.
    Until then the connection must not be used for anything else. ``using``: another
    connection (a Django DatabaseWrapper) to send it on instead of the default one."""

    def __init__(self, records, *, exclude_ids=(), limit=DEFAULT_LIMIT, using=None):
        self._found = None
        self._pipeline = None
        self._db = db = using or connection
        params = _params(records, exclude_ids, limit)
        if params is None:
            self._found = {}
            return
        db.ensure_connection()
        raw = db.connection
        self._own_transaction = not db.in_atomic_block
        with db.wrap_database_errors:
            self._pipeline = raw.pipeline()
            self._pipeline.__enter__()
            try:
                self._cursor = raw.cursor()
                self._settings = raw.cursor()
                if self._own_transaction:
                    self._settings.execute("BEGIN")
                self._settings.execute(SETTINGS_SQL, [str(_threshold())])
                self._cursor.execute(MATCH_SQL, params)
            except BaseException:
                self._close(*sys.exc_info())
                raise

    def _close(self, *exc_info):
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.__exit__(*exc_info)

    def result(self) -> dict[int, list[DuplicateMatch]]:
        if self._found is not None:
            return self._found
        db = self._db
        try:
            with db.wrap_database_errors:
                previous = self._settings.fetchone()[:3]
                rows = self._cursor.fetchall()
                self._settings.execute(RESTORE_SQL, list(previous))
                if self._own_transaction:
                    self._settings.execute("COMMIT")
                self._close(None, None, None)
        except BaseException:
            self.cancel()
            raise
        self._found = _found(rows)
        return self._found

    def cancel(self):
        """Give the connection back without the answer (the caller gave up: an error elsewhere)."""
        if self._pipeline is None:
            return
        db = self._db
        try:
            with db.wrap_database_errors:
                self._close(None, None, None)
                if self._own_transaction:
                    db.connection.execute("ROLLBACK")
                else:  # the caller's transaction goes on: its settings back
                    self._settings.execute(RESTORE_SQL, list(self._settings.fetchone()[:3]))
        except Exception:  # noqa: BLE001 - already failing (an aborted transaction is rolled back)
            if self._own_transaction:
                db.close()
        self._found = {}


def find_duplicates(*, data: dict, exclude_ids=(), limit=DEFAULT_LIMIT) -> list[DuplicateMatch]:
    """Existing customers matching one record (``data``: name, kind, mobile, email, credit_code —
    as the form normalised them; blanks ignored; names only for companies). ``exclude_ids``: the
    record itself on update. At most ``limit``, best first. Unscoped — present the result with
    ``customers.selectors.duplicate_candidates``."""
    return _run([_clean(data)], exclude_ids=exclude_ids, limit=limit).get(0, [])


# The trigram index find_duplicates_many leans on (customers.models.Customer.Meta.indexes).
NAME_INDEX = "customer_name_key_trgm"


def matched_tables_written():
    """Whether the current transaction has inserted, updated or deleted rows of the tables the
    matching reads (customers, contacts) — PostgreSQL counts them per transaction in
    pg_stat_xact_user_tables. A caller matching on another connection needs False: then that
    connection sees what this one sees. The counts may also hold this connection's earlier
    transactions, until the server reports them (PostgreSQL 15: when the connection is idle, at
    most once a second): then True without need — the safe answer."""
    from customers.models import Contact, Customer

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) > 0 FROM pg_stat_xact_user_tables "
            "WHERE relid = ANY(%s::regclass[])",
            [[Customer._meta.db_table, Contact._meta.db_table]],
        )
        return cursor.fetchone()[0]


def flush_name_index():
    """Before a run of many find_duplicates_many calls (an import): merge the name index's
    pending list (GIN ``fastupdate``: recent inserts, up to gin_pending_list_limit = 4 MB, read in
    full by every lookup) into the index proper. A full list makes each name lookup ~10× slower
    (4 ms instead of 0.4 ms at 500,000 customers); with none pending this only reads the index's
    metapage. Needs to own the index (the app's database user does: it ran the migrations);
    without that, lookups are just slower."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [NAME_INDEX])
    except DatabaseError:
        pass


def find_duplicates_many_start(
    *, rows: list[dict], limit_per_row=DEFAULT_LIMIT, normalized=False, using=None
) -> PendingMatches:
    """find_duplicates_many, sent to the database without waiting: ``.result()`` gives what
    find_duplicates_many returns. The connection (``using``, a DatabaseWrapper, or the default
    one) is busy until then (no other query)."""
    return PendingMatches(_records(rows, normalized), limit=limit_per_row, using=using)


def _records(rows, normalized):
    if len(rows) > MANY_MAX_ROWS:
        raise ValueError(f"find_duplicates_many takes at most {MANY_MAX_ROWS} rows")
    records = []
    for row in rows:
        record = _clean(row, normalized=normalized)
        record["exclude_id"] = row.get("id")
        records.append(record)
    return records


def find_duplicates_many(
    *, rows: list[dict], limit_per_row=DEFAULT_LIMIT, normalized=False
) -> dict[int, list[DuplicateMatch]]:
    """``find_duplicates`` for up to MANY_MAX_ROWS records in a fixed number of queries (set-based:
    arrays unnested and joined on the exact keys and ``%`` on the name key). Keyed by the row's
    index in ``rows``; rows without a match are absent. A row may carry ``id`` (the customer it
    would update), never matched against itself. Duplicates *inside* ``rows`` are the caller's.
    ``normalized=True``: mobile, email and credit_code are a form's cleaned values (what
    ``crm.validators``' normalisers return) and are not normalised again (~0.25 ms a row)."""
    return _run(_records(rows, normalized), limit=limit_per_row)
