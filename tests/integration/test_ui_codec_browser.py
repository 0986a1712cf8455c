"""The Web UI (2.54) with the codec server, in a real headless Chromium, on a dev server started the way
`worker.py --dev` starts it (`casework.devstack.temporal_dev_server(..., codec=<api>/codec)`).

- Without a credential the UI's decode requests get 401: it shows the case's input as ciphertext, while
  the summary, the details and the current details (bare strings and WorkflowMetadata, left clear by the
  codec) stay readable.
- The kepala dinas signs in on the API's page (/masuk: an HttpOnly, SameSite=Strict session cookie on
  `localhost`) and sets the UI's codec to "include cross-origin credentials": the UI on `localhost`
  then sends the cookie along (same site) and shows the intake decoded. The dev server has no OIDC, so
  there is no access token for `passAccessToken` (which UI 2.54 sends only to an https endpoint anyway);
  no credential ever goes into a URL.
- A pendamping signed in the same way gets 403: ciphertext again.
Each decode request is in `codec_access`. Screenshots go to tests/artifacts/ui-codec-*.png. The test
waits for text, never for network idle, and reads every frame (summaries render in sandboxed iframes).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import unquote

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from activities.store import Store
from activities.store.access import AccessStore
from activities.store.codec_audit import CodecAuditStore
from api.server import serve
from api.settings import ApiSettings
from casework import devstack
from casework.keys import Keyring, new_key
from casework.runtime import temporal_client
from casework.tokens_cli import issue
from referral import presentation
from referral.config import Settings
from tests.conftest import running_worker, task_queue
from tests.integration.test_api_stack import api_settings
from tests.integration.test_codec_history import PERSONAL, SUBJECT_NAME, OpenedCase, open_case, personal_intake

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
WAIT_MS = 20_000
INPUT_PANEL = '[data-testid="input-and-result"]'
# What UI 2.54 shows for a payload it could not decode: the ciphertext's base64, quoted.
CIPHERTEXT = re.compile(r'"[A-Za-z0-9+/]{200,}={0,2}"')

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"Debian's chromium is not installed at {CHROMIUM} (apt-get install -y chromium); "
           "this test drives the Temporal Web UI in a real headless browser",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class UiStack:
    ui: str
    api: str  # with `localhost`, as the UI's codec endpoint names it
    case: OpenedCase
    summary: str
    browser: Browser
    store: Store
    settings: ApiSettings

    @property
    def case_url(self) -> str:
        return f"{self.ui}/namespaces/default/workflows/{self.case.workflow_id}"


@pytest.fixture(scope="module")
async def stack(db, tmp_path_factory) -> AsyncIterator[UiStack]:
    ui_port, api_port, port = free_port(), free_port(), free_port()
    ui, api = f"http://localhost:{ui_port}", f"http://localhost:{api_port}"
    queue, settings = task_queue(), api_settings()
    ring = Keyring((new_key("ui-1"),), "browser test")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with devstack.temporal_dev_server(tmp_path_factory.mktemp("ui-codec"), port=port, ui_port=ui_port,
                                            codec=devstack.codec_endpoint(api)) as address:
        client = await temporal_client(Settings(), address, keyring=ring)
        config = replace(Settings(), task_queue=queue, ui_url=ui)
        async with running_worker(client, db, queue), \
                serve(settings, db, client, config=config, host="127.0.0.1", port=api_port):
            case = await open_case(client, queue)
            summary = presentation.static_summary(personal_intake())  # village and category: no person in it
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
                try:
                    yield UiStack(ui, api, case, summary, browser, db, settings)
                finally:
                    await browser.close()


async def all_text(page: Page) -> str:
    """The page's text and markup and the text of every frame, URL-decoded."""
    parts = [await page.evaluate("document.body.textContent + '\\n' + document.body.outerHTML")]
    for frame in page.frames[1:]:
        parts.append(await frame.evaluate("document.body ? document.body.textContent : ''"))
    return unquote("\n".join(parts))


