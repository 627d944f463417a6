// Kiosk screen: after an answer, start a new kiosk session for the next person by
// submitting the "Next person" form after a few seconds (the button does the same at once).
(function () {
  "use strict";
  var form = document.getElementById("kiosk-next");
  if (!form) { return; }
  var left = parseInt(form.getAttribute("data-reset-after"), 10) || 8;
  var note = document.getElementById("kiosk-countdown");
  // "The screen resets in N seconds." for every N, in the page's language (web/i18n.py).
  var sentences = JSON.parse((note && note.getAttribute("data-i18n")) || "[]");
  var timer = window.setInterval(function () {
    left -= 1;
    if (note && left > 0 && sentences[left - 1]) { note.textContent = sentences[left - 1]; }
    if (left <= 0) {
      window.clearInterval(timer);
      form.submit();
    }
  }, 1000);
}());
