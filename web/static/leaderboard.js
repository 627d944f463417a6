// Live leaderboard: watch the board shown on the page; the server pushes `leaderboard_updated`
// with its new top when (and only when) it changes, and sends the current one on every
// (re)connect. Logged-in viewers then fetch their own place.
(function () {
  "use strict";
  var table = document.getElementById("board");
  var status = document.getElementById("live-status");
  var myPlace = document.getElementById("my-place");
  if (!table || table.dataset.live !== "on" || typeof io === "undefined") return;
  var text = JSON.parse(table.dataset.i18n || "{}");  // the page's language (web/i18n.py)
  var lang = document.documentElement.lang;
  var board = { scope: table.dataset.scope, period: table.dataset.period };
  if (table.dataset.dimension) board.dimension = table.dataset.dimension;

  function sameBoard(payload) {
    return payload.scope === board.scope && payload.period === board.period &&
      (payload.dimension || "") === (board.dimension || "");
  }

  var placeTimer = null;

  // A translated sentence with %(name)s placeholders, filled with text or elements.
  function fill(sentence, values) {
    var parts = [];
    sentence.split(/(%\(\w+\)s)/).forEach(function (part) {
      var m = /^%\((\w+)\)s$/.exec(part);
      if (!m) { parts.push(part.replace(/%%/g, "%")); return; }
      var v = values[m[1]];
      parts.push(typeof v === "number" ? v.toLocaleString(lang) : v);
    });
    return parts;
  }

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
          myPlace.append(text.none + " ");
        } else {
          var strong = document.createElement("strong");
          strong.textContent = String(me.rank);
          var values = { rank: strong, of: String(me.of), points: me.points, distance: me.distance,
                         next: String(me.next_place) };
          myPlace.append.apply(myPlace, fill(me.next_place ? text.place : text.first, values).concat([" "]));
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
      cell.textContent = text.empty;
    }
    payload.top.forEach(function (s) {
      var row = body.insertRow();
      [String(s.rank), s.member, s.points.toLocaleString(lang)].forEach(function (value) {
        row.insertCell().textContent = value;
      });
    });
    table.dataset.version = String(payload.version);
    status.textContent = fill(text.live, { time: new Date().toLocaleTimeString(lang) }).join("") +
      (payload.frozen ? " · " + text.frozen : "");
    refreshMyPlace();
  }

  var socket = io("/leaderboard", { transports: ["websocket", "polling"], auth: { wall: true } });
  socket.on("connect", function () {
    socket.emit("watch", board, function (reply) {
      if (reply && reply.error) status.textContent = fill(text.unavailable, { reason: reply.message }).join("");
    });
  });
  socket.on("leaderboard_updated", render);
  socket.on("connect_error", function () { status.textContent = text.failed; });
  socket.on("disconnect", function () { status.textContent = text.reconnecting; });
})();
