"""What a supervisor sees of a breached case in the Temporal Web UI, checked in a real headless Chromium.

The dev server (`dev_env`) serves Web UI 2.54. A case is started as an emergency reported 70 minutes ago:
its 1-hour acknowledgement clock breaches at once on the real clock, and the next SLA timer (escalation
to level 2) is pending with its summary. With the worker still running (the "Current Details" come from a
live query), the case's pages are opened and checked for:

- the User Metadata tab: the static summary, the static details and the current details (clock table
  with TERLEWATI) -- each rendered as Markdown inside its own iframe, in Bahasa Indonesia (the default);
- the Timeline: named timers ("SLA: ...") and named local activities ("Catat pengaduan dan tugaskan: ...");
- no personal data (names, NIK, phone) anywhere the project writes text for the UI.

Screenshots go to tests/artifacts/ (git-ignored). The UI long-polls, so the test waits for text, never
for network idle. It needs Debian's chromium at /usr/bin/chromium (`apt-get install -y chromium`) and
skips without it; it never runs `playwright install`.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import unquote

import pytest
from playwright.async_api import Browser, async_playwright, expect
from temporalio.service import RPCError

from activities.store import Store as Database
from casework import cases
from casework.intake import Submitted, submit
from referral import presentation
from referral.actions import Step
from referral.intake import ComplaintIntake
from referral.models import CaseView
from tests.conftest import make_intake, random_nik, running_worker, task_queue

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
UI_PORT = int(os.environ.get("TEST_UI_PORT", "8299"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
WAIT_MS = 20_000  # per expectation; the UI usually shows the text within a second or two

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"Debian's chromium is not installed at {CHROMIUM} (apt-get install -y chromium); "
           "this test drives the Temporal Web UI in a real headless browser",
)

# Distinctive fake personal data: none of it may reach a summary, a detail, a timer or a search attribute.
SUBJECT_NAME = "Zzyzx Testperson"
LOADED_INPUT = re.compile(r"complaint_id|[A-Za-z0-9+/=]{64,}")
SUBJECT_NIK = random_nik()  # its own person: a fixed NIK would join an open case of an earlier test
REPORTER_NAME = "Qwvx Pelaporsatu"
REPORTER_PHONE = "081299887766"
PERSONAL = (SUBJECT_NAME, SUBJECT_NIK, REPORTER_NAME, REPORTER_PHONE)

# The Input/Result panel on the Timeline and Event History tabs shows the raw workflow input.
INPUT_PANEL = '[data-testid="input-and-result"]'

# Page text without the Input/Result panel, plus the outer HTML (attributes such as iframe `src` hold
# the Markdown of the summaries) -- `exclude` selects what to cut before reading.
_TEXT_JS = """(exclude) => {
  const body = document.body.cloneNode(true);
  if (exclude) body.querySelectorAll(exclude).forEach((el) => el.remove());
  return body.textContent + "\\n" + body.outerHTML;
}"""


@dataclass
class BreachedCase:
    submitted: Submitted
    intake: ComplaintIntake
    view: CaseView
    browser: Browser

    @property
    def url(self) -> str:
        return f"http://localhost:{UI_PORT}/namespaces/default/workflows/{self.submitted.workflow_id}"


@pytest.fixture(scope="module")
async def breached_case(dev_env, db: Database) -> AsyncIterator[BreachedCase]:
    client = dev_env.client
    queue = task_queue()
    intake = make_intake(
        urgency="emergency",
        reported_at=(datetime.now(timezone.utc) - timedelta(minutes=70)).isoformat(),
        reporter={"name": REPORTER_NAME, "phone": REPORTER_PHONE, "relation": "tetangga"},
        subject={"name": SUBJECT_NAME, "nik": SUBJECT_NIK, "sex": "male", "address": "Banjar Dinas Kelod"},
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with running_worker(client, db, queue):
        submitted = await submit(client, intake, queue)
        view = await _wait_for_breach(client, submitted.complaint_id)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                yield BreachedCase(submitted=submitted, intake=intake, view=view, browser=browser)
            finally:
                await browser.close()


async def _wait_for_breach(client, complaint_id: str, within: float = 20.0) -> CaseView:
    deadline = time.monotonic() + within
    while True:
        try:
            view = await cases.state(client, complaint_id)
        except RPCError:  # the first workflow task may not have run yet
            if time.monotonic() > deadline:
                raise
        else:
            if view.escalation_level >= 1:
                return view
        if time.monotonic() > deadline:
            pytest.fail(f"case {complaint_id} did not breach its acknowledgement clock within {within}s")
        await asyncio.sleep(0.2)


async def _new_page(case: BreachedCase, height: int = 1000):
    # The UI scrolls inside its main pane, so a "full page" screenshot is as tall as the viewport.
    context = await case.browser.new_context(viewport={"width": 1400, "height": height})
    return context, await context.new_page()


async def _open_tab(page, case: BreachedCase, tab_testid: str) -> None:
    """Open the case (the UI redirects to /<run id>/timeline) unless already on it; click one of its tabs."""
    if case.submitted.workflow_id not in page.url:
        await page.goto(case.url, wait_until="domcontentloaded")
    tab = page.get_by_test_id(tab_testid)
    await tab.wait_for(state="visible", timeout=WAIT_MS)
    await tab.click()
    await expect(tab).to_have_attribute("aria-selected", "true", timeout=WAIT_MS)


async def _all_text(page, exclude: str | None = None) -> str:
    """The page's text and markup (minus `exclude`) and the text of every iframe, URL-decoded."""
    parts = [await page.evaluate(_TEXT_JS, exclude)]
    for frame in page.frames[1:]:
        parts.append(await frame.evaluate("document.body ? document.body.textContent : ''"))
    return unquote("\n".join(parts))


