// Live leaderboard: the server pushes `leaderboard_updated` with the new standings.
(function () {
  "use strict";
  var table = document.getElementById("board");
  var status = document.getElementById("live-status");
  if (!table || table.dataset.live !== "on" || typeof io === "undefined") return;

  function render(payload) {
    var body = table.tBodies[0];
    while (body.firstChild) body.removeChild(body.firstChild);
    if (!payload.standings.length) {
      var empty = body.insertRow();
      var cell = empty.insertCell();
      cell.colSpan = 3;
      cell.textContent = "No points awarded yet.";
    }
    payload.standings.forEach(function (s) {
      var row = body.insertRow();
      [s.rank, s.member, s.points].forEach(function (value) {
        row.insertCell().textContent = String(value);
      });
    });
    table.dataset.version = String(payload.version);
    status.textContent = "Live · updated " + new Date().toLocaleTimeString();
  }

  var socket = io("/leaderboard", { transports: ["websocket", "polling"] });
  socket.on("leaderboard_updated", render);
  socket.on("connect_error", function () { status.textContent = "Live updates unavailable; reload to refresh."; });
  socket.on("disconnect", function () { status.textContent = "Reconnecting…"; });
})();
