"""The System Jobs page in a real browser: Debian's Chromium, headless, driven by Playwright,
against the real app under devhost. Screenshots go to tests/screenshots/ (git-ignored)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from helpers import ADMIN_ROLE, REPO, principal, wait_until

from shared.services.maintenance import PURGE_JOB_ID

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
# Headless Chromium on a machine with no internet: no sandbox as root, and no background connections.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SHOTS = REPO / "tests" / "screenshots"
DESKTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium).")
    SHOTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """``open_page(app, viewport=DESKTOP, headers=None, csp=False)``: a fresh tab (its own session storage) on
    the page, failing the test on any script error. Playwright's own waits evaluate strings, which the
    page's policy forbids, so tabs bypass it unless ``csp``."""
    contexts, errors = [], []

    def open_(app, viewport=DESKTOP, headers=None, path="systemjobs", csp=False):
        context = browser.new_context(viewport=viewport, extra_http_headers=headers or {}, bypass_csp=not csp)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(app.url(path))
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, errors


AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"  # make test installs it (package.json)
RUN_AXE = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map(v => (
  {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}))"""


WIDTHS = {"desktop": DESKTOP, "phone": PHONE}


def _accessible(page, state: str) -> None:
    """At each width, desktop and 390 px: axe-core finds nothing serious or critical in this state of the page,
    nothing scrolls sideways, and the state's screenshot is saved (tests/screenshots/<width>-<state>.png)."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    shown = page.viewport_size
    for width, viewport in WIDTHS.items():
        page.set_viewport_size(viewport)
        found = page.evaluate(RUN_AXE)
        page.screenshot(path=SHOTS / f"{width}-{state}.png", full_page=True)
        assert not [v for v in found if v["impact"] in ("serious", "critical")], f"{width}-{state}: {found}"
        assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth"), f"{width}-{state} scrolls"
    page.set_viewport_size(shown)


def _submit(app, name="sample_Echo", inputs=None, **headers) -> str:
    response = app.http.post(app.url(f"data/v9.2/{name}"), json=inputs or {}, timeout=30,
                             headers={"Prefer": "respond-async", **headers})
    assert response.status_code == 202, response.text
    return response.json()["backgroundOperationId"]


def _rows(page) -> list[str]:
    return page.locator("#jobs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")


def _detail(page, op_id: str) -> None:
    page.fill("#goto-id", op_id)
    page.click("#goto button")
    page.wait_for_selector(f"#d-id:text('{op_id}')")


def _wait_for_refreshes(page, what: str, count: int = 1, after=lambda: None) -> None:
    """Until the page has drawn the list (listRenders), the operation (detailRenders) or the chart
    (chartRenders) ``count`` more times, ``after`` doing something that should make it draw."""
    seen = int(page.evaluate(f"document.body.dataset.{what} || 0"))
    after()
    page.wait_for_function(f"Number(document.body.dataset.{what} || 0) >= {seen + count}", timeout=20_000)


def _running_detail(app, open_page, seconds: float = 60, **headers):
    """A sample_Sleep once it runs, and a tab open on it: (its id, the page)."""
    op_id = _submit(app, "sample_Sleep", {"Seconds": seconds}, **headers)
    app.wait_for_status(op_id, 20)
    page = open_page(app)
    _detail(page, op_id)
    return op_id, page


def _confirm(page, yes: str, no: str | None = None) -> None:
    """Confirm, once the dialog's buttons say exactly what they do."""
    page.wait_for_selector("#confirm-dialog[open]")
    assert page.inner_text("#confirm-yes") == yes
    if no is not None:
        assert page.inner_text("#confirm-no") == no
    page.click("#confirm-yes")


# --- Served by the app ------------------------------------------------------------------------------

