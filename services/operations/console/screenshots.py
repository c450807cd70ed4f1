"""Screenshots of the console's main pages for the README, from a running operations service.

    python -m services.operations.console.screenshots \
        [--url http://127.0.0.1:8105] [--token dev-operations-token] [--out docs/screenshots]

Drives Debian's `chromium` (installed by `make browser`) with Playwright; the browser test
(`tests/e2e/test_console.py`) uses the same functions, and writes the screenshots itself when
`CONSOLE_SCREENSHOTS=<dir>` is set, after feeding the pages data from a real run.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Playwright is a development dependency: imported only when used.
    from playwright.async_api import Browser, Page, Playwright

PAGES: Sequence[tuple[str, str, str]] = (
    # (file name, route, a selector that shows the page has its data)
    ("streams", "#/streams", "#lag-table tbody tr"),
    ("dead-letters", "#/dlq", "#dlq-table"),
    ("caseloads", "#/caseloads", "#journey-table"),
    ("kpis", "#/kpis", "#kpi-table"),
    ("targets", "#/targets", "#rag-board .column"),
    ("fairness", "#/fairness", "#fairness-table"),
)
CHROMIUM_NAMES = ("chromium", "chromium-browser")


def find_chromium() -> str | None:
    """The system's chromium (Debian's package); Playwright's own download is not used."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


async def launch(playwright: Playwright, executable: str) -> Browser:
    # --no-sandbox: the tests and containers run as root, where chromium's sandbox cannot start.
    return await playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])


async def sign_in(page: Page, base_url: str, token: str) -> None:
    await page.goto(base_url + "/")
    await page.fill("#token", token)
    await page.click("#sign-in-form button[type=submit]")
    await page.wait_for_selector("#nav:not([hidden])")


async def capture(page: Page, base_url: str, out_dir: Path, *, extra: Sequence[str] = ()) -> None:
    """Each main page, once its data is in, as `<out_dir>/<name>.png`; `extra` names routes
    (e.g. `#/timeline/CL-…`) saved as `timeline.png` and so on by their first segment."""
    out_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before any page
    for name, route, ready in PAGES:
        await page.goto(f"{base_url}/{route}")
        await page.wait_for_selector(ready)
        await page.wait_for_timeout(300)  # charts laid out
        await page.screenshot(path=str(out_dir / f"{name}.png"), full_page=True)
    for route in extra:
        name = route.strip("#/").split("/")[0]
        await page.goto(f"{base_url}/{route}")
        await page.wait_for_timeout(800)
        await page.screenshot(path=str(out_dir / f"{name}.png"), full_page=True)


async def main(url: str, token: str, out: Path) -> None:
    from playwright.async_api import async_playwright

    executable = find_chromium()
    if executable is None:
        raise SystemExit("chromium is not installed: run `make browser`")
    async with async_playwright() as p:
        browser = await launch(p, executable)
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await sign_in(page, url, token)
        await capture(page, url, out)
        await browser.close()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8105")
    parser.add_argument("--token", default="dev-operations-token")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    asyncio.run(main(args.url.rstrip("/"), args.token, args.out))
