// On a narrow screen a wide table scrolls inside itself (kopa.css); such a table becomes
// focusable so that it can be scrolled with the keyboard too.
(function () {
  "use strict";
  function mark() {
    document.querySelectorAll("main table").forEach(function (table) {
      var scrolls = table.scrollWidth > table.clientWidth + 1;
      if (scrolls && !table.hasAttribute("tabindex")) {
        table.setAttribute("tabindex", "0");
        table.dataset.scrolls = "yes";
      } else if (!scrolls && table.dataset.scrolls === "yes") {
        table.removeAttribute("tabindex");
        delete table.dataset.scrolls;
      }
    });
  }
  window.addEventListener("load", mark);
  window.addEventListener("resize", mark);
})();
