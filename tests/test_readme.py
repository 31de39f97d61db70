"""The README's code runs as printed; each block is an example file of the docs, verbatim."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_blocks_run(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "the README has no python example"
    examples = {path.read_text(encoding="utf-8") for path in (ROOT / "examples" / "docs").glob("*.py")}
    assert all(block in examples for block in blocks), "copy the README's blocks from examples/docs/"
    outputs = []
    for k, block in enumerate(blocks):
        script = tmp_path / f"readme_{k}.py"
        script.write_text(block, encoding="utf-8")
        result = subprocess.run(  # in tmp_path: the durable-runs example records into .astrum/ there
            [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        outputs.append(result.stdout.splitlines())
    first = outputs[0]
    assert first[0] == "completed {'summary': '2 users, 3 orders'}"
    # Both loaders sleep equally long; whichever ended last released build_report.
    assert first[1] in ("load_users -> build_report", "load_orders -> build_report")
    (durable,) = [out for block, out in zip(blocks, outputs, strict=True) if "SQLiteStore" in block]
    # The resumed run reused download's stored result and ran publish again.
    assert durable == ["failed True", "completed published [1, 2, 3] ['download', 'publish', 'publish']"]
    assert (tmp_path / ".astrum" / "runs.db").exists()
