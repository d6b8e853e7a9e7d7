// Fleetdeck's only hand-written script: small behaviours htmx does not cover.
// No inline handlers anywhere (the CSP forbids them); everything hangs off data- attributes.
(function () {
  "use strict";

  // Polling only while the tab is visible. htmx's trigger filters
  // (`every 5s [document.visibilityState=='visible']`) need eval, which our CSP
  // forbids, so every polling request is gated here instead: a poll that fires
  // while the tab is hidden is cancelled, and the next one after it is shown runs.
  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail && event.detail.elt;
    var trigger = elt && elt.getAttribute && elt.getAttribute("hx-trigger");
    if (trigger && /(^|,\s*)every\s/.test(trigger) && document.visibilityState !== "visible") {
      event.preventDefault();
    }
  });

  // Copy buttons: <button data-copy-target="#id">Copy</button>
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = source.innerText || source.value || "";
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      document.body.removeChild(area);
      done();
    }
  });

  // Confirmation for dangerous buttons: <button data-confirm="Really?">
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var ask = form.getAttribute("data-confirm");
    if (ask && !window.confirm(ask)) event.preventDefault();
  });

  // Flash messages sent by htmx responses in the HX-Trigger header: {"flash": {...}}
  document.body && document.body.addEventListener("flash", function (event) {
    var list = document.getElementById("flashes");
    if (!list || !event.detail) return;
    var item = document.createElement("li");
    item.className = "flash flash-" + (event.detail.level || "info");
    item.textContent = event.detail.message || "";
    list.appendChild(item);
  });
})();
