"""The console's template pages: list, editor, live preview, seeds, proofs, publishing, versions."""

from __future__ import annotations

import re
from typing import Any

from control_instance.console.views.templates_forms import PreviewCache
from services.ui import FRAME_CSP
from tests.integration.console.conftest import HTML, Browser, open_browser
from tests.integration.control.conftest import exec_url

EMAIL = {
    "from_name": "Acme",
    "from_address": "noreply@acme.test",
    "reply_to": "help@acme.test",
    "subject": "Hello <%= rtEvent.ctx.firstName %>",
    "html": '<p style="color:red">Hi <%= rtEvent.ctx.firstName %></p>',
    "text": "Hi <%= rtEvent.ctx.firstName %>",
}
ANN = "<ctx><firstName>Ann</firstName></ctx>"


async def _admin(browser: Browser) -> dict[str, str]:
    return await browser.cell.login()


async def _api(browser: Browser, path: str) -> Any:
    answer = await browser.client.get(path, headers=await _admin(browser))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _event_type(browser: Browser, name: str = "WELCOME") -> str:
    answer = await browser.hx("POST", "/event-types", data={"name": name, "label": name.title()})
    assert answer.status_code == 200, answer.text
    return name


async def _template(browser: Browser, channel: str = "email", event_type: str = "WELCOME") -> int:
    """Create a template through the console's form and return its id."""
    created = await browser.hx(
        "POST", "/templates", data={"event_type": event_type, "channel": channel, "label": ""}
    )
    assert created.status_code == 204, created.text
    match = re.fullmatch(r"/templates/(\d+)", created.headers["HX-Redirect"])
    assert match
    return int(match.group(1))


async def _email_template(browser: Browser, event_type: str = "WELCOME") -> int:
    await _event_type(browser, event_type)
    tid = await _template(browser, "email", event_type)
    saved = await browser.hx("POST", f"/templates/{tid}", data={"label": "Welcome", **EMAIL})
    assert saved.status_code == 200, saved.text
    return tid


async def _seed(browser: Browser, tid: int, label: str, address: str, ctx: str) -> None:
    added = await browser.hx(
        "POST",
        f"/templates/{tid}/seeds",
        data={"label": label, "address": address, "external_id": "", "ctx": ctx},
    )
    assert added.status_code == 200, added.text


async def _viewer(browser: Browser) -> Browser:
    await browser.cell.as_role("viewer")
    return await open_browser(browser.cell, "viewer-user", "password-viewer")


async def test_list_new_and_filters(browser: Browser) -> None:
    empty = await browser.get("/templates")
    assert empty.status_code == 200 and "No templates yet." in empty.text
    no_type = await browser.get("/templates/new")
    assert "Create an event type first." in no_type.text

    await _event_type(browser, "WELCOME")
    await _event_type(browser, "ORDER")
    form = await browser.get("/templates/new?event_type=ORDER")
    assert form.status_code == 200
    assert '<option value="ORDER" selected>' in form.text
    for control in ('id="template-event-type"', 'id="template-channel"', 'id="template-create"'):
        assert control in form.text
    email = await _template(browser, "email", "WELCOME")
    await _template(browser, "sms", "ORDER")
    names = {item["name"] for item in (await _api(browser, "/api/v1/templates"))["items"]}
    assert names == {"WELCOME_email", "ORDER_sms"}

    listed = await browser.get("/templates")
    assert f'href="/templates/{email}"' in listed.text
    assert listed.text.count('class="badge status-being-edited"') == 2
    by_channel = await browser.get("/templates?channel=sms")
    assert "ORDER_sms" in by_channel.text and "WELCOME_email" not in by_channel.text
    by_type = await browser.get("/templates?event_type=WELCOME&channel=&state=")
    assert "WELCOME_email" in by_type.text and "ORDER_sms" not in by_type.text
    by_state = await browser.get("/templates?state=published")
    assert "No template matches these filters." in by_state.text
    bad = await browser.get("/templates?channel=fax")
    assert bad.status_code == 400 and "unknown channel" in bad.text

    duplicate = await browser.hx(
        "POST", "/templates", data={"event_type": "WELCOME", "channel": "email"}
    )
    assert duplicate.status_code == 409 and duplicate.headers["HX-Retarget"] == "#flash"
    unknown = await browser.hx("POST", "/templates", data={"event_type": "NOPE", "channel": "sms"})
    assert unknown.status_code == 404 and "create it first" in unknown.text


