"""The console as people use it, in real Chromium: sign in, find a model, read its card, approve a
version as a second reviewer (the submitter is refused by the two-person rule), see the champion
change, score an entity, run a job and watch it reach 100%, handle an alert, read the audit trail.

The tests run in file order over one served warehouse (``conftest.py``): later steps build on the
approvals and the run of earlier ones, as a working day would.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import CARD_USE, JOB, ConsoleServer, Walk


def test_sign_in_find_the_model_and_read_its_card(walk: Walk, console_server: ConsoleServer) -> None:
    page = walk.page
    with walk.step("sign in as alice"):
        walk.sign_in(console_server.keys["alice"])
        expect(page.locator("#principal")).to_have_text("alice")
        expect(page.locator("h1")).to_have_text("模型目录")
    with walk.step("filter the catalog"):
        page.fill("#q", "credit")
        expect(page.locator('tr[data-model="fire_risk"]')).to_have_count(0)
        page.fill("#q", "fire")
        row = page.locator('tr[data-model="fire_risk"]')
        expect(row).to_have_count(1)
        expect(row.locator(".champion")).to_have_text("v1")
        expect(row).to_contain_text("roc_auc=")
    with walk.step("open the model and its card"):
        row.get_by_role("link", name="fire_risk").click()
        page.locator(f'tr[data-version="{console_server.review_version}"] a').click()
        expect(page.locator(f'tr[data-version="{console_server.review_version}"]')).to_contain_text("in_review")
        card = page.frame_locator("iframe.model-card")
        expect(card.locator("h1")).to_contain_text(f"fire_risk version {console_server.review_version}")
        expect(card.locator("body")).to_contain_text(CARD_USE)
        expect(page.locator("#alias-history")).to_contain_text("champion")
        expect(page.locator(".plots img")).to_have_count(3)
        page.locator(".plots").scroll_into_view_if_needed()
        page.wait_for_function("[...document.querySelectorAll('.plots img')].every(i => i.complete && i.naturalWidth)")
    with walk.step("sign out"):
        walk.sign_out()
        walk.open("/console")
        expect(page.locator("#key")).to_be_visible()


def test_two_person_rule_then_a_second_reviewer_approves_and_the_champion_changes(
    walk: Walk, console_server: ConsoleServer
) -> None:
    page, version = walk.page, console_server.review_version
    model_page = f"/console/models/fire_risk?version={version}"
    with walk.step("the submitter may not approve"):
        walk.sign_in(console_server.keys["alice"], start=model_page)
        page.fill("#review-reason", "looks fine to me")
        page.get_by_role("button", name="批准").click()
        expect(page.locator("#review .result")).to_contain_text("two_person_rule_violation")
        expect(page.locator("#review .result")).to_contain_text("another reviewer must approve")
        walk.screenshot("the two-person rule refuses the submitter")
        walk.sign_out()
    with walk.step("a second reviewer approves"):
        walk.sign_in(console_server.keys["bob"], start=model_page)
        page.fill("#review-reason", "metrics and card checked")
        page.get_by_role("button", name="批准").click()
        expect(page.locator(f'tr[data-version="{version}"]')).to_contain_text("approved")
    with walk.step("the reviewer makes it champion"):
        page.fill("#promote-reason", "better card")
        page.get_by_role("button", name="设为冠军").click()
        expect(page.locator("#champion")).to_have_text(f"v{version}")
        expect(page.locator(f'tr[data-version="{version}"]')).to_contain_text("published")
        expect(page.locator("#alias-history tbody tr").first).to_contain_text("bob")
    with walk.step("the catalog shows the new champion"):
        walk.open("/console")
        expect(page.locator('tr[data-model="fire_risk"] .champion')).to_have_text(f"v{version}")


def test_try_it_scores_an_entity_with_its_reasons_as_bars(walk: Walk, console_server: ConsoleServer) -> None:
    page = walk.page
    with walk.step("score a building"):
        walk.sign_in(console_server.keys["ops"], start="/console/try")
        page.fill("#try-entity", "B0000001")
        page.get_by_role("button", name="评分").click()
        expect(page.locator("#try-result")).to_be_visible()
        expect(page.locator("#try-score")).to_have_text(re.compile(r"^0\.\d{4}$"))
        expect(page.locator("#try-level")).to_have_text(re.compile(r"^(low|medium|high|critical)$"))
        expect(page.locator("#try-model")).to_contain_text("fire_risk v")
        assert page.locator("#try-bars .bar-row").count() >= 1
    with walk.step("an unknown building is answered per entity"):
        page.fill("#try-entity", "B9999999")
        page.get_by_role("button", name="评分").click()
        expect(page.locator("#try .result")).to_contain_text("entity_not_found")


def test_run_a_job_and_watch_its_progress_reach_100_percent(walk: Walk, console_server: ConsoleServer) -> None:
    page = walk.page
    with walk.step("the job and its next tick"):
        walk.sign_in(console_server.keys["ops"], start="/console/jobs")
        job = page.locator(f'tr[data-job="{JOB}"]')
        expect(job).to_contain_text("0 2 * * *")
        expect(job).to_contain_text("UTC")
    with walk.step("pause and resume"):
        job.get_by_role("button", name="暂停").click()
        expect(page.locator(f'tr[data-job="{JOB}"] .status')).to_have_text("已暂停")
        page.locator(f'tr[data-job="{JOB}"]').get_by_role("button", name="恢复").click()
        expect(page.locator(f'tr[data-job="{JOB}"] .status')).to_have_text("运行中")
    with walk.step("run it now and watch the polled progress"):
        page.locator(f'tr[data-job="{JOB}"]').get_by_role("button", name="立即运行").click()
        run = page.locator("#runs tbody tr").first
        expect(run).to_contain_text(JOB)
        expect(run.locator(".status")).to_have_text("succeeded", timeout=120_000)
        expect(run.locator(".rows")).to_contain_text("(100%)")


def test_handle_an_alert_and_see_the_audit_trail(walk: Walk, console_server: ConsoleServer) -> None:
    page = walk.page
    with walk.step("open alerts with their reasons"):
        walk.sign_in(console_server.keys["bob"], start="/console/alerts")
        first = page.locator("#alerts tbody tr").first
        expect(first).to_contain_text(JOB)
        alert_id = first.get_attribute("data-alert")
        assert alert_id is not None
        assert first.locator("ul.reasons li").count() >= 1
    with walk.step("acknowledge one with a reason"):
        row = page.locator(f'tr[data-alert="{alert_id}"]')
        row.locator("input[name=reason]").fill("已派员核查")
        row.get_by_role("button", name="确认").click()
        expect(page.locator(f'tr[data-alert="{alert_id}"]')).to_have_count(0)  # reloaded: no longer open
        page.select_option("#f-status", "acknowledged")
        page.get_by_role("button", name="应用").click()
        expect(page.locator(f'tr[data-alert="{alert_id}"] .status')).to_contain_text("acknowledged (bob)")
        walk.screenshot("the alert is acknowledged")
        walk.sign_out()
    with walk.step("the audit trail holds the approval, the alias move and the alert"):
        walk.sign_in(console_server.keys["ops"], start="/console/audit")
        expect(page.locator("#chain")).to_contain_text("完整")
        audit = page.locator("#audit")
        expect(audit).to_contain_text(f"alert/{alert_id}")
        expect(audit).to_contain_text("已派员核查")
        page.fill("#f-actor", "bob")
        page.get_by_role("button", name="应用").click()
        for action in ("alert.ack", "model.approve", "alias.move"):
            expect(page.locator("#audit")).to_contain_text(action)
        expect(page.locator("#audit tbody tr td:nth-child(3)").first).to_have_text("bob")


def test_a_forbidden_page_and_a_narrow_screen_by_keyboard(walk: Walk, console_server: ConsoleServer) -> None:
    page = walk.page
    with walk.step("sign in with the keyboard on a narrow screen"):
        page.set_viewport_size({"width": 390, "height": 800})
        walk.open("/console/audit")
        page.keyboard.press("Tab")  # the skip link, then the key field
        page.locator("#key").focus()
        page.keyboard.type(console_server.keys["alice"])
        page.keyboard.press("Enter")
        expect(page.locator("#refusal")).to_contain_text("lacks the permission audit.read")
        expect(page.locator("h1")).to_contain_text("403")
    with walk.step("the catalog reads on a narrow screen"):
        walk.open("/console")
        row = page.locator('tr[data-model="fire_risk"]')
        expect(row).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways: {width}px wide"
