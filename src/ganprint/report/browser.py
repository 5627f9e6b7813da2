"""Open an HTML page in headless Chromium and check it the way a person would (issue 9 §6): the page is not blank,
every image loaded, every table has rows.

Drives Debian's ``chromium`` through its ``chromedriver`` with Selenium (the system executables: nothing is
downloaded). ``python -m ganprint.report.browser results/index.html --screenshot shot.png`` runs the check by hand.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DRIVER_NAMES = ("chromedriver",)
# Debian puts chromedriver on PATH (/usr/bin/chromedriver); some images keep it beside the browser
DRIVER_DIRS = ("/usr/lib/chromium", "/usr/lib/chromium-browser")

# every <img>: src, whether it finished, its decoded width; every <table>: its id and its body rows
_PROBE = """
const imgs = Array.from(document.images).map(i => [i.getAttribute('src') || '', i.complete, i.naturalWidth]);
const tables = Array.from(document.querySelectorAll('table')).map(t => {
  const body = t.tBodies.length ? Array.from(t.tBodies).reduce((n, b) => n + b.rows.length, 0)
                                : t.rows.length - (t.tHead ? t.tHead.rows.length : 0);
  return [t.id || t.caption?.textContent || '', body];
});
return {imgs: imgs, tables: tables, height: document.documentElement.scrollHeight,
        ready: document.readyState};
"""


def find_chromium() -> tuple[str, str] | None:
    """(browser, chromedriver) executables, or None when either is not installed. ``$CHROMIUM`` and
    ``$CHROMEDRIVER`` override the search."""
    browser = os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)
    driver = os.environ.get("CHROMEDRIVER") or next(filter(None, map(shutil.which, DRIVER_NAMES)), None)
    if driver is None:
        driver = next((f"{d}/chromedriver" for d in DRIVER_DIRS if os.access(f"{d}/chromedriver", os.X_OK)), None)
    return (browser, driver) if browser and driver else None


@dataclass
class PageCheck:
    """What :func:`check_page` saw. ``ok`` is True when ``problems`` is empty."""

    url: str
    images: list[tuple[str, bool, int]] = field(default_factory=list)  # (src, complete, naturalWidth)
    tables: list[tuple[str, int]] = field(default_factory=list)  # (id, body rows)
    screenshot_std: float = 0.0  # pixel standard deviation of the screenshot (0 = one flat colour)
    screenshot_size: tuple[int, int] = (0, 0)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _driver(width: int, height: int, timeout: float):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = find_chromium()
    if found is None:
        raise FileNotFoundError(
            "chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)"
        )
    browser, driver = found
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={width},{height}",
        "--allow-file-access-from-files",
    ):
        opts.add_argument(arg)
    d = webdriver.Chrome(options=opts, service=Service(executable_path=driver))
    d.set_page_load_timeout(timeout)
    d.set_script_timeout(timeout)
    return d


def check_page(
    page: str | Path,
    screenshot: str | Path | None = None,
    *,
    min_std: float = 8.0,
    width: int = 1280,
    height: int = 900,
    max_height: int = 12000,
    wait_for: str | None = None,
    timeout: float = 60.0,
) -> PageCheck:
    """Load ``page`` (a file path or a URL) in headless Chromium and check it.

    Problems found: the screenshot of the whole page (at most ``max_height`` px tall) has a pixel standard
    deviation ≤ ``min_std`` (blank); an ``<img>`` did not load (``naturalWidth`` 0: missing file, broken data); a
    ``<table>`` has no body row; ``wait_for`` (a CSS selector, for pages that render with JavaScript, such as
    Snakemake's report) matched nothing within ``timeout`` seconds.

    Args:
        screenshot: also save the screenshot (PNG) there.

    Raises:
        FileNotFoundError: ``page`` is a path that does not exist, or Chromium is not installed.
    """
    from PIL import Image

    url = str(page)
    if "://" not in url:
        p = Path(page).resolve()
        if not p.is_file():
            raise FileNotFoundError(f"{page}: no such page")
        url = p.as_uri()
    result = PageCheck(url=url)
    d = _driver(width, height, timeout)
    try:
        d.get(url)  # returns after the load event: every (non-lazy) image has loaded or failed
        if wait_for:
            from selenium.common.exceptions import TimeoutException
            from selenium.webdriver.common.by import By
            from selenium.webdriver.support import expected_conditions as ec
            from selenium.webdriver.support.ui import WebDriverWait

            try:
                WebDriverWait(d, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, wait_for)))
            except TimeoutException:
                result.problems.append(f"nothing matched {wait_for!r} within {timeout:g} s")
        probe = d.execute_script(_PROBE)
        result.images = [(str(s), bool(c), int(w)) for s, c, w in probe["imgs"]]
        result.tables = [(str(i), int(n)) for i, n in probe["tables"]]
        d.set_window_size(width, max(height, min(int(probe["height"]) + 40, max_height)))
        png = d.get_screenshot_as_png()
    finally:
        d.quit()
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64)
    result.screenshot_std = float(img.std())
    result.screenshot_size = (img.shape[1], img.shape[0])
    if screenshot is not None:
        Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
        Path(screenshot).write_bytes(png)
    if result.screenshot_std <= min_std:
        result.problems.append(f"the page looks blank: screenshot pixel std {result.screenshot_std:.2f} <= {min_std}")
    for src, complete, w in result.images:
        if not complete or w <= 0:
            result.problems.append(f"image did not load: {src}")
    for tid, rows in result.tables:
        if rows < 1:
            result.problems.append(f"table without rows: {tid or '(no id)'}")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ganprint.report.browser", description=__doc__.splitlines()[0])
    p.add_argument("page", help="HTML file or URL")
    p.add_argument("--screenshot", type=Path, default=None, help="save the screenshot (PNG) here")
    p.add_argument("--wait-for", default=None, help="CSS selector to wait for (JavaScript pages)")
    args = p.parse_args(argv)
    r = check_page(args.page, args.screenshot, wait_for=args.wait_for)
    print(f"{r.url}: {len(r.images)} images, {len(r.tables)} tables, screenshot std {r.screenshot_std:.1f}")
    for problem in r.problems:
        print(f"  problem: {problem}", file=sys.stderr)
    return 0 if r.ok else 1


if __name__ == "__main__":
    sys.exit(main())