async def test_the_editor_shows_the_fields_of_each_channel(browser: Browser) -> None:
    await _event_type(browser)
    ids = {channel: await _template(browser, channel) for channel in ("email", "sms", "ios")}
    email = await browser.get(f"/templates/{ids['email']}")
    assert email.status_code == 200
    for name in ("from_name", "from_address", "reply_to", "subject", "html", "text"):
        assert f'id="field-{name}" name="{name}"' in email.text
    assert 'id="template-save"' in email.text and 'id="template-publish"' in email.text
    assert 'hx-trigger="load, input changed delay:500ms from:#template-editor' in email.text
    sms = await browser.get(f"/templates/{ids['sms']}")
    assert 'name="text"' in sms.text and 'name="subject"' not in sms.text
    push = await browser.get(f"/templates/{ids['ios']}")
    for name in ("title", "body", "data"):
        assert f'name="{name}"' in push.text
    assert 'name="html"' not in push.text
    assert (await browser.get("/templates/9999")).status_code == 404


async def test_saving_changes_the_draft_and_a_syntax_error_changes_nothing(
    browser: Browser,
) -> None:
    tid = await _email_template(browser)
    template = await _api(browser, f"/api/v1/templates/{tid}")
    assert template["content"] == EMAIL and template["label"] == "Welcome"

    crlf = await browser.hx("POST", f"/templates/{tid}", data={"text": "line 1\r\nline 2"})
    assert "Draft saved." in crlf.text
    assert (await _api(browser, f"/api/v1/templates/{tid}"))["content"]["text"] == "line 1\nline 2"

    broken = await browser.hx(
        "POST", f"/templates/{tid}", data={"html": "ok\n<% if (rtEvent.ctx.a) { %>\nyes\n"}
    )
    assert broken.status_code == 400 and broken.headers["HX-Retarget"] == "#flash"
    assert "line 2" in broken.text
    after = await _api(browser, f"/api/v1/templates/{tid}")
    assert after["content"]["html"] == EMAIL["html"]


async def test_the_live_preview_renders_the_unsaved_draft_in_a_sandboxed_frame(
    browser: Browser,
) -> None:
    tid = await _email_template(browser)
    await _seed(browser, tid, "Ann", "ann@example.test", ANN)
    seeds = (await _api(browser, f"/api/v1/templates/{tid}/seeds"))["items"]
    unsaved = {**EMAIL, "subject": "Unsaved <%= rtEvent.ctx.firstName %>!"}
    answer = await browser.hx(
        "POST", f"/templates/{tid}/preview", data={**unsaved, "seed_id": str(seeds[0]["id"])}
    )
    assert answer.status_code == 200, answer.text
    assert '<dd id="preview-subject">Unsaved Ann!</dd>' in answer.text
    assert '<pre id="preview-text">Hi Ann</pre>' in answer.text
    assert "srcdoc" not in answer.text
    src = re.search(r'<iframe id="preview-frame"[^>]* sandbox=""[^>]* src="([^"]+)"', answer.text)
    assert src, answer.text
    frame = await browser.client.get(src.group(1))
    assert frame.status_code == 200
    assert frame.headers["content-security-policy"] == FRAME_CSP
    assert "script-src" not in FRAME_CSP and "sandbox" in FRAME_CSP
    assert frame.text == '<p style="color:red">Hi Ann</p>'
    # the draft itself is unchanged; the frame of another template or an unknown key is refused
    assert (await _api(browser, f"/api/v1/templates/{tid}"))["content"] == EMAIL
    other = src.group(1).replace(f"/templates/{tid}/", f"/templates/{tid + 1}/")
    assert (await browser.client.get(other, headers=HTML)).status_code == 404
    gone = await browser.client.get(f"/templates/{tid}/preview-frame/nope", headers=HTML)
    assert gone.status_code == 404 and "expired" in gone.text

    broken = await browser.hx(
        "POST", f"/templates/{tid}/preview", data={"html": "a\nb\n<%= rtEvent.ctx.( %>"}
    )
    assert broken.status_code == 200
    assert "preview-error" in broken.text and "line 3" in broken.text


