// Kiosk screen: after an answer, start a new kiosk session for the next person by
// submitting the "Next person" form after a few seconds (the button does the same at once).
(function () {
  "use strict";
  var form = document.getElementById("kiosk-next");
  if (!form) { return; }
  var left = parseInt(form.getAttribute("data-reset-after"), 10) || 8;
  var note = document.getElementById("kiosk-countdown");
  var timer = window.setInterval(function () {
    left -= 1;
    if (note && left > 0) { note.textContent = "The screen resets in " + left + " second" + (left === 1 ? "" : "s") + "."; }
    if (left <= 0) {
      window.clearInterval(timer);
      form.submit();
    }
  }, 1000);
}());
