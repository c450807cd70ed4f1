"""`make bench`: run every benchmark in this folder, each in its own process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    failed = 0
    for script in sorted(HERE.glob("*_bench.py")):
        failed |= subprocess.run([sys.executable, str(script)], check=False).returncode
    sys.exit(failed)
