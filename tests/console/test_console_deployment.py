"""The operator's console on a real ``airflow api-server`` (issue 12, test levels 2 and 3).

Level 2: the JSON API with real JWTs from ``POST /auth/token`` per SimpleAuthManager role (401/403/200)
and the CSV of a real run's rejected rows (every row: as many as the run's report says failed).
Level 3: headless Chromium (Debian's ``chromium``, driven by playwright with ``executable_path``) logs in
through Airflow's login page, opens "Customer imports" and an import, downloads the CSV, presses Run now
and sees the run queued; screenshots (light and dark) go to ``test-artifacts/console/``.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.console.conftest import ARTIFACTS, IMPORT, Console

pytestmark = [pytest.mark.console, pytest.mark.e2e, pytest.mark.postgres]

API = "/customer-imports/api"
CSV_HEADER = ["row", "cursor", "column", "code", "message", "value"]
CHROMIUM = Path(os.environ.get("CUSTOMER_IMPORT_CHROMIUM", "/usr/bin/chromium"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_api_roles_and_the_csv_of_a_real_run(console: Console) -> None:
    api = f"{console.url}{API}"
    viewer, admin = bearer(console.token("viewer")), bearer(console.token("admin"))

    # no token: 401 on every kind of route
    assert httpx.get(f"{api}/imports", timeout=60).status_code == 401
    assert httpx.get(f"{api}/imports/{IMPORT}/runs", timeout=60).status_code == 401
    assert httpx.post(f"{api}/imports/{IMPORT}/runs", timeout=60).status_code == 401

    # a viewer reads
    listed = httpx.get(f"{api}/imports", headers=viewer, timeout=60)
    assert listed.status_code == 200, listed.text
    item = {i["name"]: i for i in listed.json()}[IMPORT]
    assert item["dag_id"] == IMPORT and item["last_run"]["run_id"] == console.run_id
    runs = httpx.get(f"{api}/imports/{IMPORT}/runs", headers=viewer, timeout=60)
    assert runs.status_code == 200, runs.text
    (run,) = runs.json()
    report = console.deployment.report(IMPORT, console.run_id)  # the XCom, through the REST API
    failed = report["summary"]["failed"]
    assert run["run_id"] == console.run_id and run["state"] == "success" and failed > 0
    assert run["counts"] == {
        k: report["summary"][k] for k in ("read", "created", "updated", "unchanged", "skipped", "failed")
    }

    # the CSV: every rejected row of the real run
    response = httpx.get(
        f"{api}/imports/{IMPORT}/runs/{console.run_id}/rejected.csv", headers=viewer, timeout=60
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = csv_rows(response.text)
    assert rows[0] == CSV_HEADER
    assert len(rows) - 1 == failed
    sample = {(r["row"], r["code"]) for r in report["rejected"]}
    assert sample and sample <= {(int(r[0]), r[3]) for r in rows[1:]}

    # a viewer may not trigger; an admin may, and the run is a real queued manual DagRun
    before = {r["dag_run_id"] for r in console.runs()}
    forbidden = httpx.post(f"{api}/imports/{IMPORT}/runs", headers=viewer, timeout=60)
    assert forbidden.status_code == 403, forbidden.text
    assert {r["dag_run_id"] for r in console.runs()} == before
    triggered = httpx.post(f"{api}/imports/{IMPORT}/runs", headers=admin, timeout=120)
    assert triggered.status_code == 200, triggered.text
    run_id = triggered.json()["run_id"]
    assert run_id and run_id not in before
    new = console.deployment.api("GET", f"/dags/{IMPORT}/dagRuns/{run_id}")
    assert new["run_type"] == "manual" and new["state"] == "queued"


def _browser(playwright: Any) -> Any:
    """Headless Chromium; when it cannot start: fail under CI=true, skip (with the reason) otherwise."""
    try:
        if not CHROMIUM.exists():
            raise FileNotFoundError(
                f"{CHROMIUM} is missing (scripts/setup_env.sh installs Debian's chromium)"
            )
        return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
    except Exception as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser cannot start under CI=true: {error}")
        pytest.skip(f"the browser cannot start: {error}")


def test_browser_login_console_csv_and_run_now(console: Console) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        try:
            context = browser.new_context(accept_downloads=True, viewport={"width": 1366, "height": 800})
            context.set_default_timeout(60_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))

            # Airflow's own login page (SimpleAuthManager), then the UI with the _token cookie
            page.goto(f"{console.url}/", wait_until="domcontentloaded")
            page.wait_for_url("**/auth/login**")
            page.locator("input[name='username']").fill("admin")
            page.locator("input[name='password']").fill(console.passwords["admin"])
            page.locator("button[type='submit']").click()
            page.wait_for_url(lambda url: "/auth/login" not in url)
            assert any(c["name"] == "_token" for c in context.cookies())

            # the nav view "Customer imports": the console inside Airflow's UI (an iframe)
            page.goto(f"{console.url}/plugin/customer-imports", wait_until="domcontentloaded")
            frame = page.frame_locator("iframe")
            expect(frame.get_by_role("heading", name="Customer imports")).to_be_visible()
            expect(frame.get_by_role("link", name=IMPORT)).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "airflow-nav-light.png"), full_page=True)

            # the console's own page, then the import's page (through its link)
            page.goto(f"{console.url}/customer-imports/ui", wait_until="domcontentloaded")
            expect(page.get_by_role("heading", name="Customer imports")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "imports-light.png"), full_page=True)
            page.emulate_media(color_scheme="dark")
            page.screenshot(path=str(ARTIFACTS / "imports-dark.png"), full_page=True)
            page.emulate_media(color_scheme="light")
            page.get_by_role("link", name=IMPORT).click()
            page.wait_for_url(f"**/customer-imports/ui/imports/{IMPORT}")
            expect(page.get_by_role("heading", name=IMPORT, exact=True)).to_be_visible()
            expect(page.get_by_role("cell", name=console.run_id, exact=True)).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "import-light.png"), full_page=True)
            page.emulate_media(color_scheme="dark")
            page.screenshot(path=str(ARTIFACTS / "import-dark.png"), full_page=True)
            page.emulate_media(color_scheme="light")

            # the CSV of the real run, downloaded by the browser
            link = page.locator(f"a[href$='/runs/{console.run_id}/rejected.csv']")
            with page.expect_download() as download_info:
                link.click()
            download = download_info.value
            saved = ARTIFACTS / download.suggested_filename
            download.save_as(saved)
            rows = csv_rows(saved.read_text(encoding="utf-8"))
            failed = console.deployment.report(IMPORT, console.run_id)["summary"]["failed"]
            assert rows[0] == ["row", "cursor", "column", "code", "message", "value"]
            assert len(rows) - 1 == failed > 0

            # Run now (confirm dialog accepted): the page says queued, and a new manual run exists
            before = {r["dag_run_id"] for r in console.runs()}
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Run now").click()
            expect(page.locator("#msg")).to_contain_text("Run queued: ")
            run_id = page.locator("#msg").inner_text().split("Run queued: ", 1)[1].strip()
            assert run_id not in before
            new = console.deployment.api("GET", f"/dags/{IMPORT}/dagRuns/{run_id}")
            assert new["run_type"] == "manual" and new["state"] == "queued"
            page.wait_for_load_state("load")
            # the page reloads itself with the new run listed
            expect(page.get_by_role("cell", name=run_id, exact=True)).to_be_visible()
            queued = page.get_by_role("row").filter(has=page.get_by_role("cell", name=run_id, exact=True))
            expect(queued).to_contain_text("queued")
            expect(queued).not_to_contain_text("None")  # no Python None for a run without a report yet
            page.screenshot(path=str(ARTIFACTS / "import-run-now-light.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()
