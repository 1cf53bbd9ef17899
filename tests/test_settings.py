import os
import socket
import threading
import time

import pytest

from core import settings


def test_forced_offline_sets_hf_variables(monkeypatch):
    monkeypatch.setenv("LMLAB_OFFLINE", "1")
    for name in settings.HF_OFFLINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    mode = settings.decide_mode(refresh=True)
    assert not mode.online and "LMLAB_OFFLINE" in mode.reason
    assert all(os.environ[name] == "1" for name in settings.HF_OFFLINE_VARIABLES)


def test_forced_online(monkeypatch):
    monkeypatch.setenv("LMLAB_OFFLINE", "0")
    assert settings.decide_mode(refresh=True).online
    monkeypatch.setenv("LMLAB_OFFLINE", "1")
    settings.decide_mode(refresh=True)


@pytest.mark.timed
def test_hanging_network_decides_offline_within_the_timeout(monkeypatch):
    """A DNS lookup that hangs (as on a closed network) must not hold the app up."""
    monkeypatch.delenv("LMLAB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def hang(*args, **kwargs):
        time.sleep(3)
        raise OSError("name resolution timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    started = time.perf_counter()
    mode = settings.decide_mode(timeout=0.5, refresh=True)
    elapsed = time.perf_counter() - started
    assert not mode.online
    assert elapsed < 1.5
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    monkeypatch.setenv("LMLAB_OFFLINE", "1")
    settings.decide_mode(refresh=True)


def test_probe_against_local_listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = threading.Thread(target=lambda: server.accept()[0].close(), daemon=True)
    accepted.start()
    try:
        assert settings._probe("127.0.0.1", port, 1.0)
        accepted.join(5)  # no thread may still sit in accept(): that keeps the socket listening after close()
    finally:
        server.close()
    assert not settings._probe("127.0.0.1", port, 1.0)  # closed now: refused at once


def test_limits_from_environment(monkeypatch):
    monkeypatch.setenv("LMLAB_MAX_CHARS", "123")
    monkeypatch.setenv("LMLAB_MAX_JOBS", "not-a-number")
    limits = settings.limits()
    assert limits.max_chars == 123
    assert limits.max_concurrent_jobs == settings.Limits.max_concurrent_jobs


def test_cache_home_override(tmp_path, monkeypatch):
    monkeypatch.setenv("LMLAB_CACHE_HOME", str(tmp_path / "somewhere"))
    assert settings.cache_home() == (tmp_path / "somewhere").resolve()
    assert settings.models_dir().is_dir()


@pytest.mark.parametrize("value, expected", [("0", False), ("off", False), ("1", True), ("", True)])
def test_autotrain_switch(monkeypatch, value, expected):
    monkeypatch.setenv("LMLAB_AUTOTRAIN", value)
    assert settings.autotrain() is expected


def test_inference_slots_follow_the_cores_one_pass_per_core(monkeypatch):
    """A 2-core laptop keeps 2 slots; a 16-core lab server gets 16, each pass on one thread; capped, overridable."""
    from core import settings

    monkeypatch.delenv("LMLAB_MAX_INFERENCES", raising=False)
    monkeypatch.delenv("LMLAB_SERVING_THREADS", raising=False)
    for cores, slots in ((1, 1), (2, 2), (16, 16), (64, settings.MAX_DEFAULT_INFERENCES)):
        monkeypatch.setattr(settings, "cores", lambda cores=cores: cores)
        assert settings.limits().max_concurrent_inferences == slots
    monkeypatch.setattr(settings, "cores", lambda: 16)
    monkeypatch.setenv("LMLAB_SERVING_THREADS", "2")  # two threads a pass: half as many passes at once
    assert settings.limits().max_concurrent_inferences == 8
    monkeypatch.setenv("LMLAB_MAX_INFERENCES", "3")
    assert settings.limits().max_concurrent_inferences == 3


@pytest.fixture
def python_switch_interval():
    import sys

    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_server_hands_the_gil_round_every_half_millisecond_unless_told(monkeypatch, python_switch_interval):
    import sys

    monkeypatch.delenv("LMLAB_SWITCH_INTERVAL_MS", raising=False)
    assert settings.serve_switch_interval() == settings.SWITCH_INTERVAL_MS == 0.5
    assert sys.getswitchinterval() == pytest.approx(0.0005)
    for wanted, expected in (("5", 5.0), ("0.2", 0.2), ("0", 0.05), ("1e9", 100.0), ("fast", 0.5), ("nan", 0.5)):
        monkeypatch.setenv("LMLAB_SWITCH_INTERVAL_MS", wanted)
        assert settings.serve_switch_interval() == expected, wanted
        assert sys.getswitchinterval() == pytest.approx(expected / 1000)


@pytest.mark.timed
def test_a_generation_beside_busy_python_threads_waits_less_for_the_gil_at_the_server_s_interval(
        lm_tiny_model, python_switch_interval):  # fmt: skip
    """Every ONNX Runtime pass lets go of the GIL; beside threads running Python, taking it back waited up to
    Python's 5 ms a token."""
    import sys

    from core import catalog
    from core.tasks.generate import LanguageModel

    from conftest import beside_busy_python

    model = LanguageModel(catalog.LM_LEE)
    settings_ = {"max_new_tokens": 40, "temperature": 0.0, "seed": 0}
    made = model.generate("The government", **settings_)  # exported and opened
    assert made.runtime == "ONNX Runtime fp32" and made.steps

    def forty_passes() -> int:  # the tiny model may write its end token early (how early depends on its training run)
        return sum(len(model.generate("The government", **settings_).steps) for _ in range(-(-40 // len(made.steps))))

    times = {}
    for milliseconds in (5.0, 0.5):
        sys.setswitchinterval(milliseconds / 1000)
        passes, times[milliseconds] = beside_busy_python(forty_passes)
        assert passes >= 40
    assert times[0.5] < times[5.0] / 2, (times, len(made.steps))
