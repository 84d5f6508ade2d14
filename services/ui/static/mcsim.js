// mcsim console helpers: no inline script is allowed (CSP), so page behaviour lives here.
(function () {
  "use strict";
  // Move the keyboard focus to the first error after an htmx swap, so that it is announced.
  // Not in a live region (the template editor's preview, which follows the typing): it is
  // announced as it is, and taking the focus there would lose what the user types next.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.closest("[aria-live]")) { return; }
    var alert = target.querySelector(".alert.error");
    if (alert) { alert.setAttribute("tabindex", "-1"); alert.focus(); }
  });
  // <form data-clear-on-error="#id">: when htmx gets an error back (shown in the flash), what
  // #id showed of an earlier answer goes, so that no stale result (and its buttons) stays.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    var selector = event.detail.failed && form && form.getAttribute && form.getAttribute("data-clear-on-error");
    var stale = selector && document.querySelector(selector);
    if (stale) { stale.innerHTML = ""; }
  });
  // An error that names a field (<div class="alert error" data-field="name">, see _flash.html)
  // is shown next to that field of the form that was sent, in place of the flash: the field is
  // marked invalid, described by the message and focused; what was typed stays. The next
  // request of the form takes the marks away.
  function clearFieldErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll(".field-error[data-from-flash]"), function (old) { old.remove(); });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid][data-from-flash]"), function (control) {
      control.removeAttribute("aria-invalid");
      control.removeAttribute("aria-describedby");
      control.removeAttribute("data-from-flash");
    });
  }
  function fieldOf(form, name) {
    var names = [name, name.split(".").pop()];
    for (var i = 0; i < names.length; i++) {
      var found = form.querySelector('[name="' + names[i].replace(/["\\]/g, "") + '"]');
      if (found && found.type !== "hidden") { return found; }
    }
    return null;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("form");
    if (form) { clearFieldErrors(form); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("form");
    var xhr = event.detail.xhr;
    if (!event.detail.failed || !form || !xhr || !xhr.responseText) { return; }
    var answer = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var alert = answer.querySelector(".alert.error[data-field]");
    var control = alert && fieldOf(form, alert.getAttribute("data-field"));
    if (!control) { return; }
    var note = document.createElement("small");
    note.className = "field-error";
    note.id = (control.id || control.name) + "-error";
    note.setAttribute("data-from-flash", "");
    var text = alert.querySelector("strong");
    note.textContent = (text || alert).textContent.trim();
    (control.closest(".field") || control.parentNode).appendChild(note);
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", note.id);
    control.setAttribute("data-from-flash", "");
    var flash = document.getElementById("flash");
    if (flash) { flash.innerHTML = ""; }
    control.focus();
  });
  // A frame that scrolls (a wide table on a phone, a long ctx) must be reachable from the
  // keyboard, or what it hides cannot be scrolled to: it joins the tab order while it scrolls.
  function focusableScrollers() {
    Array.prototype.forEach.call(document.querySelectorAll(".table-wrap, pre"), function (frame) {
      var scrolls = frame.scrollWidth > frame.clientWidth + 1 || frame.scrollHeight > frame.clientHeight + 1;
      if (scrolls && !frame.hasAttribute("tabindex")) {
        frame.setAttribute("tabindex", "0");
        frame.setAttribute("data-scroller", "");
      } else if (!scrolls && frame.hasAttribute("data-scroller")) {
        frame.removeAttribute("tabindex");
        frame.removeAttribute("data-scroller");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", focusableScrollers);
  document.addEventListener("htmx:afterSettle", focusableScrollers);
  window.addEventListener("resize", focusableScrollers);
  // A change that went through shows its outcome where it was made; an error of an earlier try
  // left at the top of the page is then past, and goes (not one the answer itself put there, nor
  // on a reload the page makes by itself).
  document.addEventListener("htmx:beforeRequest", function () {
    var flash = document.getElementById("flash");
    if (!flash) { return; }
    Array.prototype.forEach.call(flash.querySelectorAll(".alert.error"), function (old) { old.setAttribute("data-stale", ""); });
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var flash = document.getElementById("flash");
    var elt = event.detail.elt;
    var config = event.detail.requestConfig;
    var byHand = elt && elt.closest && (elt.matches("button, form") || elt.closest("form"));
    if (!event.detail.successful || !flash || !byHand || !config || config.verb === "get") { return; }
    Array.prototype.forEach.call(flash.querySelectorAll(".alert.error[data-stale]"), function (old) { old.remove(); });
  });
  // "Draft saved." beside a Save button goes as soon as the form is changed again.
  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("form");
    var said = form && form.querySelector(".save-feedback");
    if (said) { said.textContent = ""; }
  });
  // <button data-frame="id" data-frame-width="375">: show a rendered message at that width (a
  // phone, a tablet; empty: the whole width), the pressed button marked.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-frame-width]");
    var frame = button && document.getElementById(button.getAttribute("data-frame"));
    if (!frame) { return; }
    var width = button.getAttribute("data-frame-width");
    frame.style.maxWidth = width ? width + "px" : "";
    Array.prototype.forEach.call(button.parentNode.querySelectorAll("[data-frame-width]"), function (other) {
      other.setAttribute("aria-pressed", other === button ? "true" : "false");
    });
  });
  // <time datetime="…" data-relative> inside an element with data-now (the server's clock when
  // it answered, which may be a test's virtual clock): shown as "5 min ago", the date in its
  // title; every half minute the words follow the time.
  function relativeTimes() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-now]"), function (scope) {
      if (!scope.hasAttribute("data-seen")) { scope.setAttribute("data-seen", String(Date.now())); }
      var now = Date.parse(scope.getAttribute("data-now")) + (Date.now() - Number(scope.getAttribute("data-seen")));
      Array.prototype.forEach.call(scope.querySelectorAll("time[data-relative]"), function (time) {
        var seconds = Math.round((now - Date.parse(time.getAttribute("datetime"))) / 1000);
        var words = null;
        if (seconds < 45) { words = "just now"; }
        else if (seconds < 3600) { words = Math.max(1, Math.round(seconds / 60)) + " min ago"; }
        else if (seconds < 86400) { words = Math.round(seconds / 3600) + " h ago"; }
        else if (seconds < 7 * 86400) { words = Math.round(seconds / 86400) + " d ago"; }
        if (words) { time.textContent = words; }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", relativeTimes);
  document.addEventListener("htmx:afterSettle", relativeTimes);
  window.setInterval(relativeTimes, 30000);
  // <form data-reset> is emptied once htmx has sent it successfully (ready for the next entry).
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (event.detail.successful && form && form.matches && form.matches("form[data-reset]")) { form.reset(); }
  });
  // <button data-copy="text"> copies text to the clipboard.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button && navigator.clipboard) { navigator.clipboard.writeText(button.getAttribute("data-copy")); }
  });
  // Tabs (role="tablist" of links to ?tab=…): they work without script; with it they switch in
  // place, and the arrow keys, Home and End move between them.
  function selectTab(tab, focus) {
    var tabs = tab.closest('[role="tablist"]').querySelectorAll('[role="tab"]');
    Array.prototype.forEach.call(tabs, function (other) {
      other.setAttribute("aria-selected", other === tab ? "true" : "false");
      var panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) { panel.hidden = other !== tab; }
    });
    if (focus) { tab.focus(); }
    if (tab.href && window.history.replaceState) { window.history.replaceState(null, "", tab.href); }
  }
  document.addEventListener("click", function (event) {
    var tab = event.target.closest('[role="tablist"] [role="tab"][aria-controls]');
    if (!tab || !document.getElementById(tab.getAttribute("aria-controls"))) { return; }
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
    event.preventDefault();
    selectTab(tab, false);
  });
  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest && event.target.closest('[role="tablist"] [role="tab"][aria-controls]');
    if (!tab) { return; }
    var tabs = Array.prototype.slice.call(tab.closest('[role="tablist"]').querySelectorAll('[role="tab"]'));
    var index = tabs.indexOf(tab), next = null;
    if (event.key === "ArrowRight") { next = tabs[(index + 1) % tabs.length]; }
    else if (event.key === "ArrowLeft") { next = tabs[(index - 1 + tabs.length) % tabs.length]; }
    else if (event.key === "Home") { next = tabs[0]; }
    else if (event.key === "End") { next = tabs[tabs.length - 1]; }
    if (next) { event.preventDefault(); selectTab(next, true); }
  });
  // The template editor's field picker: a [data-insert] button puts its text at the cursor of
  // the field last typed in (the subject when none was), and tells htmx the field changed, so
  // that the live preview follows.
  var lastField = null;
  document.addEventListener("focusin", function (event) {
    if (event.target.closest && event.target.closest("#template-form") &&
        (event.target.tagName === "TEXTAREA" || event.target.tagName === "INPUT")) {
      lastField = event.target;
    }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-insert]");
    if (!button) { return; }
    var field = lastField && document.body.contains(lastField) ? lastField
      : document.querySelector("#template-form textarea, #template-form input.mono");
    if (!field || field.readOnly) { return; }
    var text = button.getAttribute("data-insert");
    var start = field.selectionStart, end = field.selectionEnd;
    if (typeof start !== "number") { start = end = field.value.length; }
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    field.setSelectionRange(start + text.length, start + text.length);
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });
  // <textarea data-code>: a code editor for template bodies, by progressive enhancement. The
  // textarea stays the field (typed in, labelled, sent by the form as it is); beside it a gutter
  // numbers its lines, and behind it (its own text transparent) a copy of its text shows the
  // personalization blocks (<% %>, <%= %>), tags and comments in colour. Both follow its
  // typing and scrolling; nothing takes the focus.
  var CODE_PIECES = /(<%=[\s\S]*?(?:%>|$))|(<%[\s\S]*?(?:%>|$))|(<!--[\s\S]*?(?:-->|$))|(<\/?[A-Za-z][^<>]*>?)/g;
  function codePiece(into, kind, text) {
    if (!text) { return; }
    if (!kind) { into.appendChild(document.createTextNode(text)); return; }
    var span = document.createElement("span");
    span.className = "hl-" + kind;
    span.textContent = text;
    into.appendChild(span);
  }
  function drawCode(editor) {
    var text = editor.input.value, code = document.createElement("code"), last = 0, match;
    CODE_PIECES.lastIndex = 0;
    while ((match = CODE_PIECES.exec(text)) !== null && match[0]) {
      codePiece(code, "", text.slice(last, match.index));
      codePiece(code, match[1] ? "expr" : match[2] ? "code" : match[3] ? "comment" : "tag", match[0]);
      last = match.index + match[0].length;
    }
    codePiece(code, "", text.slice(last) + "\n");  // a last empty line is as high as the textarea's
    editor.layer.replaceChildren(code);
    var lines = text.split("\n").length, numbers = [];
    for (var n = 1; n <= lines; n++) { numbers.push(n); }
    editor.gutter.textContent = numbers.join("\n");
    followScroll(editor);
  }
  function followScroll(editor) {
    editor.layer.scrollTop = editor.gutter.scrollTop = editor.input.scrollTop;
    editor.layer.scrollLeft = editor.input.scrollLeft;
  }
  function codeEditors() {
    Array.prototype.forEach.call(document.querySelectorAll("textarea[data-code]:not([data-code-ready])"), function (input) {
      var box = document.createElement("div"), area = document.createElement("div");
      var editor = { input: input, gutter: document.createElement("div"), layer: document.createElement("div") };
      box.className = "code-editor";
      area.className = "code-area";
      editor.gutter.className = "code-gutter";
      editor.layer.className = "code-layer";
      editor.gutter.setAttribute("aria-hidden", "true");
      editor.layer.setAttribute("aria-hidden", "true");
      input.parentNode.insertBefore(box, input);
      area.appendChild(editor.layer);
      area.appendChild(input);
      box.appendChild(editor.gutter);
      box.appendChild(area);
      input.setAttribute("wrap", "off");
      input.setAttribute("data-code-ready", "");
      input.addEventListener("input", function () { drawCode(editor); });
      input.addEventListener("scroll", function () { followScroll(editor); });
      drawCode(editor);
    });
  }
  document.addEventListener("DOMContentLoaded", codeEditors);
  document.addEventListener("htmx:afterSettle", codeEditors);
  // <… data-live="URL" hx-trigger="messages-changed from:body">: the server streams its changes
  // (Server-Sent Events), and each one asks htmx to reload the element: no polling. EventSource
  // reconnects by itself; after a reconnection the element is reloaded once, for what happened
  // while the stream was down.
  document.addEventListener("DOMContentLoaded", function () {
    var live = document.querySelector("[data-live]");
    if (!live || !window.EventSource) { return; }
    var source = new EventSource(live.getAttribute("data-live"));
    var connected = false;
    function reload() { document.body.dispatchEvent(new CustomEvent("messages-changed")); }
    source.addEventListener("messages", reload);
    source.addEventListener("ready", function () {
      if (connected) { reload(); }
      connected = true;
    });
  });
})();
