#!/usr/bin/env python3
"""Generates the demo village register: config/demo/people.csv and README.md.

Deterministic (seeded), so the demo and the docs that quote its phones stay
stable. Run from anywhere:  python3 config/demo/generate_people.py
"""
import csv
import io
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20240601
PERSONS = 200
HOUSEHOLDS = 60
FIRST_PHONE = 13800000001

# 四组 of the village; 一组 and 三组 are split into 院落 (courtyards).
# (household range, group path); ten households per 一户十联 block.
BLOCKS = [
    (range(1, 11), "一组/东院"),
    (range(11, 21), "一组/西院"),
    (range(21, 31), "二组"),
    (range(31, 41), "三组/南院"),
    (range(41, 51), "三组"),
    (range(51, 61), "四组"),
]

SURNAMES = {"王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang", "赵": "zhao",
            "黄": "huang", "周": "zhou", "吴": "wu", "徐": "xu", "孙": "sun", "胡": "hu", "朱": "zhu", "高": "gao",
            "林": "lin", "何": "he", "郭": "guo", "马": "ma", "罗": "luo"}
PINYIN = {
    "建": "jian", "国": "guo", "伟": "wei", "军": "jun", "强": "qiang", "明": "ming", "华": "hua", "平": "ping",
    "勇": "yong", "志": "zhi", "刚": "gang", "海": "hai", "成": "cheng", "文": "wen", "德": "de", "福": "fu",
    "春": "chun", "林": "lin", "峰": "feng", "涛": "tao", "磊": "lei", "斌": "bin", "兵": "bing", "杰": "jie",
    "鹏": "peng", "东": "dong", "庆": "qing", "生": "sheng", "秀": "xiu", "英": "ying", "兰": "lan", "芳": "fang",
    "梅": "mei", "丽": "li", "娟": "juan", "霞": "xia", "敏": "min", "燕": "yan", "萍": "ping", "玲": "ling",
    "桂": "gui", "凤": "feng", "珍": "zhen", "琴": "qin", "慧": "hui", "红": "hong", "子": "zi", "涵": "han",
    "浩": "hao", "然": "ran", "欣": "xin", "怡": "yi", "宇": "yu", "轩": "xuan", "梓": "zi", "萱": "xuan",
    "俊": "jun", "雨": "yu", "桐": "tong", "思": "si", "远": "yuan", "诺": "nuo", "佳": "jia", "琪": "qi",
    "晨": "chen", "博": "bo", "嘉": "jia", "睿": "rui", "泽": "ze", "有": "you", "才": "cai", "长": "chang",
    "金": "jin", "根": "gen", "贵": "gui", "宝": "bao", "花": "hua", "莲": "lian", "翠": "cui", "玉": "yu",
    "阳": "yang", "诗": "shi", "若": "ruo", "曦": "xi", "一": "yi",
}
MALE = "建国伟军强明华平勇志刚海成文德福春林峰涛磊斌兵杰鹏东庆生"
FEMALE = "秀英兰芳梅丽娟霞敏燕萍玲桂凤珍琴慧红"
YOUNG_MALE = ["子涵", "浩然", "宇轩", "俊杰", "思远", "博文", "嘉睿", "泽宇", "一诺", "晨阳"]
YOUNG_FEMALE = ["欣怡", "梓萱", "雨桐", "佳琪", "思涵", "诗雨", "若曦", "晨曦", "嘉怡", "子琪"]
OLD_MALE = ["有才", "长生", "金根", "德福", "贵宝", "根生", "长贵", "福生"]
OLD_FEMALE = ["秀英", "桂兰", "金花", "玉珍", "翠莲", "凤英", "桂珍", "秀兰"]

HEADER = ["户号", "户主", "姓名", "手机", "村民小组", "角色", "企业微信", "钉钉", "飞书", "telegram", "语言",
          "中心户", "负责"]


class Person:
    def __init__(self, name, age, male, household):
        self.name, self.age, self.male, self.household = name, age, male, household
        self.roles = []
        self.responsible = []
        self.lang = ""
        self.wecom = self.dingtalk = self.feishu = self.telegram = ""
        self.phone = ""
        self.note = ""

    def add(self, *roles):
        for r in roles:
            if r not in self.roles:
                self.roles.append(r)


