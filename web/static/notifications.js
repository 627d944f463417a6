// Live unread count in the navigation: after a commit that adds notifications for this
// member, the server pushes `notifications_unread` {count} to the member's own room.
(function () {
  "use strict";
  var badge = document.getElementById("unread-count");
  if (!badge || typeof io === "undefined") return;
  var number = badge.querySelector("[data-unread]");
  var socket = io("/leaderboard", { transports: ["websocket", "polling"] });
  socket.on("notifications_unread", function (data) {
    var count = Number(data && data.count) || 0;
    number.textContent = String(count);
    badge.hidden = count === 0;
    badge.dataset.updated = String(Date.now());
  });
})();
