"""A generated English → Chinese parallel corpus over a controlled grammar, with exact translations.

No parallel corpus can be installed offline, so LM Lab writes its own. The grammar is small enough
to translate exactly and large enough to be worth learning (a lexicon of about 300 English words:
``lexicon_size()``), and it has the phenomena that make translation hard:

* **word order** — English puts time and place at the end ("Tom read a book in the library
  yesterday"), Chinese before the verb ("汤姆昨天在图书馆看了一本书"); wh-words stay in place
  in Chinese ("What did Tom buy?" → "汤姆买了什么？");
* **measure words** — every counted noun takes its classifier (一本书, 两只猫, 三辆车);
* **marking one language shows and the other does not** — English plural -s and tense
  (read/reads/will read/is reading) against Chinese 了, 会, 正在, 们 and bare nouns;
* **questions and negation** — do-support and inversion against 吗 and 不/没有, and "a" dropping
  under Chinese negation ("did not buy a car" → "没有买车").

Held-out pairs use (verb, noun) combinations that never occur in training, so a model is tested on
new combinations of known words, not on sentences it has seen.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from core.data.types import Split
from core.messages import N_

# --- lexicon ------------------------------------------------------------------------------------
# subjects: (English, Chinese, person: 1/2/3, plural)
_NAMES = [("Tom", "汤姆"), ("Mary", "玛丽"), ("Lily", "莉莉"), ("Jack", "杰克"), ("Anna", "安娜"),
          ("David", "大卫"), ("Lucy", "露西"), ("Peter", "彼得"), ("Emma", "艾玛"), ("Sam", "山姆"),
          ("Kate", "凯特"), ("Mike", "迈克"), ("Linda", "琳达"), ("Bob", "鲍勃")]  # fmt: skip
_PRONOUNS = [("I", "我", 1, False), ("you", "你", 2, False), ("he", "他", 3, False), ("she", "她", 3, False),
             ("we", "我们", 1, True), ("they", "他们", 3, True)]  # fmt: skip
_PEOPLE = [("teacher", "老师"), ("doctor", "医生"), ("student", "学生"), ("driver", "司机"), ("farmer", "农民"),
           ("cook", "厨师"), ("nurse", "护士"), ("worker", "工人"), ("child", "孩子"), ("writer", "作家")]  # fmt: skip
_IRREGULAR_PLURAL = {"child": "children", "fish": "fish", "person": "people"}

# objects: English singular, Chinese noun, measure word, category
_NOUNS = [
    ("book", "书", "本", "read"), ("magazine", "杂志", "本", "read"), ("dictionary", "词典", "本", "read"),
    ("newspaper", "报纸", "份", "read"), ("letter", "信", "封", "letter"), ("poem", "诗", "首", "song"),
    ("song", "歌", "首", "song"), ("photo", "照片", "张", "flat"), ("ticket", "票", "张", "flat"),
    ("map", "地图", "张", "flat"), ("table", "桌子", "张", "furniture"), ("chair", "椅子", "把", "furniture"),
    ("car", "车", "辆", "vehicle"), ("bike", "自行车", "辆", "vehicle"), ("bus", "公共汽车", "辆", "vehicle"),
    ("cat", "猫", "只", "animal"), ("dog", "狗", "只", "animal"), ("bird", "鸟", "只", "animal"),
    ("rabbit", "兔子", "只", "animal"), ("fish", "鱼", "条", "animal"), ("apple", "苹果", "个", "food"),
    ("orange", "橙子", "个", "food"), ("egg", "鸡蛋", "个", "food"), ("cake", "蛋糕", "块", "food"),
    ("bag", "包", "个", "thing"), ("box", "盒子", "个", "thing"), ("key", "钥匙", "把", "thing"),
    ("umbrella", "伞", "把", "thing"), ("pen", "笔", "支", "thing"), ("pencil", "铅笔", "支", "thing"),
    ("computer", "电脑", "台", "machine"), ("television", "电视", "台", "machine"), ("phone", "手机", "部", "machine"),
    ("movie", "电影", "部", "movie"), ("shirt", "衬衫", "件", "clothes"), ("jacket", "夹克", "件", "clothes"),
    ("hat", "帽子", "顶", "clothes"), ("flower", "花", "朵", "plant"), ("tree", "树", "棵", "plant"),
    ("house", "房子", "座", "building"), ("bridge", "桥", "座", "building"), ("cup of tea", "茶", "杯", "drink"),
    ("cup of coffee", "咖啡", "杯", "drink"), ("glass of water", "水", "杯", "drink"),
    ("bottle of milk", "牛奶", "瓶", "drink"), ("bowl of rice", "米饭", "碗", "food"),
    ("bowl of noodles", "面条", "碗", "food"),
]  # fmt: skip

# verbs: base, third person singular, past, -ing, Chinese, object categories
_VERBS = [
    ("read", "reads", "read", "reading", "看", {"read", "letter"}),
    ("write", "writes", "wrote", "writing", "写", {"letter", "song"}),
    ("buy", "buys", "bought", "buying", "买", {"read", "flat", "furniture", "vehicle", "animal", "food", "thing",
                                              "machine", "clothes", "plant", "building", "drink"}),
    ("sell", "sells", "sold", "selling", "卖", {"read", "furniture", "vehicle", "animal", "food", "thing",
                                              "machine", "clothes", "building"}),
    ("eat", "eats", "ate", "eating", "吃", {"food"}),
    ("drink", "drinks", "drank", "drinking", "喝", {"drink"}),
    ("see", "sees", "saw", "seeing", "看见", {"vehicle", "animal", "building", "plant", "thing"}),
    ("watch", "watches", "watched", "watching", "看", {"movie"}),
    ("like", "likes", "liked", "liking", "喜欢", {"read", "song", "vehicle", "animal", "food", "movie",
                                                "clothes", "plant", "drink", "building"}),
    ("want", "wants", "wanted", "wanting", "想要", {"read", "vehicle", "animal", "food", "thing", "machine",
                                                  "clothes", "drink", "building"}),
    ("find", "finds", "found", "finding", "找到", {"read", "letter", "flat", "animal", "thing"}),
    ("lose", "loses", "lost", "losing", "丢", {"flat", "thing", "machine"}),
    ("draw", "draws", "drew", "drawing", "画", {"animal", "plant", "building", "vehicle", "flat"}),
    ("wash", "washes", "washed", "washing", "洗", {"vehicle", "clothes", "furniture"}),
    ("open", "opens", "opened", "opening", "打开", {"thing", "letter", "machine"}),
    ("borrow", "borrows", "borrowed", "borrowing", "借", {"read", "vehicle", "thing", "machine"}),
    ("sing", "sings", "sang", "singing", "唱", {"song"}),
    ("cook", "cooks", "cooked", "cooking", "做", {"food"}),
    ("feed", "feeds", "fed", "feeding", "喂", {"animal"}),
    ("build", "builds", "built", "building", "建", {"building"}),
    ("fix", "fixes", "fixed", "fixing", "修", {"vehicle", "machine", "furniture"}),
    ("carry", "carries", "carried", "carrying", "带", {"thing", "read", "drink"}),
    ("order", "orders", "ordered", "ordering", "点", {"food", "drink"}),
    ("plant", "plants", "planted", "planting", "种", {"plant"}),
]  # fmt: skip

_ADJECTIVES = [("red", "红色的"), ("blue", "蓝色的"), ("white", "白色的"), ("black", "黑色的"), ("green", "绿色的"),
               ("big", "大"), ("small", "小"), ("new", "新"), ("old", "旧"), ("beautiful", "漂亮的"),
               ("expensive", "贵的"), ("cheap", "便宜的")]  # fmt: skip
_NUMBERS = [("two", "两"), ("three", "三"), ("four", "四"), ("five", "五"), ("six", "六"), ("seven", "七"),
            ("eight", "八"), ("nine", "九"), ("ten", "十")]  # fmt: skip
_PLACES = [("in the library", "在图书馆"), ("at school", "在学校"), ("in the park", "在公园"), ("at home", "在家"),
           ("in the kitchen", "在厨房"), ("at the market", "在市场"), ("in the office", "在办公室"),
           ("in the garden", "在花园"), ("at the station", "在车站"), ("in the classroom", "在教室"),
           ("at the store", "在商店"), ("in the restaurant", "在饭馆"), ("in Beijing", "在北京"),
           ("in London", "在伦敦"), ("in Shanghai", "在上海"), ("at the hospital", "在医院")]  # fmt: skip
_WHERE = ("where", "在哪里")
# times: English, Chinese, tense they go with
_TIMES = [("yesterday", "昨天", "past"), ("last week", "上个星期", "past"), ("last year", "去年", "past"),
          ("this morning", "今天早上", "past"), ("on Monday", "星期一", "past"),
          ("tomorrow", "明天", "future"), ("next week", "下个星期", "future"), ("next year", "明年", "future"),
          ("tonight", "今天晚上", "future"), ("every day", "每天", "present"), ("every week", "每个星期", "present"),
          ("in the evening", "晚上", "present"), ("now", "现在", "progressive"),
          ("right now", "现在", "progressive")]  # fmt: skip

TENSES = ("present", "past", "future", "progressive")
FORMS = ("statement", "negation", "yes-no question", "what question", "where question", "who question")


@dataclass(frozen=True)
class Pair:
    english: str
    chinese: str
    verb: str  # English base form
    noun: str  # English singular object noun
    form: str  # one of FORMS
    tense: str  # one of TENSES


def lexicon_size() -> int:
    """Distinct English words the grammar can produce."""
    words: set[str] = set()
    for name, _ in _NAMES:
        words.add(name.lower())
    for pronoun, *_ in _PRONOUNS:
        words.add(pronoun.lower())
    for noun, *_ in _PEOPLE:
        words.update([noun, _plural(noun)])
    for noun, *_ in _NOUNS:
        words.update(noun.split())
        words.update(_plural(noun).split())
    for verb in _VERBS:
        words.update(verb[:4])
    for group in (_ADJECTIVES, _NUMBERS, _PLACES, _TIMES):
        for entry in group:
            words.update(entry[0].lower().split())
    words.update(["a", "an", "the", "this", "that", "these", "those", "my", "do", "does", "did", "not", "will",
                  "am", "is", "are", "what", "where", "who"])  # fmt: skip
    return len(words)


def combinations() -> list[tuple[str, str]]:
    """Every (verb, noun) pair the grammar allows."""
    return [(verb[0], noun[0]) for verb in _VERBS for noun in _NOUNS if noun[3] in verb[5]]


def held_out_combinations(fraction: float = 0.15, seed: int = 11) -> frozenset[tuple[str, str]]:
    """A fixed share of (verb, noun) pairs reserved for the test set; every verb and noun still occurs in training."""
    pairs = combinations()
    rng = random.Random(seed)
    rng.shuffle(pairs)
    held: set[tuple[str, str]] = set()
    verbs_left = {verb: sum(1 for v, _ in pairs if v == verb) for verb, _ in pairs}
    nouns_left = {noun: sum(1 for _, n in pairs if n == noun) for _, noun in pairs}
    for verb, noun in pairs:
        if len(held) >= fraction * len(pairs):
            break
        if verbs_left[verb] > 2 and nouns_left[noun] > 1:  # keep both words in training
            held.add((verb, noun))
            verbs_left[verb] -= 1
            nouns_left[noun] -= 1
    return frozenset(held)


def _plural(noun: str) -> str:
    head, _, rest = noun.partition(" ")
    if head in _IRREGULAR_PLURAL:
        plural = _IRREGULAR_PLURAL[head]
    elif head.endswith(("s", "x", "ch", "sh")):
        plural = head + "es"
    elif head.endswith("y") and head[-2] not in "aeiou":
        plural = head[:-1] + "ies"
    else:
        plural = head + "s"
    return f"{plural} {rest}".strip()


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _subject(rng: random.Random) -> tuple[str, str, int, bool]:
    kind = rng.random()
    if kind < 0.45:
        english, chinese = rng.choice(_NAMES)
        return english, chinese, 3, False
    if kind < 0.7:
        return rng.choice(_PRONOUNS)
    english, chinese = rng.choice(_PEOPLE)
    determiner = rng.choice(["the", "my", "the"])
    zh_determiner = "我的" if determiner == "my" else ""
    if rng.random() < 0.35:
        return f"{determiner} {_plural(english)}", f"{zh_determiner}{chinese}们", 3, True
    return f"{determiner} {english}", f"{zh_determiner}{chinese}", 3, False


def _object(rng: random.Random, noun: tuple, tense: str, negated: bool) -> tuple[str, str]:
    english, chinese, measure, _ = noun
    adjective = rng.choice(_ADJECTIVES) if rng.random() < 0.3 and " of " not in english else None
    en_noun = english if adjective is None else f"{adjective[0]} {english}"
    zh_noun = chinese if adjective is None else f"{adjective[1]}{chinese}"
    choice = rng.random()
    if choice < 0.35:  # a / an
        if negated:  # Chinese drops the indefinite 一 + measure word under negation
            return f"{_article(en_noun)} {en_noun}", zh_noun
        return f"{_article(en_noun)} {en_noun}", f"一{measure}{zh_noun}"
    if choice < 0.6:  # a number: English plural, Chinese measure word and no plural
        number_en, number_zh = rng.choice(_NUMBERS)
        plural = _plural(english) if adjective is None else f"{adjective[0]} {_plural(english)}"
        return f"{number_en} {plural}", f"{number_zh}{measure}{zh_noun}"
    if choice < 0.75:  # the / this / that
        determiner, zh_determiner = rng.choice([("the", "那"), ("this", "这"), ("that", "那")])
        return f"{determiner} {en_noun}", f"{zh_determiner}{measure}{zh_noun}"
    if choice < 0.85:  # these / those: no measure word
        determiner, zh_determiner = rng.choice([("these", "这些"), ("those", "那些")])
        plural = _plural(english) if adjective is None else f"{adjective[0]} {_plural(english)}"
        return f"{determiner} {plural}", f"{zh_determiner}{zh_noun}"
    # a bare plural: generic in English, a bare noun in Chinese
    plural = _plural(english) if adjective is None else f"{adjective[0]} {_plural(english)}"
    return plural, zh_noun


def _be(person: int, plural: bool, past: bool = False) -> str:
    if past:
        return "were" if plural or person == 2 else "was"
    if plural or person == 2:
        return "are"
    return "am" if person == 1 else "is"


def _do(person: int, plural: bool, tense: str) -> str:
    if tense == "past":
        return "did"
    return "does" if person == 3 and not plural else "do"


# Chinese grammar the generator keeps (each rule is checked over the whole corpus by the tests):
# * stative verbs (喜欢, 想要) take no 了 in the past and are negated with 不, not 没有: 她昨天不喜欢猫;
# * stative verbs (like, want) have no progressive in either language ("is liking" / 正在喜欢): with "now"
#   they take the simple present (她现在喜欢猫);
# * 看见, 找到 and 丢 name an outcome, not an ongoing action: 正在看见 is not said, so "now" sentences with
#   see / find / lose are put in the past (她找到了钥匙), and "does not see / find" (不看见, 不找到) is not
#   generated either — present negation of these verbs is put in the past too (她没有找到钥匙);
# * 正在 takes a place phrase without a second 在: 她正在市场买菜, not 正在在市场.
_STATIVE = {"like", "want"}
_OUTCOME = {"see", "find", "lose"}


def _verb_phrase(verb: tuple, tense: str, person: int, plural: bool, negated: bool, question: bool) -> tuple:
    """English auxiliary (fronted in questions) and main verb; Chinese pre-verbal words and verb.

    The Chinese pre-verbal part (会, 不, 没有, 正在) stands before a place phrase: 他不会在图书馆看书.
    """
    base, third, past, ing, zh, _ = verb
    singular3 = person == 3 and not plural
    done = zh if base in _STATIVE else f"{zh}了"
    if tense == "progressive":
        aux = _be(person, plural)
        return aux, ("not " if negated else "") + ing, ("没有" if negated else "正在"), zh
    if tense == "future":
        return "will", ("not " if negated else "") + base, ("不会" if negated else "会"), zh
    if negated or question:
        aux = _do(person, plural, tense)
        if tense == "past":
            if negated:
                pre, zh_verb = ("不" if base in _STATIVE else "没有"), zh
            else:
                pre, zh_verb = "", done
        else:
            pre, zh_verb = ("不" if negated else ""), zh
        return aux, ("not " if negated else "") + base, pre, zh_verb
    if tense == "past":
        return "", past, "", done
    return "", third if singular3 else base, "", zh


def _pick_tense_and_time(rng: random.Random) -> tuple[str, tuple[str, str] | None]:
    if rng.random() < 0.55:
        english, chinese, tense = rng.choice(_TIMES)
        return tense, (english, chinese)
    return rng.choice(TENSES[:3]), None


def _capitalise(text: str) -> str:
    return text[0].upper() + text[1:]


def make_pair(rng: random.Random, verb_key: str, noun_key: str) -> Pair:
    """One sentence pair for this (verb, noun) combination, its form, tense and phrases drawn from ``rng``."""
    verb = next(v for v in _VERBS if v[0] == verb_key)
    noun = next(n for n in _NOUNS if n[0] == noun_key)
    form = rng.choices(FORMS, weights=[0.45, 0.2, 0.15, 0.08, 0.06, 0.06])[0]
    tense, time = _pick_tense_and_time(rng)
    if tense == "progressive" and verb_key in _STATIVE:
        tense = "present"  # "she likes cats now" / 她现在喜欢猫: the time phrase stays, the progressive goes
    elif tense == "progressive" and verb_key in _OUTCOME:
        tense, time = "past", None  # "she found the key" / 她找到了钥匙
    place = rng.choice(_PLACES) if rng.random() < 0.45 else None
    subject_en, subject_zh, person, plural = _subject(rng)
    negated = form == "negation"
    if negated and tense == "present" and verb_key in _OUTCOME:
        tense, time = "past", None  # 没有找到, never 不找到 (an "every day" time phrase goes with the tense)
    question = form != "statement" and not negated
    aux, main, pre, zh_verb = _verb_phrase(verb, tense, person, plural, negated, question)
    object_en, object_zh = _object(rng, noun, tense, negated)
    tail_en = " ".join(part for part in ((place or ("", ""))[0], (time or ("", ""))[0]) if part)
    time_zh = (time or ("", ""))[1]
    place_zh = (place or ("", ""))[1]
    if tense == "progressive" and negated and not place_zh:
        pre += "在"  # 他没有在看书
    before_verb = f"{pre}{place_zh}"
    if verb_key in _STATIVE and pre == "不":
        before_verb = f"{place_zh}{pre}"  # 他在伦敦不喜欢苹果: the negation stays on the stative verb

    if form in ("statement", "negation"):
        english = " ".join(p for p in (subject_en, aux, main, object_en, tail_en) if p) + "."
        chinese = f"{subject_zh}{time_zh}{before_verb}{zh_verb}{object_zh}。"
    elif form == "yes-no question":
        english = " ".join(p for p in (_capitalise(aux), subject_en, main, object_en, tail_en) if p) + "?"
        chinese = f"{subject_zh}{time_zh}{before_verb}{zh_verb}{object_zh}吗？"
    elif form == "what question":  # the wh-word moves in English, stays in place in Chinese
        english = " ".join(p for p in ("What", aux, subject_en, main, tail_en) if p) + "?"
        chinese = f"{subject_zh}{time_zh}{before_verb}{zh_verb}什么？"
    elif form == "where question":
        english = (
            " ".join(p for p in ("Where", aux, subject_en, main, object_en, (time or ("", ""))[0]) if p) + "?"
        )
        chinese = f"{subject_zh}{time_zh}{pre}{_WHERE[1]}{zh_verb}{object_zh}？"
    else:  # who question: the subject is the wh-word, third person singular, no do-support
        aux, main, pre, zh_verb = _verb_phrase(verb, tense, 3, False, False, False)
        english = " ".join(p for p in ("Who", aux, main, object_en, tail_en) if p) + "?"
        chinese = f"谁{time_zh}{pre}{place_zh}{zh_verb}{object_zh}？"
    english = _capitalise(english.replace("  ", " "))
    chinese = chinese.replace("正在在", "正在")  # 正在 + 在市场 → 正在市场
    return Pair(english=english, chinese=chinese, verb=verb_key, noun=noun_key, form=form, tense=tense)


@dataclass(frozen=True)
class Corpus(Split[Pair]):
    dataset: str = N_("LM Lab generated English-Chinese grammar")

    def describe(self) -> dict:
        return {**super().describe(), "lexicon_words": lexicon_size(),
                "held_out": "sentences built on (verb, noun) pairs that never occur in training"}  # fmt: skip


def _draw(rng: random.Random, pairs: list[tuple[str, str]], n: int, seen: set[str]) -> list[Pair]:
    found: list[Pair] = []
    attempts = 0
    while len(found) < n and attempts < n * 20:
        attempts += 1
        pair = make_pair(rng, *rng.choice(pairs))
        if pair.english not in seen:
            seen.add(pair.english)
            found.append(pair)
    return found


def corpus(train_size: int = 20000, test_size: int = 400, seed: int = 5) -> Corpus:
    """Training pairs over the seen (verb, noun) combinations and held-out pairs over the unseen ones."""
    held = held_out_combinations()
    train_pairs = [c for c in combinations() if c not in held]
    seen: set[str] = set()
    rng = random.Random(seed)
    test = _draw(rng, sorted(held), test_size, seen)
    train = _draw(rng, train_pairs, train_size, seen)
    fingerprint = hashlib.sha256("\n".join(p.english for p in test).encode("utf-8")).hexdigest()[:16]
    return Corpus(train=tuple(train), test=tuple(test), seed=seed, fingerprint=fingerprint)


# What the grammar covers and what it leaves out, for the Translate page (a teacher's checklist).
GRAMMAR_COVERS = [
    (N_("Time and place before the verb"), "Tom read a book in the library yesterday.", "汤姆昨天在图书馆看了一本书。"),
    (N_("A measure word with every count"), "Mary bought two cats.", "玛丽买了两只猫。"),
    (N_("了 after a completed action"), "Mary bought a car.", "玛丽买了一辆车。"),
    (N_("没有 for a past action not done; 一 + measure word dropped"), "Tom did not buy a car.", "汤姆没有买车。"),
    (N_("Stative verbs (喜欢, 想要): no 了, negated with 不"), "Tom did not like apples.", "汤姆不喜欢苹果。"),
    (N_("正在 for an action in progress, with no second 在"), "She is buying buses at the market now.",
     "她现在正在市场买公共汽车。"),
    (N_("No progressive for stative verbs (like, want): the simple present with 现在"), "She likes cats now.",
     "她现在喜欢猫。"),
    (N_("看见, 找到, 丢 name an outcome: past with 了, negated with 没有"), "She did not find the key.", "她没有找到那把钥匙。"),
    (N_("会 / 不会 for the future"), "He will not read a book tomorrow.", "他明天不会看书。"),
    (N_("吗 for yes-no questions; wh-words stay in place"), "What did Tom buy?", "汤姆买了什么？"),
    (N_("Plural -s in English, bare nouns in Chinese; 们 on people"), "The teachers read these books.",
     "老师们看这些书。"),
]  # fmt: skip
GRAMMAR_LEAVES_OUT = N_(
    "过 (experience), 把 and 被, productive resultative and potential complements (看完, 洗干净, 看不见; 看见 and 找到 "
    "are single words of the lexicon here), sentence-final 了 for a "
    "change of state, modal verbs other than 会, relative clauses, degree adverbs (很, 非常), more than one "
    "object or verb per sentence, and dropped subjects. Sentences outside the grammar get a fluent-looking "
    "but unreliable translation."
)