def _personal_data_in(text: str) -> list[str]:
    return [item for item in PERSONAL if item in text]


async def test_user_metadata_tab_shows_summary_details_and_current_details(breached_case: BreachedCase) -> None:
    case = breached_case
    context, page = await _new_page(case)
    try:
        await _open_tab(page, case, "user-metadata-tab")
        await expect(page).to_have_url(re.compile(r"/user-metadata$"), timeout=WAIT_MS)
        summary = page.frame_locator("#user-metadata-summary").locator("body")
        details = page.frame_locator("#user-metadata-details").locator("body")
        current = page.frame_locator("#user-metadata-current-details").locator("body")

        expected_summary = presentation.static_summary(case.intake)
        assert expected_summary.startswith("Penyandang Disabilitas · Desa Bengkala, Kec. Kubutambahan")
        await expect(summary).to_contain_text(expected_summary, timeout=WAIT_MS)

        await expect(details).to_contain_text(f"Pengaduan {case.submitted.complaint_id}", timeout=WAIT_MS)
        await expect(details).to_contain_text("Desa Bengkala (51.08.08.2010)")
        await expect(details).to_contain_text("Urgensi: Darurat")

        # Current details: answered by the running worker through the metadata query.
        await expect(current).to_contain_text("TERLEWATI", timeout=WAIT_MS)
        await expect(current).to_contain_text("Tingkat eskalasi: 1")
        await expect(current).to_contain_text("SLA terlewati")
        await expect(current).to_contain_text(f"Pendamping: {case.view.pendamping_id}")
        await expect(current).to_contain_text("Konfirmasi")
        await expect(current).to_contain_text("Penyelesaian sejak laporan")  # the overall clock too
        # The clocks are a Markdown list, rendered as list items, not shown as dashes.
        await expect(page.frame_locator("#user-metadata-current-details").locator("li").first).to_be_visible()

        await page.screenshot(path=str(ARTIFACTS / "ui-case-summary.png"), full_page=True)
        assert _personal_data_in(await _all_text(page)) == []
    finally:
        await context.close()


async def test_timeline_shows_named_timers_and_the_history_names_each_step(breached_case: BreachedCase) -> None:
    """The Timeline names the pending SLA timer; the Event History names each recorded step (the steps are local
    activities, which UI 2.54 lists by type on the Timeline and with their summary in the Event History)."""
    case = breached_case
    context, page = await _new_page(case, height=1350)
    try:
        await _open_tab(page, case, "timeline-tab")
        await expect(page).to_have_url(re.compile(r"/timeline$"), timeout=WAIT_MS)
        # The pending timer carries the next SLA milestone, in WITA.
        timer = page.get_by_text(re.compile(r"^SLA: \w+ konfirmasi .* WITA$")).first
        await expect(timer).to_be_visible(timeout=WAIT_MS)
        assert re.search(r"^SLA: eskalasi konfirmasi ke level 2 (Sen|Sel|Rab|Kam|Jum|Sab|Min), \d{1,2} \w{3} \d{4}"
                         r" \d{2}\.\d{2} WITA$", await timer.inner_text())
        await page.screenshot(path=str(ARTIFACTS / "ui-case-timeline.png"), full_page=True)
        await _open_tab(page, case, "history-tab")
        for summary in (presentation.step_summary("intake", category="Penyandang Disabilitas", village="Desa Bengkala"),
                        presentation.step_summary("setup"), presentation.record_summary(Step("assigned", "system", {}))):
            await expect(page.get_by_text(summary).first).to_be_attached(timeout=WAIT_MS)
        await expect(page.get_by_text(re.compile(r"SLA terlewati: konfirmasi -> head:")).first).to_be_attached()
        await page.screenshot(path=str(ARTIFACTS / "ui-case-history.png"), full_page=True)
    finally:
        await context.close()


async def test_no_personal_data_outside_the_input_panel(breached_case: BreachedCase) -> None:
    """Summaries, details, timers, activity summaries, event rows and search attributes hold no personal data."""
    case = breached_case
    context, page = await _new_page(case)
    try:
        checked = {}
        for tab, ready in (
            ("timeline-tab", page.get_by_text(re.compile(r"^SLA: \w+ konfirmasi ")).first),
            ("history-tab", page.get_by_text(re.compile(r"^SLA: \w+ konfirmasi ")).first),
            ("search-attributes-tab", page.get_by_text("EscalationLevel").first),
            ("user-metadata-tab", page.frame_locator("#user-metadata-current-details").get_by_text(re.compile(r"TERLEWATI \(tenggat")).first),
        ):
            await _open_tab(page, case, tab)
            await expect(ready).to_be_visible(timeout=WAIT_MS)
            checked[tab] = _personal_data_in(await _all_text(page, exclude=INPUT_PANEL))
        assert checked == {tab: [] for tab in checked}
    finally:
        await context.close()


async def test_no_personal_data_anywhere_on_the_case_pages(breached_case: BreachedCase) -> None:
    case = breached_case
    context, page = await _new_page(case)
    try:
        found = {}
        for tab in ("timeline-tab", "history-tab"):
            await _open_tab(page, case, tab)
            # Loaded: without the codec server the UI shows the input as the codec's ciphertext.
            await expect(page.locator(INPUT_PANEL)).to_contain_text(LOADED_INPUT, timeout=WAIT_MS)
            found[tab] = _personal_data_in(await _all_text(page))
        assert found == {tab: [] for tab in found}
    finally:
        await context.close()
