"""What the browser tests share: Debian's headless Chromium, how it is launched, and the helpers
that put a hostile channel name into the real pipeline and count it as text in the page."""

from __future__ import annotations

import os
import shutil

import pytest

#: Debian's Chromium (``apt-get install chromium``), driven by Playwright.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: Counts the page's text nodes that contain a string (a hostile name must be text, not markup).
COUNT_TEXT_NODES = """name => {
    const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    let n = 0;
    while (w.nextNode()) { if (w.currentNode.nodeValue.includes(name)) n++; }
    return n;
}"""


def chromium_or_skip() -> str:
    """The Chromium executable; skips where there is none, fails under CI (which must run it)."""
    found = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if found:
        return found
    reason = (
        f"no headless Chromium at {CHROMIUM} (install Debian's chromium: apt-get install chromium)"
    )
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must run the browser test")
    pytest.skip(reason)


def rename_channel(path, old: str, new: str) -> None:
    """Rename a channel in a Parquet table in place (``old`` must be among its channels)."""
    import pandas as pd

    df = pd.read_parquet(path)
    assert old in set(df["channel"]), f"{old} not among the simulated channels"
    df["channel"] = df["channel"].astype(str).replace({old: new})
    df.to_parquet(path, index=False)
