"""docs/parameters.md is generated from the parameter dataclasses and must match them."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_parameter_doc_is_current():
    spec = importlib.util.spec_from_file_location("gen_param_docs", ROOT / "scripts" / "gen_param_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = mod.render()
    assert "`mppi.samples`" in text and "`lidar_beams`" in text and "`model_path`" in text
    assert (ROOT / "docs" / "parameters.md").read_text() == text, \
        "docs/parameters.md is stale: run .venv/bin/python scripts/gen_param_docs.py"