async def signed_in_page(stack: UiStack, officer: str | None) -> Page:
    """A fresh browser; with `officer`, signed in on the API's page and the UI's codec set to send the
    session cookie (the UI's "include cross-origin credentials", kept in its localStorage)."""
    context = await stack.browser.new_context(viewport={"width": 1400, "height": 1100})
    page = await context.new_page()
    if officer:
        issued = await issue(AccessStore(stack.store.pool), "officer", officer, days=1, label="ui codec test",
                             settings=stack.settings)
        await page.goto(f"{stack.api}/masuk", wait_until="domcontentloaded")
        await page.get_by_label("Token").fill(issued.token)
        await page.get_by_role("button", name="Masuk").click()
        await expect(page.get_by_role("heading", name="Kasus saya")).to_be_visible(timeout=WAIT_MS)
        await page.goto(stack.ui, wait_until="domcontentloaded")
        await page.evaluate("""(endpoint) => {
            localStorage.setItem("endpoint", JSON.stringify(endpoint));
            localStorage.setItem("includeCredentials", "true");
            localStorage.setItem("passAccessToken", "false");
            localStorage.setItem("overrideRemoteCodecConfiguration", "true");
        }""", devstack.codec_endpoint(stack.api))
    return page


async def open_tab(page: Page, stack: UiStack, tab_testid: str) -> None:
    """Open the case (the UI redirects to /<run id>/timeline) unless already on it; click one of its tabs."""
    if stack.case.workflow_id not in page.url:
        await page.goto(stack.case_url, wait_until="domcontentloaded")
    tab = page.get_by_test_id(tab_testid)
    await tab.wait_for(state="visible", timeout=WAIT_MS)
    await tab.click()
    await expect(tab).to_have_attribute("aria-selected", "true", timeout=WAIT_MS)


async def open_history(page: Page, stack: UiStack) -> None:
    await open_tab(page, stack, "history-tab")
    await expect(page.locator(INPUT_PANEL).first).to_contain_text("Input", timeout=WAIT_MS)


async def test_without_a_credential_the_input_is_ciphertext_and_the_summaries_are_readable(stack: UiStack):
    page = await signed_in_page(stack, None)
    try:
        await open_history(page, stack)
        await expect(page.locator(INPUT_PANEL).first).to_contain_text(CIPHERTEXT, timeout=WAIT_MS)
        await expect(page.locator(INPUT_PANEL).first).not_to_contain_text("complaint_id")
        await page.screenshot(path=str(ARTIFACTS / "ui-codec-anonymous-history.png"), full_page=True)
        assert [p for p in PERSONAL if p in await all_text(page)] == []

        await open_tab(page, stack, "user-metadata-tab")
        summary = page.frame_locator("#user-metadata-summary").locator("body")
        await expect(summary).to_contain_text(stack.summary, timeout=WAIT_MS)
        details = page.frame_locator("#user-metadata-details").locator("body")
        await expect(details).to_contain_text(stack.case.complaint_id, timeout=WAIT_MS)
        current = page.frame_locator("#user-metadata-current-details").locator("body")
        await expect(current).to_contain_text("Pendamping", timeout=WAIT_MS)  # the live WorkflowMetadata query
        await page.screenshot(path=str(ARTIFACTS / "ui-codec-anonymous-summary.png"), full_page=True)
        assert [p for p in PERSONAL if p in await all_text(page)] == []
    finally:
        await page.context.close()
    # 401s name nobody: nothing to record.
    assert await CodecAuditStore(stack.store.pool).recent(complaint_id=stack.case.complaint_id) == []


async def test_the_kepala_dinas_signed_in_sees_the_intake_decoded(stack: UiStack):
    page = await signed_in_page(stack, "KADIS")
    try:
        await open_history(page, stack)
        await expect(page.locator(INPUT_PANEL).first).to_contain_text(SUBJECT_NAME, timeout=WAIT_MS)
        await page.screenshot(path=str(ARTIFACTS / "ui-codec-kadis-history.png"), full_page=True)
    finally:
        await page.context.close()
    records = await CodecAuditStore(stack.store.pool).recent(principal_id="KADIS", complaint_id=stack.case.complaint_id)
    assert records and all(r.allowed and r.namespace == "default" and r.origin == stack.ui for r in records)
    assert {"ui-1"} == set().union(*(r.key_ids for r in records))


async def test_a_pendamping_signed_in_still_sees_ciphertext(stack: UiStack):
    pendamping = stack.case.receipt.pendamping_id or "PD-34"
    page = await signed_in_page(stack, pendamping)
    try:
        await open_history(page, stack)
        await expect(page.locator(INPUT_PANEL).first).to_contain_text(CIPHERTEXT, timeout=WAIT_MS)
        await page.screenshot(path=str(ARTIFACTS / "ui-codec-pendamping-history.png"), full_page=True)
        assert [p for p in PERSONAL if p in await all_text(page)] == []
    finally:
        await page.context.close()
    refused = await CodecAuditStore(stack.store.pool).recent(principal_id=pendamping)
    assert refused and not any(r.allowed for r in refused) and all(r.decrypted_count == 0 for r in refused)
