"""The Web UI links a case to its referrals (issue 12), checked in headless Chromium on the dev server.

A subject without a NIK gets a Disdukcapil referral at once: a child workflow `complaint-<id>-ref-1`.
The case's page lists it among its relationships; the referral's page names its parent case. No
personal data on either page (the codec keeps the input unreadable without a credential).
"""

from __future__ import annotations

from dataclasses import dataclass

from playwright.async_api import async_playwright

from casework import cases
from casework.intake import Submitted, submit
from tests.conftest import make_intake, running_worker, task_queue
from tests.integration.test_api_stack import eventually
from tests.integration.test_ui_browser import (
    CHROMIUM, CHROMIUM_ARGS, UI_PORT, WAIT_MS, _all_text, pytestmark as needs_chromium,
)

pytestmark = needs_chromium

SUBJECT_NAME = "Zzyzx Tanpanik"
SUBJECT = {"name": SUBJECT_NAME, "sex": "L", "birth_date": "1980-07-15", "address": "Banjar Dinas Kaja"}


@dataclass
class Page:
    workflow_id: str

    @property
    def url(self) -> str:
        return f"http://localhost:{UI_PORT}/namespaces/default/workflows/{self.workflow_id}"


async def _text_until(page, url: str, wanted: str, tab: str) -> str:
    """Open `url`, click `tab` and read every frame until `wanted` shows (the UI loads in parts)."""
    await page.goto(url, wait_until="domcontentloaded")
    button = page.get_by_test_id(tab)
    await button.wait_for(state="visible", timeout=WAIT_MS)
    await button.click()

    async def shown() -> str | None:
        text = await _all_text(page)
        return text if wanted in text else None

    return await eventually(shown, within=WAIT_MS / 1000, what=f"{wanted!r} on {url}")


async def test_the_case_page_links_its_referral_and_the_referral_names_its_case(dev_env, db) -> None:
    client, queue = dev_env.client, task_queue()
    async with running_worker(client, db, queue):
        submitted: Submitted = await submit(client, make_intake(subject=SUBJECT, conditions=["odgj"]), queue)
        child = f"{submitted.workflow_id}-ref-1"

        async def referred():
            view = await cases.state(client, submitted.complaint_id)
            return view if view.referrals else None

        await eventually(referred, what="the Disdukcapil referral")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                page = await (await browser.new_context(viewport={"width": 1400, "height": 1000})).new_page()
                parent_text = await _text_until(page, Page(submitted.workflow_id).url, child, "relationships-tab")
                child_text = await _text_until(page, Page(child).url, submitted.workflow_id, "relationships-tab")
            finally:
                await browser.close()
    for text in (parent_text, child_text):
        assert SUBJECT_NAME not in text
