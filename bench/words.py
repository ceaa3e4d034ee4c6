"""Vocabulary for realistic Chinese data: company names (city + brand + trade + legal form, with
near-duplicate spellings), person names, mobiles, e-mails."""

CITIES = [
    "上海", "北京", "深圳", "广州", "杭州", "南京", "苏州", "成都", "武汉", "西安", "天津", "重庆", "长沙",
    "郑州", "青岛", "厦门", "宁波", "合肥", "济南", "沈阳", "大连", "福州", "昆明", "无锡", "东莞", "佛山",
]  # fmt: skip
# A brand: two characters (30%) or three, each from its own list (≈ 10,000 two-character and
# 600,000 three-character brands: near-duplicates come from the generator, few by chance).
BRAND_FIRST = list(
    "华腾阿百京美海格小联中比万碧恒蒙伊三徐宇长吉奇安李顺圆申韵金网新搜携途同大康威汇隆通宁明远云天"
    "东南西北宏鸿博瑞嘉佳德永泰盛兴旺富裕和福祥开凯浩卓越晨星光辉曜正元亿兆乾坤龙凤鹏飞"
)
BRAND_SECOND = list(
    "为讯里度东的尔力米想兴迪科园大牛利一工通城瑞踏宁丰达山易浪狐程花视川基德帆智辰星泰鑫源昌盛"
    "华信诚安邦拓展创新成业发恒达亚欧美洲际海川江河湖峰岭林森宇宙锦程辉煌晟昊航远翔瀚"
)
BRAND_THIRD = list("达通信源科航拓捷讯众合力诚泰鑫盛嘉博优特尚品汇聚联云数智能芯网联宝晶星")
TRADES = [
    "技术", "科技", "信息技术", "电子", "贸易", "物流", "医疗器械", "生物科技", "食品", "建材", "机械", "化工",
    "服装", "教育科技", "网络科技", "软件", "新能源", "环保科技", "文化传媒", "餐饮管理", "房地产开发",
    "汽车销售", "家居", "农业科技", "供应链管理", "电气", "精密制造", "智能装备", "医药", "咨询",
]  # fmt: skip
LEGAL_FORMS = ["有限公司"] * 12 + ["股份有限公司"] * 3 + ["有限责任公司"] * 3 + ["集团有限公司"]
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔向汤"
)
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建文斌宇浩凯健俊帆雪琳晨欣悦思佳雨婷")
TITLES = [
    "总经理",
    "副总经理",
    "采购经理",
    "采购专员",
    "技术总监",
    "财务经理",
    "行政主管",
    "项目经理",
    "销售总监",
    "董事长",
]
MOBILE_PREFIXES = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
    "156", "157", "158", "159", "173", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187",
    "188", "189", "191", "198", "199",
]  # fmt: skip
AREA_CODES = ["021", "010", "0755", "020", "0571", "025", "0512", "028", "027", "029", "022", "023", "0731"]
MAIL_DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "outlook.com"]
LATIN = "abcdefghijklmnopqrstuvwxyz"
STREETS = ["人民路", "中山路", "解放路", "建设路", "科技路", "长江路", "和平路", "新华路", "滨江大道", "创业路"]


def person_name(rng):
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def mobile(rng):
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def landline(rng):
    area = rng.choice(AREA_CODES)
    digits = 6 if len(area) == 4 else 7  # 4-digit area codes: 7-digit numbers, else 8
    return f"{area}-{rng.randrange(2, 9)}{rng.randrange(10**digits):0{digits}d}"


def latin_word(rng, low=4, high=8):
    return "".join(rng.choices(LATIN, k=rng.randint(low, high)))


class CompanyNames:
    """Company names as parts, so a near-duplicate spelling of an earlier one can be made:
    上海华为技术有限公司 / 华为技术（上海）有限公司 / 华为技术(上海)有限责任公司 / 上海 华为技术有限公司."""

    def __init__(self, rng):
        self.rng = rng
        self.seen = []  # parts of names made so far (a bounded sample to copy from)

    def parts(self):
        rng = self.rng
        brand = rng.choice(BRAND_FIRST) + rng.choice(BRAND_SECOND)
        if rng.random() < 0.7:
            brand += rng.choice(BRAND_THIRD)
        return rng.choice(CITIES), brand, rng.choice(TRADES), rng.choice(LEGAL_FORMS)

    @staticmethod
    def spell(parts, style):
        city, brand, trade, legal = parts
        if style == 0:
            return f"{city}{brand}{trade}{legal}"
        if style == 1:
            return f"{brand}{trade}（{city}）{legal}"
        if style == 2:
            return f"{brand}{trade}{legal}"
        if style == 3:
            return f"{brand}{trade}({city}){legal}"
        return f"{city} {brand}{trade}{legal}"

    def new(self):
        parts = self.parts()
        if len(self.seen) < 50_000:
            self.seen.append(parts)
        elif self.rng.random() < 0.01:
            self.seen[self.rng.randrange(len(self.seen))] = parts
        style = 0 if self.rng.random() < 0.7 else (1 if self.rng.random() < 0.5 else 2)
        return self.spell(parts, style)

    def near_duplicate(self):
        """Another spelling of a name made earlier (same city, brand and trade)."""
        if not self.seen:
            return self.new()
        city, brand, trade, legal = self.rng.choice(self.seen)
        if self.rng.random() < 0.3:
            legal = {"有限公司": "有限责任公司"}.get(legal, "有限公司")
        return self.spell((city, brand, trade, legal), self.rng.choice([1, 3, 4, 0]))
