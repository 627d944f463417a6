"""Fixtures of the browser tests: one Debian chromium (Playwright) per module."""

from __future__ import annotations

import os

import pytest

from tests.support.browser import CHROMIUM, LAUNCH_ARGS


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian chromium is missing: `make test` installs it with apt")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()
