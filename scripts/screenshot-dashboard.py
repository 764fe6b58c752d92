"""Screenshot the managers' dashboard of a running vcsmatch for the README.

    vcsmatch serve --demo --port 8016 &
    vcsmatch keys create --role manager --name "README screenshot"
    .venv/bin/python scripts/screenshot-dashboard.py http://127.0.0.1:8016 KEY

Writes docs/screenshots/insights.png (headless Chromium from Debian's package, as the
browser tests use).
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "insights.png"


def main(base_url: str, manager_key: str) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
        )
        page = browser.new_page(base_url=base_url, viewport={"width": 1280, "height": 1400})
        page.goto("/sign-in")
        page.get_by_label("API key").fill(manager_key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/insights")
        page.goto("/insights?by=team")
        OUT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUT), full_page=False)
        browser.close()
    print(OUT)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
