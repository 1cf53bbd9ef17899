"""Challenges → Privacy: the attack's statistics against scikit-learn, the attack on a memorising tiny model and on a
language model, the personal-data detector against a labelled list (Chinese formats included), and the page."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from core import catalog
from core.errors import CoreError
from core.training import privacy

from conftest import TINY_KEY, open_page


def test_the_attacks_auc_and_roc_are_scikit_learns():
    rng = np.random.default_rng(0)
    members, others = rng.exponential(0.3, 50), rng.exponential(0.7, 60)
    members[:5] = others[:5]  # ties count a half
    truth, score = [1] * 50 + [0] * 60, -np.concatenate([members, others])
    found = privacy.attack(members, others)
    assert found.auc == pytest.approx(roc_auc_score(truth, score))
    assert found.auc_low < found.auc < found.auc_high
    fpr, tpr, _ = roc_curve(truth, score)
    assert found.advantage == pytest.approx((tpr - fpr).max())
    assert privacy.attack(np.ones(5), np.ones(7)).auc == 0.5  # a model that gives nothing away
    same = privacy.attack(rng.normal(size=150), rng.normal(size=50))  # no leak: the best threshold still finds some
    assert same.advantage > 0 and 0.1 < same.chance_advantage < 0.4
    with pytest.raises(CoreError):
        privacy.attack(np.ones(1), np.ones(7))


def test_the_tiny_model_that_memorised_150_sentences_gives_them_away(tiny_model):
    from core.tasks.classify import TransformerClassifier

    spec = catalog.get_spec("sentiment-tiny")
    members, others = privacy.classifier_texts(spec)
    card = catalog.read_metadata("sentiment-tiny")
    assert len(members) == card["data"]["train_size_after_augmentation"] and len(others) == 50
    classify = TransformerClassifier(spec, runtime="torch").predict_batch
    found = privacy.attack(privacy.classifier_losses(classify, members), privacy.classifier_losses(classify, others))
    assert found.member_losses.mean() < found.other_losses.mean() and found.auc_low > 0.5


def test_a_language_models_training_documents_are_its_own(lm_tiny_model):
    from core.tasks.generate import LanguageModel

    members, others = privacy.lm_documents(catalog.LM_LEE)
    assert len(members) == 40 and not set(members) & set(others)  # the fixture trained on 40 articles
    lm = LanguageModel(catalog.LM_LEE)
    found = privacy.attack(privacy.lm_losses(lm, members), privacy.lm_losses(lm, others))
    assert found.member_losses.mean() < found.other_losses.mean()


LABELLED = [  # (text, the personal data in it)
    ("Mail zhang.san@example.com today", ["zhang.san@example.com"]),
    ("手机13812345678，谢谢", ["13812345678"]),
    ("call +86 138 1234 5678 now", ["+86 138 1234 5678"]),
    ("座机 010-12345678。", ["010-12345678"]),
    ("US: +1 (415) 555-2671 or 415-555-2671.", ["+1 (415) 555-2671", "415-555-2671"]),
    ("身份证号11010519491231002X。", ["11010519491231002X"]),
    ("see https://example.com/a?b=1，或 www.example.cn", ["https://example.com/a?b=1", "www.example.cn"]),
    ("(see https://example.com/a), then", ["https://example.com/a"]),  # sentence punctuation stays outside
    ("log in at https://bob@example.com/x today", ["https://bob@example.com/x"]),  # the address is part of the URL
    ("Date 2024-01-01, price 123456, version 1.2.3", []),
    ("a wrong check digit: 110105194912310021", []),
    ("an order number 20240101123456789012", []),
    ("ten digits 1381234567 are no mobile", []),
    ("London +44 20 7946 0958, Berlin +49 30 1234567.", ["+44 20 7946 0958", "+49 30 1234567"]),
    ("Paris +33 1 42 68 53 00；北京 +86 10 6552 9988", ["+33 1 42 68 53 00", "+86 10 6552 9988"]),
    ("+493012345678 or +1 (415) 555-2671", ["+493012345678", "+1 (415) 555-2671"]),
    ("scores +3 5 7 and +12 34, a sum +1234567890123456789", []),  # too few digits; more than E.164's 15
    ("Call +44 20 7946 0958 2024 edition", ["+44 20 7946 0958"]),  # a number after it is cut off, not the phone
]


@pytest.mark.parametrize(("text", "expected"), LABELLED)
def test_the_personal_data_detector_on_a_labelled_list(text, expected):
    assert [item.text for item in privacy.find_pii(text)] == expected


def test_the_pages_code_masks_exactly_as_the_page_does():
    import contextlib
    import io

    from core.training import privacy_code

    for text, _expected in LABELLED:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(privacy_code.personal_data(text), {})  # noqa: S102 - our own snippet
        assert printed.getvalue() == privacy.mask(text) + "\n", text


def test_adversarial_text_costs_linear_time_on_the_shared_server():
    import time

    for text in ("a" * 199_999, "." * 199_999, "1" * 199_999, "a@" + "a" * 199_990, "www." * 49_999,
                 "+1 2" * 49_999, "+12 (3" * 33_333, "+" + "1 " * 99_999):
        started = time.process_time()  # CPU time of this process: another process's load does not count
        privacy.find_pii(text)
        assert time.process_time() - started < 1.0, text[:10]


def test_masking_replaces_each_item_by_its_kind_and_long_text_is_refused():
    assert privacy.mask("write a@b.cn or 13812345678") == "write [e-mail] or [phone]"
    assert privacy.valid_chinese_id("11010519491231002X") and not privacy.valid_chinese_id("11010519491231002Y")
    with pytest.raises(CoreError):
        privacy.find_pii("x" * (privacy.MAX_PII_CHARS + 1))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_attacks_a_model_and_masks_personal_data(tiny_model, clear_streamlit_caches, lang):
    at = open_page("pages/privacy.py", lang=lang)
    at.selectbox(key="privacy-model").set_value("sentiment-tiny").run()
    assert not any("遍" in w.value or "of a pass" in w.value for w in at.warning)  # 6 whole passes: no warning
    at.button(key="privacy-run").click().run()
    assert not at.exception
    assert float(at.metric[0].value) > 0.5
    assert "[e-mail]" in at.text[0].value and "[Chinese ID]" in at.text[0].value
    legend = {"en": "[e-mail], [phone], [Chinese ID], [URL]",
              "zh": "[e-mail] 电子邮件，[phone] 电话，[Chinese ID] 身份证号，[URL] 网址"}[lang]
    assert any(legend in c.value for c in at.caption), [c.value for c in at.caption]  # the tags read in either language


def test_a_model_trained_for_part_of_a_pass_is_flagged_its_members_partly_unseen(fresh_cache, clear_streamlit_caches):
    """Half a pass over the training split: half of the 'members' the attack reads were never seen, which pulls its
    AUC towards 0.5 — the page says so rather than let it read as a model that leaks little."""
    from core.training import jobs

    jobs.run_here(TINY_KEY, {"epochs": 0.5})
    at = open_page("pages/privacy.py")
    at.selectbox(key="privacy-model").set_value(TINY_KEY).run()
    assert any("0.5 of a pass" in w.value and "about 50 %" in w.value for w in at.warning), [w.value for w in at.warning]


def test_an_upload_with_personal_data_is_counted_and_a_masked_copy_trains_instead(fresh_cache):
    from core.data import uploads

    rows = ["text,label"] + [f"review {i} by user{i}@example.com call 1381234{i:04d},{'pos' if i % 2 else 'neg'}"
                             for i in range(30)]  # fmt: skip
    stored = uploads.store("\n".join(rows).encode("utf-8"))
    assert privacy.pii_counts(uploads.column(stored.data_id, "text")) == {"e-mail": 30, "phone": 30}
    masked = uploads.rewritten(stored.data_id, "text", privacy.mask_all)
    assert masked.data_id != stored.data_id and masked.columns == stored.columns
    examples, labels = uploads.load(masked.data_id, "text", "label")
    assert examples[0].text == "review 0 by [e-mail] call [phone]" and labels == ("neg", "pos")
    assert privacy.pii_counts([e.text for e in examples]) == {}
    original, _ = uploads.load(stored.data_id, "text", "label")
    assert "@example.com" in original[0].text  # the student's own file is left as it was


def test_a_masked_copy_may_outgrow_the_upload_limit(fresh_cache):
    """a@b.cc becomes [e-mail]: a file near the 5 MB limit gets a longer masked copy, which must still be stored
    (refused, the page used to fall back to training on the unmasked file)."""
    from core.data import uploads
    from core.errors import DataError

    raw = ("text,label\n" + "\n".join(f"{i} a@b.cc {'x' * 85},{i % 2}" for i in range(48_000)) + "\n").encode()
    assert 4.5e6 < len(raw) <= uploads.MAX_BYTES
    stored = uploads.store(raw)
    longer = uploads.rewritten(stored.data_id, "text", lambda text: text.replace("a@b.cc", "[e-mail]") + " [phone] [URL]")
    assert uploads.load(longer.data_id, "text", "label")[0][0].text.startswith("0 [e-mail] x")
    assert (fresh_cache / "datasets" / f"{longer.data_id}.csv").stat().st_size > uploads.MAX_BYTES
    with pytest.raises(DataError, match="limit is 10 MB"):  # twice the limit, no more
        uploads.rewritten(stored.data_id, "text", lambda text: text * 3)


def test_the_canary_is_planted_in_training_only_and_its_exposure_is_measured(fresh_cache, clear_streamlit_caches):
    from core.data.corpora import CANARY_COPIES, canary_sentence, lm_corpus
    from core.training import jobs

    corpus = lm_corpus("lee-canary")
    planted = corpus.training_documents(40)
    assert planted.count(canary_sentence()) == CANARY_COPIES and len(planted) == 40 + CANARY_COPIES
    assert canary_sentence() not in corpus.split()[1] and canary_sentence() not in lm_corpus("lee").training_documents()
    jobs.run_here("lm-lee-canary", {"examples": 40, "epochs": 10, "learning_rate": 3e-3, "max_length": 64,
                                    "scratch": {"n_embd": 64, "n_layer": 2, "n_head": 2, "vocab_size": 1000}})  # fmt: skip
    at = open_page("pages/privacy.py")
    at.button(key="privacy-canary-run").click().run(timeout=240)
    assert not at.exception
    table = next(frame.value for frame in at.dataframe if "exposure (bits)" in frame.value.columns)
    row = table[table["model"] == "lm-lee-canary"].iloc[0]
    assert row["exposure (bits)"] > 5  # ten copies in 40 articles, ten epochs: the secret ranks among the top 3 %
    assert row["rank of the secret"].endswith("/ 6,561")


def test_the_page_attacks_two_models_side_by_side(tiny_model, lm_tiny_model, clear_streamlit_caches):
    import json

    at = open_page("pages/privacy.py")
    at.selectbox(key="privacy-model").set_value("sentiment-tiny").run()
    at.button(key="privacy-run").click().run()
    at.multiselect(key="privacy-compare").set_value(["lm-lee-gpt"]).run()
    at.button(key="privacy-compare-run").click().run()
    assert not at.exception and not at.error
    table = next(frame.value for frame in at.dataframe if "attack AUC [95 % CI]" in frame.value.columns)
    assert len(table) == 2 and all(" [" in cell for cell in table["attack AUC [95 % CI]"])
    curves = json.loads(next(c for c in at.get("plotly_chart") if "model by model" in c.proto.spec).proto.spec)
    assert len(curves["data"]) == 3  # guessing, and one curve per model


@pytest.mark.parametrize("key", ["sentiment-tiny", "lm-lee-gpt"])
def test_the_attacks_code_recomputes_the_pages_auc_with_transformers_and_scikit_learn(
        tiny_model, lm_tiny_model, clear_streamlit_caches, key):  # fmt: skip
    import contextlib
    import io
    import re

    at = open_page("pages/privacy.py")
    at.selectbox(key="privacy-model").set_value(key).run()
    at.button(key="privacy-run").click().run()
    assert not at.exception and not at.error
    snippet = next(c.value for c in at.code if "roc_auc_score" in c.value)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(snippet, {})  # noqa: S102 - our own snippet
    auc = float(re.search(r"AUC ([0-9.]+) on", printed.getvalue()).group(1))
    # the language model's losses are the page's to the last digit; the classifier's page answers came from the
    # serving runtime (ONNX int8 where it agrees), the code's from PyTorch fp32
    assert auc == pytest.approx(float(at.metric[0].value), abs=1e-3 if key == "lm-lee-gpt" else 0.03)
