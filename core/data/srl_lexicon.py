"""The words of the generated semantic-role sentences (``core/data/srl.py``): people, things, food, places,
times, manner and cause phrases, modals, and each verb's forms with its PropBank frame type."""

from __future__ import annotations

PEOPLE = ["the teacher", "my sister", "the old man", "a young doctor", "the children", "Maria", "John",
           "the farmer", "the police", "our neighbour", "the chef", "the students", "the manager", "Aisha",
           "the pilot", "her brother", "a tourist", "the nurse", "the king", "Chen"]  # fmt: skip
PEOPLE_PP = ["with the red hat", "from the village", "of the school", "next door", "in the blue coat"]
THINGS = ["the book", "a letter", "the car", "a new bike", "the keys", "the window", "the report", "some flowers",
           "the old bridge", "a present", "the money", "the map", "a painting", "the door", "a computer",
           "the photos", "a ticket", "the box", "an umbrella", "the radio"]  # fmt: skip
THINGS_PP = ["on the table", "from the library", "with a blue cover", "in the drawer", "of the museum"]
FOOD = ["the soup", "a cake", "some bread", "the apples", "a pizza", "the rice", "fresh fish", "an omelette"]
PLACES = ["in the kitchen", "at the station", "in the garden", "near the river", "at school", "in the office",
           "on the bus", "in the market", "at the airport", "in Paris"]  # fmt: skip
TIMES = ["yesterday", "last night", "on Monday", "after lunch", "in the morning", "every day", "two days ago",
          "last summer", "at noon", "before dinner"]  # fmt: skip
MANNER_ADVERBS = ["quickly", "carefully", "slowly", "happily", "quietly", "suddenly"]
MANNER_PHRASES = ["with great care", "with a smile", "in a hurry", "without a word"]
CAUSES = ["because of the rain", "because of the storm", "because of the noise", "because of the strike"]
MODALS = ["will", "can", "must", "should", "might"]

# verbs: base, past, past participle, frame type
VERBS = {
    # transitive: ARG0 V ARG1
    "buy": ("buy", "bought", "bought", "trans"), "read": ("read", "read", "read", "trans"),
    "write": ("write", "wrote", "written", "trans"), "build": ("build", "built", "built", "trans"),
    "repair": ("repair", "repaired", "repaired", "trans"), "open": ("open", "opened", "opened", "trans"),
    "clean": ("clean", "cleaned", "cleaned", "trans"), "find": ("find", "found", "found", "trans"),
    "paint": ("paint", "painted", "painted", "trans"), "carry": ("carry", "carried", "carried", "trans"),
    "break": ("break", "broke", "broken", "trans"), "lose": ("lose", "lost", "lost", "trans"),
    "steal": ("steal", "stole", "stolen", "trans"), "hide": ("hide", "hid", "hidden", "trans"),
    "eat": ("eat", "ate", "eaten", "food"), "cook": ("cook", "cooked", "cooked", "food"),
    # ditransitive: ARG0 V ARG2 ARG1 / ARG0 V ARG1 to ARG2
    "give": ("give", "gave", "given", "ditrans"), "send": ("send", "sent", "sent", "ditrans"),
    "show": ("show", "showed", "shown", "ditrans"), "offer": ("offer", "offered", "offered", "ditrans"),
    "lend": ("lend", "lent", "lent", "ditrans"), "sell": ("sell", "sold", "sold", "ditrans"),
    "bring": ("bring", "brought", "brought", "ditrans"),
    # intransitive: agentive subject (ARG0) or undergoer subject (ARG1)
    "sleep": ("sleep", "slept", "slept", "intrans0"), "work": ("work", "worked", "worked", "intrans0"),
    "laugh": ("laugh", "laughed", "laughed", "intrans0"), "swim": ("swim", "swam", "swum", "intrans0"),
    "arrive": ("arrive", "arrived", "arrived", "intrans1"), "fall": ("fall", "fell", "fallen", "intrans1"),
    # a clause as ARG1
    "say": ("say", "said", "said", "clausal"), "think": ("think", "thought", "thought", "clausal"),
    "report": ("report", "reported", "reported", "clausal"), "know": ("know", "knew", "known", "clausal"),
    # control: an infinitive as ARG1 whose agent is the subject
    "want": ("want", "wanted", "wanted", "control"), "try": ("try", "tried", "tried", "control"),
    "decide": ("decide", "decided", "decided", "control"), "hope": ("hope", "hoped", "hoped", "control"),
    "promise": ("promise", "promised", "promised", "control"),
}  # fmt: skip
BY_TYPE: dict[str, list[str]] = {}
for _verb, _forms in VERBS.items():
    BY_TYPE.setdefault(_forms[3], []).append(_verb)
INFINITIVE_VERBS = BY_TYPE["trans"] + BY_TYPE["food"] + BY_TYPE["ditrans"]
# every form a predicate can take in the generated text (used to suggest predicates in any text)
VERB_FORMS = frozenset(form for forms in VERBS.values() for form in forms[:3]) | frozenset(
    f"{base}s" if not base.endswith(("s", "sh", "ch", "y")) else base for base in VERBS
)
