"""The officers' worklist in a real headless Chromium, on the dev stack (dev server, worker, API).

PD-34 signs in with a token issued by the token command's function, finds the Bengkala case on
"Kasus saya", opens it (the person's name and address show, and that read is recorded in
personal_data_access), and acknowledges it from the page (the acknowledgement lands on the case's
timeline). PD-01 gets 403 on that case and its person data, in the API and in the page.

Screenshots: tests/artifacts/worklist.png and tests/artifacts/case-page.png (a phone-sized viewport).
The test waits for text, never for network idle. It needs Debian's chromium at /usr/bin/chromium and
skips without it; it never runs `playwright install`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from activities.store.access import AccessStore
from casework import cases
from casework.tokens_cli import issue
from tests.integration.test_api_stack import BENGKALA, Stack, api_stack, submitted_case

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
WAIT_MS = 20_000
SUBJECT = {"name": "Ni Luh Zzyzx Sukerti", "sex": "female", "address": "Banjar Dinas Kelodan, Desa Bengkala"}
PHONE = {"viewport": {"width": 412, "height": 915}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True,
         "locale": "id-ID"}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"Debian's chromium is not installed at {CHROMIUM} (apt-get install -y chromium); "
           "this test drives the worklist pages in a real headless browser",
)


@pytest.fixture(scope="module")
async def stack(dev_env, db) -> AsyncIterator[Stack]:
    async with api_stack(dev_env.client, db) as running:
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(scope="module")
async def case(stack: Stack) -> dict[str, Any]:
    return await submitted_case(stack, subject=SUBJECT, village_code=BENGKALA, category="penyandang_disabilitas")


async def sign_in(browser: Browser, stack: Stack, officer: str) -> Page:
    issued = await issue(AccessStore(stack.store.pool), "officer", officer, days=1, label="browser test",
                         settings=stack.settings)
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    await page.goto(f"{stack.url}/masuk", wait_until="domcontentloaded")
    await page.get_by_label("Token").fill(issued.token)
    await page.get_by_role("button", name="Masuk").click()
    await expect(page.get_by_role("heading", name="Kasus saya")).to_be_visible(timeout=WAIT_MS)
    return page


async def test_pd34_works_the_bengkala_case_from_the_worklist(browser: Browser, stack: Stack, case):
    complaint_id = case["complaint_id"]
    page = await sign_in(browser, stack, "PD-34")
    try:
        link = page.locator(f'a[href="/kasus/{complaint_id}"]')
        for _ in range(40):  # Temporal's visibility lists a new case a moment after it starts
            if await link.count():
                break
            await page.wait_for_timeout(500)
            await page.reload(wait_until="domcontentloaded")
        await expect(link).to_contain_text("Desa Bengkala, Kec. Kubutambahan", timeout=WAIT_MS)
        await expect(link).to_contain_text("Penyandang Disabilitas")
        await expect(link).to_contain_text("Ditugaskan")
        await expect(link).to_contain_text("WITA")
        await page.screenshot(path=str(ARTIFACTS / "worklist.png"), full_page=True)

        await link.click()
        await expect(page.locator(".subject-name")).to_have_text(SUBJECT["name"], timeout=WAIT_MS)
        await expect(page.locator(".subject-address")).to_have_text(SUBJECT["address"])
        await expect(page.get_by_text("Dibuka untuk: kunjungan lapangan")).to_be_visible()
        recorded = await stack.store.pool.fetch(
            "SELECT principal_id, fields, purpose FROM personal_data_access WHERE complaint_id = $1", complaint_id)
        assert [dict(r) for r in recorded] == [{"principal_id": "PD-34", "fields": ["subject", "reporter", "description"],
                                                "purpose": "kunjungan lapangan"}]

        await page.get_by_role("button", name="Konfirmasi penerimaan kasus").click()
        await expect(page.get_by_text("Tindakan “Konfirmasi penerimaan kasus” tercatat.")).to_be_visible(
            timeout=WAIT_MS)
        await expect(page.locator("ol.timeline li.event-acknowledged")).to_contain_text("oleh PD-34")
        await expect(page.locator(".lead .status")).to_have_text("Dikonfirmasi")
        await page.screenshot(path=str(ARTIFACTS / "case-page.png"), full_page=True)
    finally:
        await page.context.close()

    view = await cases.state(stack.client, complaint_id)
    acknowledged = [e for e in view.timeline if e.event == "acknowledged"]
    assert [(e.actor, view.status.value) for e in acknowledged] == [("PD-34", "acknowledged")]


async def test_pd01_is_refused_the_case_and_its_person_in_the_page_and_the_api(browser: Browser, stack: Stack, case):
    complaint_id = case["complaint_id"]
    page = await sign_in(browser, stack, "PD-01")
    try:
        await expect(page.locator(f'a[href="/kasus/{complaint_id}"]')).to_have_count(0)
        response = await page.goto(f"{stack.url}/kasus/{complaint_id}", wait_until="domcontentloaded")
        assert response is not None and response.status == 403
        await expect(page.get_by_role("heading", name="Akses ditolak")).to_be_visible(timeout=WAIT_MS)
        await expect(page.get_by_text("ditugaskan kepada pendamping PD-34, bukan PD-01")).to_be_visible()
        await expect(page.get_by_text(SUBJECT["name"])).to_have_count(0)
    finally:
        await page.context.close()
    async with stack.http() as http:
        headers = await stack.officer("PD-01")
        state = await http.get(f"/v1/complaints/{complaint_id}", headers=headers)
        person = await http.get(f"/v1/complaints/{complaint_id}/person", params={"purpose": "kunjungan lapangan"},
                                headers=headers)
    assert (state.status_code, person.status_code) == (403, 403)
    assert SUBJECT["name"] not in person.text
