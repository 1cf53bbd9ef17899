"""The layering rules: core never imports streamlit; Home never needs torch."""

import subprocess
import sys

from conftest import ROOT


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_core_imports_without_streamlit():
    result = _python(
        "import sys, core, core.settings, core.catalog, core.loading, core.errors, core.training.jobs,"
        " core.training.runner, core.training.store, core.tasks.sentiment, core.device, core.stats,"
        " core.viz.charts, core.data.polarity, core.train\n"
        "assert 'streamlit' not in sys.modules, 'core imported streamlit'\n"
        "print('ok')"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_home_page_does_not_import_torch():
    result = _python(
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('streamlit_app.py', default_timeout=60).run()\n"
        "assert not at.exception, at.exception\n"
        "assert at.title[0].value == 'LM Lab'\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False False"


def test_ruff_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pages_may_not_import_torch():
    """The lint rule itself: a page importing torch is reported (the page is read from standard input under a page's
    name, so no file appears in pages/ while other tests read the folder)."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--stdin-filename", "pages/_lint_probe.py", "-"],
        input="import torch\n\nprint(torch.__version__)\n",
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "TID251" in result.stdout
