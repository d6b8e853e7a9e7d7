// Dashboard behaviours htmx does not cover (no inline scripts: the CSP forbids them).
(function () {
  "use strict";

  // Do not refresh the attention list while someone is typing an acknowledgement
  // note in it: the poll would replace the form under their cursor.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (!elt || !elt.hasAttribute || elt.id !== "live") return;
    var active = document.activeElement;
    if (active && active.closest && active.closest(".ack-form")) {
      var input = active.closest(".ack-form").querySelector("input[name=note]");
      if (active.tagName === "INPUT" || (input && input.value)) event.preventDefault();
    }
  });

  // Wallboard: when there are more clusters than fit, show them a page at a time.
  var page = 0;
  function showPage() {
    var box = document.querySelector("[data-cycle]");
    if (!box) return;
    var perPage = parseInt(box.getAttribute("data-cycle"), 10) || 8;
    var tiles = box.querySelectorAll(".tv-cluster");
    var pages = Math.max(1, Math.ceil(tiles.length / perPage));
    if (page >= pages) page = 0;
    for (var i = 0; i < tiles.length; i++) {
      var visible = Math.floor(i / perPage) === page;
      if (visible) tiles[i].removeAttribute("hidden"); else tiles[i].setAttribute("hidden", "");
    }
    var indicator = document.querySelector(".tv-page-indicator");
    if (indicator) indicator.textContent = pages > 1 ? "Clusters page " + (page + 1) + " of " + pages : "";
  }
  function start() {
    var box = document.querySelector("[data-cycle]");
    if (!box) return;
    var seconds = parseInt(box.getAttribute("data-cycle-seconds"), 10) || 10;
    showPage();
    setInterval(function () { page += 1; showPage(); }, seconds * 1000);
  }
  // A refreshed summary brings all tiles back: re-apply the current page.
  document.addEventListener("htmx:oobAfterSwap", showPage);
  document.addEventListener("htmx:afterSettle", showPage);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