async def test_the_editor_previews_with_an_archived_event_chosen_by_its_pl_id(
    browser: Browser,
) -> None:
    tid = await _email_template(browser)
    editor = (await browser.get(f"/templates/{tid}")).text
    assert 'id="preview-event" name="event_id"' in editor
    assert 'hx-include="#template-form, #preview-seed, #preview-event"' in editor
    unknown = await browser.hx("POST", f"/templates/{tid}/preview", data={"event_id": "42"})
    assert unknown.status_code == 200
    assert "preview-error" in unknown.text and "no archived event 42" in unknown.text


async def test_sms_and_push_previews_are_shown_escaped_in_a_phone(browser: Browser) -> None:
    await _event_type(browser)
    sms = await _template(browser, "sms")
    answer = await browser.hx(
        "POST",
        f"/templates/{sms}/preview",
        data={"text": "<b>Code</b> <%= rtEvent.ctx.code %>", "seed_id": ""},
    )
    assert 'class="phone"' in answer.text and 'class="bubble"' in answer.text
    assert "&lt;b&gt;Code&lt;/b&gt;" in answer.text and "<b>Code" not in answer.text
    push = await _template(browser, "android")
    answer = await browser.hx(
        "POST",
        f"/templates/{push}/preview",
        data={"title": "Hi", "body": "Your order", "data": '{"deep": "<link>"}'},
    )
    assert '<strong id="preview-title">Hi</strong>' in answer.text
    assert "&lt;link&gt;" in answer.text
    bad = await browser.hx("POST", f"/templates/{push}/preview", data={"data": "[1, 2]"})
    assert "preview-error" in bad.text and "JSON object" in bad.text


async def test_seed_addresses_are_added_changed_and_deleted(browser: Browser) -> None:
    tid = await _email_template(browser)
    page = await browser.get(f"/templates/{tid}")
    assert "No seed address yet." in page.text and 'id="seed-form"' in page.text
    await _seed(browser, tid, "Ann", "ann@example.test", ANN)
    seed = (await _api(browser, f"/api/v1/templates/{tid}/seeds"))["items"][0]
    assert seed["label"] == "Ann" and seed["ctx"] == ANN

    changed = await browser.hx(
        "POST",
        f"/templates/{tid}/seeds/{seed['id']}",
        data={"label": "Ann B", "address": "annb@example.test", "external_id": "42", "ctx": ANN},
    )
    assert changed.status_code == 200 and changed.headers["HX-Trigger"] == "mcsim-seeds"
    assert "Seed address Ann B changed." in changed.text
    seed = (await _api(browser, f"/api/v1/templates/{tid}/seeds"))["items"][0]
    assert (seed["address"], seed["external_id"]) == ("annb@example.test", "42")
    picker = await browser.get(f"/templates/{tid}/seed-picker")
    assert f'<option value="{seed["id"]}">Ann B (annb@example.test)</option>' in picker.text

    malformed = await browser.hx(
        "POST",
        f"/templates/{tid}/seeds",
        data={"label": "Bob", "address": "bob@example.test", "ctx": "<ctx>\n<a>\n</ctx>"},
    )
    assert malformed.status_code == 400 and malformed.headers["HX-Retarget"] == "#flash"
    assert "not well formed: line 3" in malformed.text
    bad_address = await browser.hx(
        "POST", f"/templates/{tid}/seeds", data={"label": "Bob", "address": "bob", "ctx": ANN}
    )
    assert bad_address.status_code == 400 and "not an email address" in bad_address.text
    assert len((await _api(browser, f"/api/v1/templates/{tid}/seeds"))["items"]) == 1

    deleted = await browser.hx("POST", f"/templates/{tid}/seeds/{seed['id']}/delete")
    assert deleted.status_code == 200 and "Seed address Ann B deleted." in deleted.text
    assert (await _api(browser, f"/api/v1/templates/{tid}/seeds"))["items"] == []