def test_the_page_and_its_two_files_are_served_anonymously_with_a_strict_policy(keyed_app):
    page = requests.get(keyed_app.url("systemjobs"), timeout=30)  # no key: the page holds no data
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        asset = requests.get(keyed_app.url(f"systemjobs/{name}"), timeout=30)
        assert asset.status_code == 200 and asset.headers["Content-Type"].startswith(kind)
    assert requests.get(keyed_app.url("systemjobs/..%2Fhost.json"), timeout=30).status_code == 404
    assert not re.search(r"(src|href)=\"https?:", page.text)  # nothing from elsewhere
    assert requests.get(keyed_app.url("data/v9.2/backgroundoperations"), timeout=30).status_code == 401


def test_the_page_runs_under_its_own_content_security_policy(app, open_page):
    op_id = _submit(app)
    page = open_page(app, csp=True)  # only selector waits here: they need no eval
    page.wait_for_selector(f"#jobs tr[data-id='{op_id}'] a")
    page.click(f"#jobs tr[data-id='{op_id}'] a")
    page.wait_for_selector(f"#d-id:text('{op_id}')")


# --- The list ---------------------------------------------------------------------------------------

def test_the_list_shows_fifty_newest_first_and_pages_through_the_rest(quiet_app, open_page):
    ids = [_submit(quiet_app, inputs={"I": i}) for i in range(60)]
    page = open_page(quiet_app)
    page.wait_for_function("document.querySelectorAll('#jobs tbody tr').length === 50")
    shown_ms, opened_ms = page.evaluate("[document.body.dataset.listShownMs, document.body.dataset.listShownAtMs]")
    first = _rows(page)
    assert first == list(reversed(ids))[:50]  # newest first
    page.screenshot(path=SHOTS / "list.png")
    page.click("#next")
    page.wait_for_function("document.querySelectorAll('#jobs tbody tr').length === 11")
    assert _rows(page) == [*list(reversed(ids))[50:], PURGE_JOB_ID] and page.is_disabled("#next")  # the oldest
    page.click("#prev")
    page.wait_for_function("document.querySelectorAll('#jobs tbody tr').length === 50")
    assert _rows(page) == first
    counts = page.locator("#counts button").all_inner_texts()
    assert any(re.fullmatch(r"(Succeeded|Waiting For Resources|In Progress) \d+", c) for c in counts)
    print(f"\n50 rows shown {opened_ms} ms after the page was opened ({shown_ms} ms after asking the API for them)")


def test_filters_by_status_name_and_time_range(app, open_page):
    failed = _submit(app, "sample_Fail", {"NonRetryable": True})
    echo = _submit(app, "sample_Echo", {"A": 1})
    app.wait_for_status(failed, 31)
    app.wait_for_status(echo, 30)
    page = open_page(app)
    page.wait_for_selector("#jobs tbody tr")
    page.select_option("#f-status", "31")
    page.click("#filters button[type=submit]")
    page.wait_for_function(f"document.querySelector('#jobs tbody tr')?.dataset.id === '{failed}'")
    assert set(page.locator("#jobs tbody .status").all_inner_texts()) == {"Failed"}
    page.click("#f-clear")
    page.fill("#f-name", "sample_Echo")
    page.click("#filters button[type=submit]")
    page.wait_for_function(f"""() => {{
        const ids = [...document.querySelectorAll('#jobs tbody tr')].map(r => r.dataset.id);
        return ids.includes('{echo}') && !ids.includes('{failed}'); }}""")
    assert set(page.locator("#jobs tbody .name a").all_inner_texts()) == {"Echo"}
    page.fill("#f-from", "2099-01-01T00:00")
    page.click("#filters button[type=submit]")
    page.wait_for_selector("#empty:not([hidden])")
    assert _rows(page) == []


