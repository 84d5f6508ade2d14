// mcsim console helpers: no inline script is allowed (CSP), so page behaviour lives here.
(function () {
  "use strict";
  // Move the keyboard focus to the first error after an htmx swap, so that it is announced.
  document.addEventListener("htmx:afterSwap", function (event) {
    var alert = event.detail.target && event.detail.target.querySelector(".alert.error");
    if (alert) { alert.setAttribute("tabindex", "-1"); alert.focus(); }
  });
  // <button data-copy="text"> copies text to the clipboard.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button && navigator.clipboard) { navigator.clipboard.writeText(button.getAttribute("data-copy")); }
  });
  // <form data-reset-on-success> is emptied once htmx has sent it successfully (no hx-on: no eval).
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (event.detail.successful && form && form.matches && form.matches("form[data-reset-on-success]")) { form.reset(); }
  });
})();