async def test_a_proof_is_sent_to_the_seed_addresses_with_an_outcome_per_seed(
    browser: Browser,
) -> None:
    tid = await _email_template(browser)
    none = await browser.hx("POST", f"/templates/{tid}/proof")
    assert none.status_code == 400 and "no seed address" in none.text
    await _seed(browser, tid, "Ann", "ann@example.test", ANN)
    await _seed(browser, tid, "Bob", "bob@example.test", "<ctx><firstName>Bob</firstName></ctx>")
    page = await browser.get(f"/templates/{tid}")
    assert 'id="proof-send"' in page.text and "No proof sent yet." in page.text

    sent = await browser.hx("POST", f"/templates/{tid}/proof")
    assert sent.status_code == 200, sent.text
    assert "Proof handed to mid-sourcing" in sent.text
    ids = re.findall(r"<code>(proof-[0-9a-f]+)</code>", sent.text.split("Recent proofs")[0])
    assert len(ids) == 2
    subjects = sorted(browser.cell.mid.messages[i].subject or "" for i in ids)
    assert subjects == ["Hello Ann", "Hello Bob"]
    assert all(browser.cell.mid.messages[i].proof for i in ids)
    seeds = (await _api(browser, f"/api/v1/templates/{tid}/seeds"))["items"]
    one = await browser.hx(
        "POST", f"/templates/{tid}/proof", data={"seed_ids": str(seeds[1]["id"])}
    )
    assert one.text.split("Recent proofs")[0].count("handed over") == 1
    assert (await _api(browser, f"/api/v1/templates/{tid}/proofs"))["total"] == 3

    browser.cell.mid.down = True
    down = await browser.hx("POST", f"/templates/{tid}/proof")
    assert down.status_code >= 500 and down.headers["HX-Retarget"] == "#flash"
    assert (await _api(browser, f"/api/v1/templates/{tid}/proofs"))["total"] == 3


async def test_publish_with_a_partial_failure_then_retry_pause_resume_unpublish(
    browser: Browser,
) -> None:
    tid = await _email_template(browser)
    browser.cell.switches[exec_url(2)].down = True
    partial = await browser.hx("POST", f"/templates/{tid}/publish")
    assert partial.status_code == 200
    assert partial.headers["HX-Trigger-After-Settle"] == "mcsim-published"
    assert 'class="failed"' in partial.text and 'class="ok"' in partial.text
    assert "Publish again (retry)" in partial.text and 'class="alert warn"' in partial.text
    browser.cell.switches[exec_url(2)].down = False
    retried = await browser.hx("POST", f"/templates/{tid}/publish")
    assert 'class="failed"' not in retried.text and retried.text.count('class="ok"') == 2
    assert "Published version 1 on every execution instance." in retried.text
    assert (await _api(browser, f"/api/v1/templates/{tid}"))["state"] == "published"
    assert browser.cell.route(exec_url(2), "WELCOME", 0).version == 1

    edited = await browser.hx("POST", f"/templates/{tid}", data={"subject": "v2"})
    assert 'id="template-unpublished"' in edited.text
    listed = await browser.get("/templates?state=published")
    assert "unpublished changes" in listed.text

    for action, expected in (
        ("pause", "paused"),
        ("resume", "published"),
        ("unpublish", "being_edited"),
    ):
        answer = await browser.hx("POST", f"/templates/{tid}/{action}")
        assert answer.status_code == 200, answer.text
        assert (await _api(browser, f"/api/v1/templates/{tid}"))["state"] == expected
    assert browser.cell.route(exec_url(1), "WELCOME", 0) is None
    refused = await browser.hx("POST", f"/templates/{tid}/resume")
    assert refused.status_code == 409 and "being edited" in refused.text

    deleted = await browser.hx("POST", f"/templates/{tid}/delete")
    assert deleted.status_code == 204 and deleted.headers["HX-Redirect"] == "/templates"
    assert (await _api(browser, "/api/v1/templates"))["total"] == 0