def test_a_running_row_refreshes_on_its_own_and_not_while_the_tab_is_hidden(app, open_page):
    op_id = _submit(app, "sample_Sleep", {"Seconds": 3})
    page = open_page(app)
    page.wait_for_selector(f"#jobs tr[data-id='{op_id}'] .status")
    page.wait_for_function(f"document.querySelector(\"#jobs tr[data-id='{op_id}'] .status\").textContent"
                           " === 'Succeeded'", timeout=20_000)
    requests_while_hidden = []
    second = _submit(app, "sample_Sleep", {"Seconds": 30})
    page.reload()
    page.wait_for_selector(f"#jobs tr[data-id='{second}']")
    page.evaluate("""() => { Object.defineProperty(document, 'hidden', {value: true, configurable: true});
                            document.dispatchEvent(new Event('visibilitychange')); }""")
    page.on("request", lambda r: requests_while_hidden.append(r.url) if "/api/data/" in r.url else None)
    # Hidden: no refresh is scheduled, but one is kept for when the tab shows again (the page's own state).
    assert page.evaluate("state.timer === null && typeof state.refresh === 'function'")
    assert requests_while_hidden == []
    renders = int(page.evaluate("document.body.dataset.listRenders"))
    page.evaluate("""() => { Object.defineProperty(document, 'hidden', {value: false, configurable: true});
                            document.dispatchEvent(new Event('visibilitychange')); }""")
    page.wait_for_function(f"Number(document.body.dataset.listRenders) > {renders}")  # refreshed at once
    app.http.delete(app.url(f"backgroundoperation/{second}"), timeout=30)


def test_keyboard_alone_opens_an_operation_and_times_are_local_with_utc_on_hover(app, open_page):
    op_id = _submit(app)
    app.wait_for_status(op_id, 30)
    page = open_page(app)
    page.wait_for_selector(f"#jobs tr[data-id='{op_id}']")
    title = page.locator(f"#jobs tr[data-id='{op_id}'] time").first.get_attribute("title")
    assert title.endswith(" UTC")
    page.locator(f"#jobs tr[data-id='{op_id}'] a").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#d-id:text('{op_id}')")
    assert page.evaluate("document.activeElement.id") == "detail-title"  # not dropped to <body>
    page.keyboard.press("Shift+Tab")  # the link back to the list, just before the heading
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.activeElement.closest('tr')?.dataset.id === '{op_id}'")  # on its row again
    for control in ("#goto-id", "#f-status", "#f-name", "#f-from", "#f-to"):
        assert page.locator(f"label[for='{control[1:]}']").count() == 1  # every control has a label


def test_at_phone_width_rows_become_cards_and_nothing_scrolls_sideways(app, open_page):
    _submit(app)
    page = open_page(app, viewport=PHONE)
    page.wait_for_selector("#jobs tbody tr")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate("getComputedStyle(document.querySelector('#jobs tbody tr')).display") == "block"
    page.screenshot(path=SHOTS / "list-phone.png")


# --- One operation ----------------------------------------------------------------------------------

def test_a_running_operation_shows_its_progress_timeline_and_the_actions_it_allows(app, callbacks, open_page):
    url = callbacks.new_url()
    op_id, page = _running_detail(app, open_page, 30, Prefer=f'respond-async, odata.callback; url="{url}"')
    page.wait_for_function("Number(document.querySelector('#d-progress .progress').getAttribute('aria-valuenow')) > 0")
    assert page.is_visible("#d-progress") and "s left" in page.inner_text("#d-progress-label")
    assert page.locator("#d-actions button").all_inner_texts() == ["Cancel", "Pause"]
    timeline = page.inner_text("#d-timeline")
    assert "Created" in timeline and "Started" in timeline and "will be sent when it ends" in timeline
    assert '"Seconds": 30' in page.inner_text("#d-inputs")
    page.click("#d-raw-block summary")
    raw = page.inner_text("#d-raw")
    assert op_id in raw and "sig=secret" not in page.content() and url not in page.content()
    page.screenshot(path=SHOTS / "detail-running.png", full_page=True)
    app.http.delete(app.url(f"backgroundoperation/{op_id}"), timeout=30)


