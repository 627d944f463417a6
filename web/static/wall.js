// Wall display: rotates through public boards, each kept live over the `/leaderboard`
// namespace as a public (wall) connection. Shows names or pseudonyms and points only.
(function () {
  "use strict";
  var wall = document.getElementById("wall");
  if (!wall || typeof io === "undefined") return;
  var rotation = JSON.parse(wall.dataset.rotation || "[]");
  var seconds = parseInt(wall.dataset.seconds, 10) || 15;
  var text = JSON.parse(wall.dataset.i18n || "{}");  // the page's language (web/i18n.py)
  var periods = text.periods || {};
  var titles = text.titles || {};
  var boards = {};
  var current = 0;
  var title = document.getElementById("wall-title");
  var period = document.getElementById("wall-period");
  var list = document.getElementById("wall-board");
  var status = document.getElementById("wall-status");

  function keyOf(b) { return b.scope + "|" + b.period; }

  function show() {
    var b = rotation[current];
    var payload = b && boards[keyOf(b)];
    if (!payload) return;
    title.textContent = titles[payload.title] || payload.title;
    period.textContent = periods[payload.period] || payload.period;
    while (list.firstChild) list.removeChild(list.firstChild);
    if (!payload.top.length) {
      var empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = text.empty || "No points yet";
      list.appendChild(empty);
    }
    payload.top.slice(0, 10).forEach(function (s) {
      var item = document.createElement("li");
      var name = document.createElement("span");
      name.className = "name";
      name.textContent = s.member;
      var points = document.createElement("span");
      points.className = "points";
      points.textContent = s.points.toLocaleString(document.documentElement.lang);
      item.append(name, " ", points);
      list.appendChild(item);
    });
    wall.dataset.version = String(payload.version);
    wall.dataset.showing = keyOf(b);
  }

  var socket = io("/leaderboard", { transports: ["websocket", "polling"], auth: { wall: true } });
  socket.on("connect", function () {
    status.textContent = text.live || "Live";
    rotation.forEach(function (b) { socket.emit("watch", b); });
  });
  socket.on("leaderboard_updated", function (payload) {
    boards[keyOf(payload)] = payload;
    if (rotation[current] && keyOf(rotation[current]) === keyOf(payload)) show();
  });
  socket.on("disconnect", function () { status.textContent = text.reconnecting || "Reconnecting…"; });
  setInterval(function () {
    if (!rotation.length) return;
    current = (current + 1) % rotation.length;
    show();
  }, seconds * 1000);
})();