def main():
    rng = random.Random(SEED)
    used_names = set()

    def name(surname, pool, two=False):
        for _ in range(1000):
            if isinstance(pool, list):
                given = rng.choice(pool)
            else:
                given = rng.choice(pool) + (rng.choice(pool) if two or rng.random() < 0.6 else "")
            full = surname + given
            if full not in used_names and surname not in given:
                used_names.add(full)
                return full
        raise RuntimeError("ran out of names")

    sizes = [rng.choice([2, 3, 3, 4, 4, 5]) for _ in range(HOUSEHOLDS)]
    while sum(sizes) != PERSONS:
        i = rng.randrange(HOUSEHOLDS)
        if sum(sizes) < PERSONS and sizes[i] < 6:
            sizes[i] += 1
        elif sum(sizes) > PERSONS and sizes[i] > 1:
            sizes[i] -= 1

    households = []  # (code, group, members)
    for block, group in BLOCKS:
        for n in block:
            code = f"H{n:03d}"
            surname = rng.choice(list(SURNAMES))
            size = sizes[n - 1]
            members = []
            if code == "H001":  # the plain villager the docs impersonate: 13800000001
                head = Person("王建国", 52, True, code)
                used_names.add(head.name)
                surname = "王"
            else:
                male = rng.random() < 0.85
                head = Person(name(surname, MALE if male else FEMALE), rng.randint(35, 62), male, code)
            members.append(head)
            if size >= 2:
                spouse_surname = rng.choice([s for s in SURNAMES if s != surname])
                members.append(Person(name(spouse_surname, FEMALE if head.male else MALE), head.age - rng.randint(-3, 4),
                                      not head.male, code))
            if size >= 3 and rng.random() < 0.45:
                male = rng.random() < 0.5
                members.append(Person(name(surname, OLD_MALE if male else OLD_FEMALE), rng.randint(68, 88), male, code))
            while len(members) < size:
                male = rng.random() < 0.5
                members.append(Person(name(surname, YOUNG_MALE if male else YOUNG_FEMALE), rng.randint(18, 34), male,
                                      code))
            households.append((code, group, members))

    persons = [p for _, _, ms in households for p in ms]
    for i, p in enumerate(persons):
        p.phone = str(FIRST_PHONE + i)
    by_code = {code: (group, ms) for code, group, ms in households}
    group_of = {p.phone: by_code[p.household][0] for p in persons}
    taken = {persons[0].phone}  # 13800000001 stays a plain villager

    def pick(pool, n, pred=lambda p: True):
        chosen = []
        candidates = [p for p in pool if p.phone not in taken and pred(p)]
        rng.shuffle(candidates)
        for p in candidates[:n]:
            taken.add(p.phone)
            chosen.append(p)
        if len(chosen) < n:
            raise RuntimeError("not enough candidates")
        return chosen

    def in_group(g):
        return [p for p in persons if group_of[p.phone].split("/")[0] == g]

    working = lambda p: 25 <= p.age <= 60  # noqa: E731
    senior = lambda p: 35 <= p.age <= 60  # noqa: E731

    # The village party secretary answers for the whole village (四包一联).
    secretary, = pick(in_group("二组"), 1, senior)
    secretary.add("村干部", "党员")
    secretary.responsible = ["全村"]
    secretary.note = "村党支部书记"
    # One cadre per 村民小组 (包组干部) and one group leader each.
    for g in ["一组", "二组", "三组", "四组"]:
        cadre, = pick(in_group(g), 1, senior)
        cadre.add("村干部", "党员")
        cadre.responsible = [g]
        cadre.note = f"包{g}干部"
        leader, = pick(in_group(g), 1, working)
        leader.add("组长")
        leader.note = f"{g}组长"
    commander, = pick(in_group("三组"), 1, lambda p: p.male and senior(p))
    commander.add("指挥长", "党员")
    commander.note = "应急抢险维稳队队长"
    admin, = pick(in_group("一组"), 1, lambda p: 25 <= p.age <= 45)
    admin.add("管理员", "村干部")
    admin.note = "村文书（系统管理员）"

    # 一户十联: one 党员中心户 per block of ten households; the head of the
    # courtyard blocks also answers for the courtyard.
    centrals = {}
    for block, group in BLOCKS:
        codes = [f"H{n:03d}" for n in block if n != 1]
        heads = [by_code[c][1][0] for c in codes]
        head, = pick(heads, 1, lambda p: p.age < 65)
        head.add("中心户长", "党员")
        head.note = f"中心户长（{group}）"
        if "/" in group:
            head.responsible = [group]
        centrals[group] = head.household

    for p in pick(persons, 5, working):
        p.add("评议员")
        p.note = "积分评议小组"
    for p in pick(persons, 3, lambda p: 40 <= p.age <= 70):
        p.add("监督员")
        p.note = "村务监督委员会"
    team = pick(persons, 15, lambda p: p.male and 20 <= p.age <= 50)
    for p in team:
        p.add("应急队员")
        p.note = "应急抢险维稳队"
    for p in rng.sample(team, 4):
        p.add("志愿者")
    for p in pick(persons, 18, lambda p: 18 <= p.age <= 70):
        p.add("志愿者")
        p.note = p.note or "志愿者"
    for p in rng.sample([p for p in persons if p.phone != persons[0].phone and "党员" not in p.roles and p.age >= 25], 12):
        p.add("党员")

    # Chat identities: the elderly have none (SMS only), most others WeCom,
    # and everyone with an office (cadres, heads, team) is on WeCom.
    used_ids = set()
    for p in persons:
        if p.age >= 65:
            continue
        base = SURNAMES[p.name[0]] + "".join(PINYIN.get(ch, "") for ch in p.name[1:])
        if rng.random() < 0.8 or p is persons[0] or p.roles:
            wid, k = base, 1
            while wid in used_ids:
                k += 1
                wid = f"{base}{k}"
            used_ids.add(wid)
            p.wecom = wid
        if rng.random() < 0.3:
            p.dingtalk = f"ding{rng.randrange(10**7, 10**8)}"
        if rng.random() < 0.15:
            p.feishu = "ou_" + "".join(rng.choice("0123456789abcdef") for _ in range(24))
        if p.age < 35 and rng.random() < 0.2:
            p.telegram = str(rng.randrange(10**8, 10**10))
    young = [p for p in persons if p.age < 35 and p.phone not in taken]
    for p in rng.sample(young, 2):
        p.lang = "en"
        p.note = p.note or "说英语 / English speaker"
        if not p.telegram:
            p.telegram = str(rng.randrange(10**8, 10**10))

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    for code, group, members in households:
        central = centrals[group] if code != centrals[group] else ""
        for p in members:
            roles = "、".join(p.roles) if p.roles else "村民"
            w.writerow([code, members[0].name, p.name, p.phone, group, roles, p.wecom, p.dingtalk, p.feishu,
                        p.telegram, p.lang, central, "、".join(p.responsible)])
    (HERE / "people.csv").write_text(out.getvalue(), encoding="utf-8")

    def first(pred):
        return next(p for p in persons if pred(p))

    quick = [
        ("villager 村民 (the docs' example)", persons[0]),
        ("cadre 村干部, whole village (党支部书记)", secretary),
        ("cadre 村干部 for 一组", first(lambda p: p.responsible == ["一组"])),
        ("group leader 组长", first(lambda p: "组长" in p.roles)),
        ("central household head 中心户长", first(lambda p: "中心户长" in p.roles)),
        ("evaluator 评议员", first(lambda p: "评议员" in p.roles)),
        ("supervisor 监督员", first(lambda p: "监督员" in p.roles)),
        ("commander 指挥长", commander),
        ("emergency team 应急队员", first(lambda p: "应急队员" in p.roles)),
        ("volunteer 志愿者", first(lambda p: "志愿者" in p.roles and "应急队员" not in p.roles)),
        ("admin 管理员", admin),
        ("English speaker (lang en)", first(lambda p: p.lang == "en")),
        ("elderly, SMS only (no chat account)", first(lambda p: p.age >= 65 and not p.roles)),
    ]
    lines = [
        "# Demo village: who is who",
        "",
        "Generated with `python3 config/demo/generate_people.py` (seeded, so stable); do not edit by hand.",
        f"`people.csv` holds {len(persons)} villagers in {len(households)} households (户号 H001–H060) in four",
        "村民小组: 一组 (院落 一组/东院, 一组/西院), 二组, 三组 (院落 三组/南院) and 四组.",
        "Each block of ten households is linked (一户十联) to one 党员中心户.",
        "Phones run 13800000001–13800000200; 13800000201–13800000250 are free for tests.",
        "",
        "Import it with `villagebot import people config/demo/people.csv --config FILE`, then impersonate",
        "anyone with `villagebot chat --as PHONE --config FILE`:",
        "",
        "## Quick pick",
        "",
        "| to act as | phone | name |",
        "|---|---|---|",
    ] + [f"| {what} | {p.phone} | {p.name} |" for what, p in quick] + [
        "",
        "## Everyone with a role",
        "",
        "| phone | name | household | group | roles | note |",
        "|---|---|---|---|---|---|",
    ]
    featured = [persons[0]] + [p for p in persons if p.note and p is not persons[0]]
    for p in featured:
        roles = "、".join(["村民"] + [r for r in p.roles if r != "村民"])
        ids = "" if (p.wecom or p.dingtalk or p.feishu or p.telegram) else "；无聊天账号，只收短信"
        note = (p.note or "普通村民，文档示例") + ids
        lines.append(f"| {p.phone} | {p.name} | {p.household} | {group_of[p.phone]} | {roles} | {note} |")
    elderly = [p for p in persons if p.age >= 65 and not p.roles][:3]
    lines += ["", "Elderly villagers without any chat account (SMS only), e.g. "
              + ", ".join(f"{p.phone} {p.name}" for p in elderly) + ".", ""]
    (HERE / "README.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
