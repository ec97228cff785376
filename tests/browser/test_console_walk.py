"""The console as people use it, in real Chromium: sign in, find a model, read its card, approve a
version as a second reviewer (the submitter is refused by the two-person rule), see the champion
change, reject another version with a reason, score an entity and edit its features (what-if, with
an out-of-range value refused next to its field), run a job and watch it reach 100%, acknowledge,
resolve and dismiss alerts (a dismissal without a reason is refused), read the audit trail.

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
    rejected = console_server.reject_version
    with walk.step("the reviewer rejects another version with a reason"):
        walk.open(f"/console/models/fire_risk?version={rejected}")
        expect(page.locator(f'tr[data-version="{rejected}"]')).to_contain_text("in_review")
        page.fill("#review-reason", "same run as the champion, nothing new")
        page.get_by_role("button", name="驳回").click()
        expect(page.locator(f'tr[data-version="{rejected}"]')).to_contain_text("rejected")
        expect(page.locator("#champion")).to_have_text(f"v{version}")
        expect(page.locator("body")).to_contain_text("same run as the champion, nothing new")


def test_try_it_scores_an_entity_with_its_reasons_as_bars(walk: Walk, console_server: ConsoleServer) -> None:
    page = walk.page
    with walk.step("score a building"):
        walk.sign_in(console_server.keys["ops"], start="/console/try")
        page.fill("#try-entity", "B0000001")
        page.get_by_role("button", name="评分", exact=True).click()
        expect(page.locator("#try-result")).to_be_visible()
        expect(page.locator("#try-score")).to_have_text(re.compile(r"^0\.\d{4}$"))
        expect(page.locator("#try-level")).to_have_text(re.compile(r"^(low|medium|high|critical)$"))
        expect(page.locator("#try-model")).to_contain_text("fire_risk v")
        assert page.locator("#try-bars .bar-row").count() >= 1
    with walk.step("its feature values fill the what-if form"):
        humidity = page.locator("#wf-fire_risk-mean_humidity_pct")
        expect(humidity).to_have_value(re.compile(r"^\d+(\.\d+)?$"))
        before = page.locator("#try-score").inner_text()
    with walk.step("edit the strongest feature and see the score change"):
        top = page.locator("#try-bars .bar-row").first.get_attribute("data-feature")
        field = page.locator(f"#wf-fire_risk-{top}")
        low, high, now = field.get_attribute("data-min"), field.get_attribute("data-max"), field.input_value()
        assert low is not None and high is not None, f"{top} has no bounds"
        field.fill(high if float(now) - float(low) < float(high) - float(now) else low)
        field.press("Enter")  # the keyboard submits the what-if form
        expect(page.locator("#try-source")).to_have_text("编辑后的特征")
        expect(page.locator("#try-score")).not_to_have_text(before)
        expect(page.locator("#try-previous")).to_contain_text(f"{before} → ")
    with walk.step("an out-of-range value is refused next to its field"):
        humidity.fill("150")
        page.get_by_role("button", name="按编辑后的特征评分").click()
        error = page.locator("#wf-fire_risk-mean_humidity_pct-error")
        expect(error).to_contain_text("超出范围：不能大于 100")  # noqa: RUF001 (Chinese punctuation)
        expect(error).to_contain_text("填写的值：150")  # noqa: RUF001 (Chinese punctuation)
        expect(humidity).to_have_attribute("aria-invalid", "true")
        expect(humidity).to_be_focused()
        expect(page.locator("#whatif .result")).to_contain_text("mean_humidity_pct")
    with walk.step("an unknown building is answered per entity"):
        page.fill("#try-entity", "B9999999")
        page.get_by_role("button", name="评分", exact=True).click()
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
    with walk.step("resolve the acknowledged alert"):
        page.locator(f'tr[data-alert="{alert_id}"]').get_by_role("button", name="解决").click()
        expect(page.locator(f'tr[data-alert="{alert_id}"]')).to_have_count(0)  # reloaded: no longer acknowledged
        page.select_option("#f-status", "resolved")
        page.get_by_role("button", name="应用").click()
        expect(page.locator(f'tr[data-alert="{alert_id}"] .status')).to_contain_text("resolved (bob)")
    with walk.step("a dismissal without a reason is refused"):
        page.select_option("#f-status", "open")
        page.get_by_role("button", name="应用").click()
        other = page.locator("#alerts tbody tr").first
        other_id = other.get_attribute("data-alert")
        assert other_id is not None and other_id != alert_id
        other.get_by_role("button", name="驳回预警").click()
        expect(other.locator(".result")).to_contain_text("dismissing an alert needs a reason")
    with walk.step("dismiss it with a reason"):
        other.locator("input[name=reason]").fill("重复预警，已合并处理")  # noqa: RUF001 (Chinese punctuation)
        other.get_by_role("button", name="驳回预警").click()
        expect(page.locator(f'tr[data-alert="{other_id}"]')).to_have_count(0)
        page.select_option("#f-status", "dismissed")
        page.get_by_role("button", name="应用").click()
        expect(page.locator(f'tr[data-alert="{other_id}"] .status')).to_contain_text("dismissed (bob)")
        walk.sign_out()
    with walk.step("the audit trail holds the approval, the alias move and the alert"):
        walk.sign_in(console_server.keys["ops"], start="/console/audit")
        expect(page.locator("#chain")).to_contain_text("完整")
        audit = page.locator("#audit")
        expect(audit).to_contain_text(f"alert/{alert_id}")
        expect(audit).to_contain_text("已派员核查")
        page.fill("#f-actor", "bob")
        page.get_by_role("button", name="应用").click()
        for action in ("alert.ack", "alert.resolve", "alert.dismiss", "model.approve", "model.reject", "alias.move"):
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
    with walk.step("try it reads on a narrow screen"):
        walk.open("/console/try")
        expect(page.locator("#wf-fire_risk-mean_humidity_pct")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the what-if form scrolls sideways: {width}px wide"
