"""`make bench`: run every benchmark in this folder, each in its own process.

`ingest.py` drives the running platform, so it runs (as a `--quick` smoke run) only when the
four services answer on their ports; otherwise it is skipped with a message.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
INGEST = HERE / "ingest.py"

if __name__ == "__main__":
    failed = 0
    for script in sorted(HERE.glob("*_bench.py")):
        failed |= subprocess.run([sys.executable, str(script)], check=False).returncode
    if subprocess.run([sys.executable, str(INGEST), "--check"], check=False).returncode == 0:
        failed |= subprocess.run([sys.executable, str(INGEST), "--quick"], check=False).returncode
    else:
        print("ingest: skipped; it needs the platform running (`make run` in another terminal)")
    sys.exit(failed)