async def test_versions_diff_and_rollback(browser: Browser) -> None:
    tid = await _email_template(browser)
    page = await browser.get(f"/templates/{tid}")
    assert "Not published yet" in page.text
    await browser.hx("POST", f"/templates/{tid}/publish")
    await browser.hx("POST", f"/templates/{tid}", data={"subject": "Second <b>subject</b>"})
    await browser.hx("POST", f"/templates/{tid}/publish")
    versions = await browser.get(f"/templates/{tid}/versions")
    assert 'id="version-2"' in versions.text and 'id="version-1"' in versions.text
    assert "Roll back to v1" in versions.text and "Roll back to v2" not in versions.text

    diff = await browser.get(f"/templates/{tid}/diff?from=1&to=2")
    assert diff.status_code == 200
    assert '<del class="diff-del">-Hello &lt;%= rtEvent.ctx.firstName %&gt;</del>' in diff.text
    assert '<ins class="diff-add">+Second &lt;b&gt;subject&lt;/b&gt;</ins>' in diff.text
    assert "Unchanged: from_name" in diff.text
    same = await browser.get(f"/templates/{tid}/diff?from=2")
    assert "No difference." in same.text
    bad = await browser.get(f"/templates/{tid}/diff?from=9")
    assert bad.status_code == 404

    assert "Preview v1" in versions.text
    old = await browser.hx(
        "POST", f"/templates/{tid}/preview", data={"version": "1", "subject": "ignored"}
    )
    assert 'id="preview-version">published version v1<' in old.text
    assert '<dd id="preview-subject">Hello </dd>' in old.text  # no seed: an empty ctx
    newest = await browser.hx("POST", f"/templates/{tid}/preview", data={"version": "2"})
    assert '<dd id="preview-subject">Second &lt;b&gt;subject&lt;/b&gt;</dd>' in newest.text
    nope = await browser.hx("POST", f"/templates/{tid}/preview", data={"version": "9"})
    assert nope.status_code == 404 and nope.headers["HX-Retarget"] == "#flash"

    rolled = await browser.hx("POST", f"/templates/{tid}/rollback", data={"version": "1"})
    assert rolled.status_code == 200, rolled.text
    assert "Rolled back to version 1: published as version 3" in rolled.text
    # shown above the versions list, where the rollback was asked for
    assert 'id="versions-feedback" hx-swap-oob="innerHTML"' in rolled.text
    assert 'id="template-editor" hx-swap-oob="innerHTML"' in rolled.text
    template = await _api(browser, f"/api/v1/templates/{tid}")
    assert template["published_version"] == 3 and template["content"] == EMAIL
    assert browser.cell.route(exec_url(1), "WELCOME", 0).version == 3
    missing = await browser.hx("POST", f"/templates/{tid}/rollback", data={"version": "7"})
    assert missing.status_code == 404