def test_an_operation_that_never_ran_counts_no_attempt_its_time_to_live_reads_in_days_and_its_trace_shows(
        app, open_page):
    later, trace_id = (datetime.now(UTC) + timedelta(hours=2)).isoformat(), "4bf92f3577b34da6a3ce929d0e0e4736"
    accepted = app.http.post(app.url("ExecuteBackgroundOperation"), timeout=30, json={
        "Request": {"RequestName": "sample_Echo"}, "PostponeUntil": later},
        headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    op_id = accepted.json()["backgroundOperationId"]
    assert accepted.headers["traceresponse"].split("-")[1] == trace_id  # the caller's trace, joined
    app.http.delete(app.url(f"backgroundoperation/{op_id}"), timeout=30)
    app.wait_for_status(op_id, 32)
    page = open_page(app)
    _detail(page, op_id)
    run = dict(zip(*[iter(page.locator("#d-run > *").all_inner_texts())] * 2, strict=True))
    assert (run["Attempts"], run["Time to live"], run["Trace ID"]) == ("0", "90 days", trace_id)


def test_a_failed_operation_shows_its_error_and_runs_again_with_the_same_inputs(app, open_page):
    op_id = _submit(app, "sample_Fail", {"NonRetryable": True, "ErrorCode": 42})
    app.wait_for_status(op_id, 31)
    page = open_page(app)
    _detail(page, op_id)
    assert page.inner_text("#d-error") .startswith("Code\n0x0000002A")
    assert "asked to fail for good" in page.inner_text("#d-error")
    assert page.locator("#d-actions button").all_inner_texts() == ["Run again"]
    page.screenshot(path=SHOTS / "detail-failed.png", full_page=True)
    page.click("#d-actions button[data-action=again]")
    _confirm(page, "Run a new one", "Do not run")
    page.wait_for_function(f"location.hash.startsWith('#/op/') && !location.hash.endsWith('{op_id}')")
    new_id = page.evaluate("location.hash.slice(5)")
    page.wait_for_selector(f"#d-id:text('{new_id}')")
    assert app.row(new_id)["inputparameters"] == app.row(op_id)["inputparameters"]


def test_cancel_pause_and_resume_each_ask_first_and_do_what_the_api_does(app, open_page):
    op_id, page = _running_detail(app, open_page)
    page.click("#d-actions button[data-action=cancel]")
    page.wait_for_selector("#confirm-dialog[open]")
    assert (page.inner_text("#confirm-yes"), page.inner_text("#confirm-no")) == ("Cancel operation", "Keep running")
    page.click("#confirm-no")  # never mind: nothing happens
    assert app.row(op_id)["backgroundoperationstatuscode"] == 20
    page.click("#d-actions button[data-action=pause]")
    _confirm(page, "Pause operation", "Keep running")
    app.wait_for_status(op_id, 10)
    page.wait_for_selector("#d-status .status:text('Paused')")
    page.click("#d-actions button[data-action=resume]")
    _confirm(page, "Resume operation", "Keep waiting")
    app.wait_for_status(op_id, (0, 20))
    page.wait_for_selector("#d-actions button[data-action=cancel]")
    page.click("#d-actions button[data-action=cancel]")
    _confirm(page, "Cancel operation")
    app.wait_for_status(op_id, 32)
    page.wait_for_selector("#d-status .status:text('Canceled')")


def test_postpone_moves_a_waiting_job_to_the_chosen_time(app, open_page):
    token = f"web-{time.monotonic_ns()}"  # a line of its own: the second job waits Ready behind the first
    blocker, waiting = (app.http.post(app.url("ExecuteAsync"), timeout=30, json={
        "Request": {"RequestName": "sample_Sleep", "Parameters": {"Seconds": 60}}, "DependencyToken": token}
    ).json()["AsyncJobId"] for _ in range(2))
    app.wait_for_status(blocker, 20)
    row = app.http.get(app.url(f"data/v9.2/backgroundoperations({waiting})"), timeout=30,
                       params={"$select": "dependencytoken,waitingbehind"}).json()
    assert (row["dependencytoken"], row["waitingbehind"]) == (token, blocker)  # read for one row, on asking
    page = open_page(app)
    page.wait_for_selector(f"#jobs tr[data-id='{waiting}'] .status:text('In line {token}')")
    _detail(page, waiting)
    run = dict(zip(*[iter(page.locator("#d-run > *").all_inner_texts())] * 2, strict=True))
    assert (run["Line"], run["Waiting behind"]) == (token, blocker)
    assert page.locator("#d-actions button").all_inner_texts() == ["Cancel", "Postpone"]
    page.click("#d-actions button[data-action=postpone]")
    page.wait_for_selector("#confirm-dialog[open]")
    page.fill("#confirm-time", "2099-06-01T12:00")
    _confirm(page, "Postpone operation", "Keep its turn")
    row = app.wait_for_status(waiting, 10)
    assert row["postponeuntil"].startswith("2099-06-01")
    badge = page.wait_for_selector("#d-status .status:text('Postponed until')")
    assert badge.query_selector("time").get_attribute("datetime") == row["postponeuntil"]
    for op in (waiting, blocker):
        app.http.delete(app.url(f"backgroundoperation/{op}"), timeout=30)


def test_a_system_job_offers_no_actions(app, open_page):
    assert requests.post(f"{app.base}/admin/functions/purge", json={"input": ""}, timeout=30).status_code == 202
    job = wait_until(lambda: [j["asyncoperationid"] for j in app.http.get(app.url("data/v9.2/asyncoperations"), params={
        "$filter": "name eq 'bgops_PurgeExpired'"}, timeout=30).json()["value"]
        if app.row(j["asyncoperationid"])["recentruns"]], timeout=30, message="the purge's run recorded")[0]
    page = open_page(app)
    _detail(page, job)
    page.wait_for_selector("#d-runs-block:not([hidden])")
    assert page.locator("#d-actions button").count() == 0


# --- Access -----------------------------------------------------------------------------------------

def test_behind_function_keys_the_key_is_asked_once_and_kept_out_of_the_address_bar(keyed_app, open_page):
    _submit(keyed_app)
    page = open_page(keyed_app)
    page.wait_for_selector("#key-dialog[open]")
    page.fill("#key-input", "wrong-key")
    page.click("#key-form button")
    page.wait_for_selector("#key-title:text('not accepted')")
    page.fill("#key-input", keyed_app.key)
    page.click("#key-form button")
    page.wait_for_selector("#jobs tbody tr")
    assert keyed_app.key not in page.url
    assert page.evaluate("sessionStorage.getItem('bgops.functionKey')") == keyed_app.key
    page.reload()  # the same tab: not asked again
    page.wait_for_selector("#jobs tbody tr")
    assert not page.is_visible("#key-dialog")
    assert keyed_app.key not in keyed_app.log()  # nor in the host's log of the requests


def test_behind_app_service_authentication_each_operator_sees_what_the_api_lets_them(auth_app, open_page):
    alice = principal("alice@contoso.com").headers
    mine = _submit(auth_app, **alice)
    theirs = _submit(auth_app, **principal("bob@contoso.com").headers)
    page = open_page(auth_app, headers=alice)  # what the platform adds to each request of a signed-in user
    page.wait_for_selector(f"#jobs tr[data-id='{mine}']")
    assert theirs not in _rows(page)
    admin = open_page(auth_app, headers=principal("ops", ADMIN_ROLE).headers)
    admin.wait_for_selector(f"#jobs tr[data-id='{theirs}']")
    nobody = open_page(auth_app)
    nobody.wait_for_selector("#notice:not([hidden])")
    assert "Sign in" in nobody.inner_text("#notice")


def test_the_timeline_shows_when_each_attempt_started(app, open_page):
    op_id = _submit(app, "sample_Fail", {"FailTimes": 2})  # fails twice, then succeeds
    app.wait_for_status(op_id, 30)
    page = open_page(app)
    _detail(page, op_id)
    timeline = page.inner_text("#d-timeline")
    assert all(f"Attempt {n} started" in timeline for n in (1, 2, 3)) and "Attempt 4" not in timeline
    assert page.inner_text("#d-run").split("Attempts\n")[1].startswith("3")
    history = page.locator("#d-attempts > li").all_inner_texts()
    assert [line.split(" · ")[0] for line in history] == ["Attempt 1: Failed", "Attempt 2: Failed",
                                                         "Attempt 3: Succeeded"]
    assert "fails attempt 2 on purpose" in history[1]


def test_refreshing_keeps_the_keyboard_focus_where_it_was(app, open_page):
    op_id, page = _running_detail(app, open_page, 30)
    page.focus("#d-actions button[data-action=pause]")
    _wait_for_refreshes(page, "detailRenders", 2)
    assert page.evaluate("document.activeElement.dataset.action") == "pause"
    page.click("a.back")
    page.wait_for_selector(f"#jobs tr[data-id='{op_id}'] a")
    page.focus(f"#jobs tr[data-id='{op_id}'] a")
    _wait_for_refreshes(page, "listRenders", 1)
    assert page.evaluate("document.activeElement.closest('tr')?.dataset.id") == op_id
    app.http.delete(app.url(f"backgroundoperation/{op_id}"), timeout=30)


# --- Accessible in every state ---------------------------------------------------------------------

def test_every_state_of_the_page_passes_axe_and_fits_the_width(app, keyed_app, open_page):
    failed = _submit(app, "sample_Fail", {"NonRetryable": True})
    app.wait_for_status(failed, 31)
    running, page = _running_detail(app, open_page, 30)
    _accessible(page, "detail-running")
    page.click("#d-actions button[data-action=cancel]")
    page.wait_for_selector("#confirm-dialog[open]")
    _accessible(page, "dialog-cancel")
    page.click("#confirm-no")
    _detail(page, failed)
    page.wait_for_selector("#d-attempts-block:not([hidden])")
    _accessible(page, "detail-failed")
    page.click("#d-actions button[data-action=again]")
    page.wait_for_selector("#confirm-dialog[open]")
    _accessible(page, "dialog-run-again")
    page.click("#confirm-no")
    page.click("a.back")
    page.wait_for_selector(f"#jobs tr[data-id='{running}'] .progress")  # a running row shows its progress bar
    page.wait_for_function("Number(document.body.dataset.chartRenders || 0) >= 1")
    _accessible(page, "list")
    page.check(f"#jobs tr[data-id='{running}'] input[type=checkbox]")
    _accessible(page, "list-selected")
    page.click("#bulk-cancel")
    page.wait_for_selector("#confirm-dialog[open]")
    _accessible(page, "dialog-bulk-cancel")
    page.click("#confirm-no")
    page.click("#bulk-clear")
    page.fill("#f-name", "no_such_operation")
    page.click("#filters button[type=submit]")
    page.wait_for_selector("#empty:not([hidden])")
    _accessible(page, "list-empty")
    keyed = open_page(keyed_app)
    keyed.wait_for_selector("#key-dialog[open]")
    _accessible(keyed, "dialog-key")
    app.http.delete(app.url(f"backgroundoperation/{running}"), timeout=30)


# --- Throughput at a glance --------------------------------------------------------------------------

def test_the_chart_shows_what_finished_by_outcome_with_failures_standing_out_for_the_window_and_name(make_app,
                                                                                                      open_page):
    app = make_app()  # its own table: only these operations
    done = [_submit(app, "sample_Echo"), _submit(app, "sample_Echo"),
            _submit(app, "sample_Fail", {"NonRetryable": True})]
    for op_id, status in zip(done, (30, 30, 31), strict=True):
        app.wait_for_status(op_id, status)
    page = open_page(app)
    page.wait_for_function("Number(document.body.dataset.chartRenders || 0) >= 1")
    assert page.inner_text("#chart-summary") == "Last hour, every 1 min: 2 succeeded, 1 failed, 0 canceled."
    assert page.inner_text("#chart-summary strong") == "1 failed"  # red, and bold
    assert page.locator("#chart rect.bar-failed").count() == 1
    assert page.locator("#chart rect.bar-succeeded").count() >= 1
    assert any(" 1 failed" in t for t in page.locator("#chart g title").all_text_contents())  # shown on hover
    _wait_for_refreshes(page, "chartRenders", after=lambda: page.click("#chart-day"))
    assert page.inner_text("#chart-summary").startswith("Last day, every 30 min: 2 succeeded")
    assert page.get_attribute("#chart-day", "aria-pressed") == "true"
    page.fill("#f-name", "sample_Fail")
    _wait_for_refreshes(page, "chartRenders", after=lambda: page.click("#filters button[type=submit]"))
    assert page.inner_text("#chart-summary") == \
        "Last day, every 30 min (sample_Fail): 0 succeeded, 1 failed, 0 canceled."
    _accessible(page, "chart")


# --- Bulk actions -----------------------------------------------------------------------------------

def test_bulk_cancel_asks_once_with_how_many_and_says_what_was_done_and_what_was_refused_and_why(make_app, open_page):
    app = make_app()
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    running = _submit(app, "sample_Sleep", {"Seconds": 60})
    postponed = app.http.post(app.url("ExecuteBackgroundOperation"), timeout=30, json={
        "Request": {"RequestName": "sample_Echo"}, "PostponeUntil": later}).json()["backgroundOperationId"]
    finished = _submit(app)
    app.wait_for_status(running, 20)
    app.wait_for_status(finished, 30)
    page = open_page(app)
    for op_id in (running, postponed, finished):
        page.check(f"#jobs tr[data-id='{op_id}'] input[type=checkbox]")
    assert page.inner_text("#bulk-count") == "3 selected"
    page.click("#bulk-cancel")
    page.wait_for_selector("#confirm-dialog[open]")
    assert page.inner_text("#confirm-title") == "Cancel 3 operations?"
    _confirm(page, "Cancel 3 operations", "Keep them")
    notice = page.wait_for_selector("#notice:has-text('Canceled: 2.')")
    assert "Refused: 1. 1 × Cannot cancel the operation" in notice.inner_text()
    assert "Completed/Succeeded (3/30)" in notice.inner_text()
    assert app.wait_for_status(running, (22, 32)) and app.row(postponed)["backgroundoperationstatuscode"] == 32
    assert app.row(finished)["backgroundoperationstatuscode"] == 30  # refused: left as it was
    assert page.is_hidden("#bulk")  # the selection is done with


def test_bulk_run_again_selects_every_failed_match_and_submits_each_with_its_inputs(make_app, open_page):
    app = make_app()
    failed = [_submit(app, "sample_Fail", {"NonRetryable": True, "ErrorCode": n}) for n in (7, 8)]
    for op_id in failed:
        app.wait_for_status(op_id, 31)
    page = open_page(app)
    page.select_option("#f-status", "31")
    page.click("#filters button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#jobs tbody tr').length === 2")
    page.check(f"#jobs tr[data-id='{failed[0]}'] input[type=checkbox]")
    page.click("#bulk-all")  # every match of the filter
    page.wait_for_selector("#bulk-count:text('2 selected')")
    page.click("#bulk-again")
    _confirm(page, "Run 2 operations again", "Do not run")
    page.wait_for_selector("#notice:has-text('Ran again: 2.')")
    rows = app.http.get(app.url("data/v9.2/backgroundoperations"), timeout=30, params={
        "$filter": "name eq 'sample_Fail'", "$select": "inputparameters"}).json()["value"]
    codes = sorted({p["Key"]: p["Value"] for p in json.loads(r["inputparameters"])}["ErrorCode"] for r in rows)
    assert codes == [7, 7, 8, 8]  # two new operations, each with the inputs of the one it ran again
