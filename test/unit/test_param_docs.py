"""docs/parameters.md is generated from the parameter dataclasses and must match them."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_parameter_doc_is_current():
    text = (ROOT / "docs" / "parameters.md").read_text()
    assert "`mppi.samples`" in text and "`lidar_beams`" in text and "`model_path`" in text
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_param_docs.py"), "--check"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, \
        f"docs/parameters.md is stale: run .venv/bin/python scripts/gen_param_docs.py\n{r.stderr[-2000:]}"
