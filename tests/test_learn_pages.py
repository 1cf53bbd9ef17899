"""The Learn pages in AppTest: each renders, reacts to its widgets, and shows its verification."""

import pytest
from streamlit.testing.v1 import AppTest

from conftest import open_page

pytestmark = pytest.mark.usefixtures("clear_streamlit_caches")


def _charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def _metric(at: AppTest, starts: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(starts))


def test_self_attentionopen_page():
    at = open_page("pages/self_attention.py")
    assert _charts(at) >= 8
    assert float(_metric(at, "Max |ours − torch")) < 1e-5
    at.toggle(key="attn-causal").set_value(True).run()
    at.slider(key="attn-layer").set_value(3).run()
    at.slider(key="attn-head").set_value(7).run()
    assert not at.exception and float(_metric(at, "Max |ours − torch")) < 1e-5
    at.segmented_control(key="attn-mode").set_value("A toy example").run()
    at.text_input(key="attn-words").input("dogs chase cats").run()
    at.select_slider(key="attn-dk").set_value(2).run()
    assert not at.exception
    at.text_input(key="attn-words").input("   ").run()
    assert any("Please enter some text" in e.value for e in at.error)


def test_multi_headopen_page():
    at = open_page("pages/multi_head.py")
    assert float(_metric(at, "Max |ours − Hugging Face|, attention probabilities")) <= 1e-5
    assert float(_metric(at, "Max |ours − Hugging Face|, attention block output")) <= 1e-5
    table = at.dataframe[0].value
    assert len(table) == 12 and "entropy (nats)" in table.columns
    import json

    formats = {name: config.get("type_config", {}).get("format") for name, config in
               json.loads(at.dataframe[0].proto.columns).items()}  # fmt: skip
    floats = [name for name, kind in table.dtypes.items() if kind.kind == "f"]
    assert floats and all(formats.get(name) == "%.3f" for name in floats)  # 0.970 beside 1.078, not 0.97
    at.slider(key="mha-layer").set_value(5).run()
    at.slider(key="mha-head").set_value(11).run()
    at.selectbox(key="mha-stat").set_value("share to [CLS]").run()
    assert not at.exception
    verification = at.dataframe[-1].value
    assert verification["within 1e-5"].all()


def test_positionalopen_page():
    at = open_page("pages/positional_encoding.py")
    assert any("not the paper's formula" in w.value for w in at.warning)
    assert float(_metric(at, "Paper, with the rotation")) < 1e-6
    assert float(_metric(at, "Article variant")) > 0.01
    at.select_slider(key="pe-dmodel").set_value(128).run()
    at.slider(key="pe-length").set_value(200).run()
    at.slider(key="pe-shift").set_value(10).run()
    at.slider(key="pe-pair").set_value(5).run()
    assert not at.exception
    assert float(_metric(at, "Paper, best single matrix")) < 1e-6
    assert float(_metric(at, "Article variant, best single matrix")) > 0.1
    assert float(_metric(at, "Largest spread")) < 1e-9
    assert _charts(at) >= 7


def test_encoder_decoderopen_page():
    at = open_page("pages/encoder_decoder.py")
    assert _charts(at) == 6
    trace = at.dataframe[0].value
    assert "cross-attention weights" in set(trace["step"])
    at.slider(key="ed-pad").set_value(0).run()
    at.select_slider(key="ed-dmodel").set_value(32).run()
    at.select_slider(key="ed-heads").set_value(4).run()
    assert not at.exception
    assert at.dataframe[-1].value["within 1e-5"].all()
    at.text_input(key="ed-source").input(" ".join(["w"] * 30)).run()
    assert any("24 tokens" in e.value for e in at.error)
