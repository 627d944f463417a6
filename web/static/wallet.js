// Live wallet: the relay pushes `wallet_updated` to the member's own room once a mint or
// burn is recorded on chain, so the figures change without a reload.
(function () {
  "use strict";
  var figures = document.getElementById("wallet-figures");
  if (!figures || typeof io === "undefined") return;
  var socket = io("/leaderboard", { transports: ["websocket", "polling"] });
  socket.on("wallet_updated", function (wallet) {
    Object.keys(wallet).forEach(function (field) {
      var cell = figures.querySelector('[data-field="' + field + '"]');
      if (cell) cell.textContent = String(wallet[field]);
    });
    figures.dataset.updated = String(Date.now());
  });
})();
