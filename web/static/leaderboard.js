// Live leaderboard: watch the board shown on the page; the server pushes `leaderboard_updated`
// with its new top when (and only when) it changes, and sends the current one on every
// (re)connect. Logged-in viewers then fetch their own place.
(function () {
  "use strict";
  var table = document.getElementById("board");
  var status = document.getElementById("live-status");
  var myPlace = document.getElementById("my-place");
  if (!table || table.dataset.live !== "on" || typeof io === "undefined") return;
  var board = { scope: table.dataset.scope, period: table.dataset.period };
  if (table.dataset.dimension) board.dimension = table.dataset.dimension;

  function sameBoard(payload) {
    return payload.scope === board.scope && payload.period === board.period &&
      (payload.dimension || "") === (board.dimension || "");
  }

  var placeTimer = null;

  // Every watcher asking at the same instant after a push would be a burst of rank queries:
  // spread them over a few seconds, and skip hidden tabs.
  function refreshMyPlace() {
    if (!myPlace || !table.dataset.meUrl || document.hidden) return;
    clearTimeout(placeTimer);
    placeTimer = setTimeout(showMyPlace, Math.random() * 3000);
  }

  function showMyPlace() {
    if (!myPlace || !table.dataset.meUrl) return;
    var query = new URLSearchParams(board).toString();
    fetch(table.dataset.meUrl + "?" + query, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var link = myPlace.querySelector("a");
        myPlace.textContent = "";
        var me = data.me;
        if (!me) {
          myPlace.append("You have no points on this board yet. ");
        } else {
          myPlace.append("Your place: ");
          var strong = document.createElement("strong");
          strong.textContent = String(me.rank);
          myPlace.append(strong, " of " + me.of + " with " + me.points + " points" +
            (me.next_place ? "; " + me.distance + " more to pass place " + me.next_place + ". " : " (first place). "));
        }
        if (link) myPlace.append(link);
      })
      .catch(function () { /* the table still moves */ });
  }

  function render(payload) {
    if (!sameBoard(payload)) return;
    var body = table.tBodies[0];
    while (body.firstChild) body.removeChild(body.firstChild);
    if (!payload.top.length) {
      var cell = body.insertRow().insertCell();
      cell.colSpan = 3;
      cell.textContent = "No points awarded yet.";
    }
    payload.top.forEach(function (s) {
      var row = body.insertRow();
      [s.rank, s.member, s.points].forEach(function (value) {
        row.insertCell().textContent = String(value);
      });
    });
    table.dataset.version = String(payload.version);
    status.textContent = "Live · updated " + new Date().toLocaleTimeString() + (payload.frozen ? " · frozen" : "");
    refreshMyPlace();
  }

  var socket = io("/leaderboard", { transports: ["websocket", "polling"], auth: { wall: true } });
  socket.on("connect", function () {
    socket.emit("watch", board, function (reply) {
      if (reply && reply.error) status.textContent = "Live updates unavailable: " + reply.message;
    });
  });
  socket.on("leaderboard_updated", render);
  socket.on("connect_error", function () { status.textContent = "Live updates unavailable; reload to refresh."; });
  socket.on("disconnect", function () { status.textContent = "Reconnecting…"; });
})();