async def test_a_viewer_sees_the_template_but_cannot_change_it(browser: Browser) -> None:
    tid = await _email_template(browser)
    await _seed(browser, tid, "Ann", "ann@example.test", ANN)
    seed = (await _api(browser, f"/api/v1/templates/{tid}/seeds"))["items"][0]
    await browser.hx("POST", f"/templates/{tid}/publish")
    viewer = await _viewer(browser)
    page = await viewer.get(f"/templates/{tid}")
    assert page.status_code == 200
    for control in ("template-save", "template-publish", "seed-form", "proof-send", "Roll back"):
        assert control not in page.text
    assert 'id="field-subject" name="subject"' in page.text and " readonly" in page.text
    preview = await viewer.hx("POST", f"/templates/{tid}/preview", data={})
    assert preview.status_code == 200 and "Hello Ann" in preview.text
    assert (await viewer.get("/templates/new")).status_code == 403
    for path, data in (
        (f"/templates/{tid}", {"subject": "changed"}),
        (f"/templates/{tid}/publish", {}),
        (f"/templates/{tid}/unpublish", {}),
        (f"/templates/{tid}/proof", {}),
        (f"/templates/{tid}/seeds", {"label": "x", "address": "x@y.z", "ctx": "<ctx/>"}),
        (f"/templates/{tid}/seeds/{seed['id']}/delete", {}),
        (f"/templates/{tid}/rollback", {"version": "1"}),
    ):
        refused = await viewer.hx("POST", path, data=data)
        assert refused.status_code == 403, path
    template = await _api(browser, f"/api/v1/templates/{tid}")
    assert template["content"]["subject"] == EMAIL["subject"] and template["state"] == "published"
    assert len((await _api(browser, f"/api/v1/templates/{tid}/seeds"))["items"]) == 1


async def test_changes_without_csrf_are_refused(browser: Browser) -> None:
    tid = await _email_template(browser)
    for path, data in (
        (f"/templates/{tid}", {"subject": "no token"}),
        (f"/templates/{tid}/publish", {}),
        (f"/templates/{tid}/seeds", {"label": "x", "address": "x@y.z", "ctx": "<ctx/>"}),
    ):
        refused = await browser.client.post(path, data=data, headers={"HX-Request": "true", **HTML})
        assert refused.status_code == 403, path
    template = await _api(browser, f"/api/v1/templates/{tid}")
    assert template["content"]["subject"] == EMAIL["subject"]
    assert template["state"] == "being_edited"
    assert (await _api(browser, f"/api/v1/templates/{tid}/seeds"))["items"] == []


async def test_hostile_name_content_and_ctx_are_shown_inert(browser: Browser) -> None:
    hostile = '<script>alert("x")</script>'
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    await _event_type(browser)
    tid = await _template(browser, "email")
    personalized = "<%= rtEvent.ctx.n %>"
    saved = await browser.hx(
        "POST",
        f"/templates/{tid}",
        data={"label": hostile, "subject": personalized, "text": personalized, "html": hostile},
    )
    assert saved.status_code == 200
    await _seed(
        browser, tid, hostile, "ann@example.test", f"<ctx><n><![CDATA[{hostile}]]></n></ctx>"
    )
    await browser.hx("POST", f"/templates/{tid}/publish")
    await browser.hx("POST", f"/templates/{tid}", data={"subject": hostile + "2"})
    await browser.hx("POST", f"/templates/{tid}/publish")
    editor = await browser.get(f"/templates/{tid}")
    listed = await browser.get("/templates")
    diff = await browser.get(f"/templates/{tid}/diff?from=1&to=2")
    preview = await browser.hx("POST", f"/templates/{tid}/preview", data={"subject": personalized})
    proof = await browser.hx("POST", f"/templates/{tid}/proof")
    picker = await browser.get(f"/templates/{tid}/seed-picker")
    for answer in (editor, listed, diff, preview, proof, picker):
        assert answer.status_code == 200, answer.text
        assert "<script>" not in answer.text, answer.url
        assert escaped in answer.text, answer.url
    assert f"&lt;![CDATA[{escaped}]]&gt;" in editor.text  # the seed's ctx, as written
    assert f'<dd id="preview-subject">{escaped}</dd>' in preview.text  # rendered from the ctx
    assert f'<pre id="preview-text">{escaped}</pre>' in preview.text


def test_the_preview_cache_is_bounded_and_expires() -> None:
    cache = PreviewCache(size=2, ttl=60)
    first, second, third = (cache.put(1, f"<p>{n}</p>") for n in range(3))
    assert len(cache) == 2 and cache.get(1, first) is None
    assert cache.get(1, third) == "<p>2</p>" and cache.get(2, third) is None
    assert len({first, second, third}) == 3
    expired = PreviewCache(size=5, ttl=0)
    key = expired.put(1, "x")
    assert expired.get(1, key) is None
