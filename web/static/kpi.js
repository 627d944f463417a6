// KPI charts: the page's tables already hold every number; this draws them with Chart.js
// (served from node_modules) from the JSON named by #kpi's data-source. No inline script.
(function () {
  "use strict";
  var root = document.getElementById("kpi");
  if (!root || typeof Chart === "undefined" || !window.fetch) return;
  var text = JSON.parse(root.dataset.i18n || "{}");  // labels in the page's language (web/i18n.py)
  var COLOURS = ["#0b5cad", "#b45309", "#1a7f37", "#7b3fa0", "#00707a", "#6d4c41", "#b42318", "#3d4a5c"];

  function colour(i) { return COLOURS[i % COLOURS.length]; }

  function percent(value) { return value === null || value === undefined ? null : Math.round(value * 1000) / 10; }

  function options(extra) {
    var base = { animation: false, responsive: true, maintainAspectRatio: false,
                 plugins: { legend: { position: "bottom" } },
                 scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } };  // counts: whole numbers
    return Object.assign(base, extra || {});
  }

  function bars(labels, series, extra) {
    return { type: "bar", data: { labels: labels, datasets: series.map(function (s, i) {
      return { label: s.label, data: s.data, backgroundColor: colour(i) };
    }) }, options: options(extra) };
  }

  var percentAxis = { scales: { y: { beginAtZero: true, max: 100, title: { display: true, text: "%" } } } };

  var charts = {
    active: function (d) {
      return { type: "line", data: { labels: d.active_members_per_week.map(function (r) { return r.week; }),
        datasets: [{ label: text.active || "Active members", data: d.active_members_per_week.map(function (r) { return r.members; }),
                     borderColor: colour(0), backgroundColor: colour(0), tension: 0.2 }] }, options: options() };
    },
    processes: function (d) {
      var rows = d.contributions_per_process;
      return bars(rows.map(function (r) { return r.title; }), [
        { label: text.submitted || "Submitted", data: rows.map(function (r) { return r.submitted; }) },
        { label: text.approved || "Approved", data: rows.map(function (r) { return r.approved; }) }
      ], { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } });
    },
    utilisation: function (d) {
      var rows = d.spaces.resources;
      return bars(rows.map(function (r) { return r.name; }), [
        { label: text.utilisation || "Utilisation %", data: rows.map(function (r) { return percent(r.utilisation); }) },
        { label: text.no_shows || "No-show rate %", data: rows.map(function (r) { return percent(r.no_show_rate); }) }
      ], percentAxis);
    },
    hours: function (d) {
      var hours = d.spaces.by_hour.map(function (c) { return c.hour; });
      var labels = hours.map(function (h) { return (h < 10 ? "0" : "") + h + ":00"; });
      function line(label, cells, i) {
        var byHour = {};
        cells.forEach(function (c) { byHour[c.hour] = percent(c.utilisation); });
        return { label: label, data: hours.map(function (h) { return h in byHour ? byHour[h] : null; }),
                 borderColor: colour(i), backgroundColor: colour(i), tension: 0.2, spanGaps: false };
      }
      var datasets = [line(text.all_resources || "All resources", d.spaces.by_hour, 0)].concat(
        d.spaces.resources.map(function (r, i) { return line(r.name, r.by_hour, i + 1); }));
      return { type: "line", data: { labels: labels, datasets: datasets }, options: options(percentAxis) };
    },
    tokens: function (d) {
      var rows = d.tokens_per_week;
      return bars(rows.map(function (r) { return r.week; }), [
        { label: text.minted || "Minted", data: rows.map(function (r) { return r.minted; }) },
        { label: text.burned || "Burned", data: rows.map(function (r) { return r.burned; }) }
      ]);
    },
    "compare-counts": function (d) { return compareChart(d, ["active_members", "contributions", "validations"], false); },
    "compare-shares": function (d) { return compareChart(d, ["first_time_share", "points_gini"], true); }
  };

  function compareChart(d, keys, asPercent) {
    var rows = d.rows.filter(function (r) { return keys.indexOf(r.indicator) >= 0; });
    var names = text.indicators || {};
    return bars(d.columns.map(function (c) { return c.id === null && text.all ? text.all : c.name; }), rows.map(function (r) {
      return { label: (names[r.indicator] || r.label) + (asPercent ? " %" : ""),
               data: r.values.map(function (v) { return asPercent ? percent(v) : v; }) };
    }), asPercent ? percentAxis : undefined);
  }

  function draw(data) {
    var drawn = 0;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var build = charts[canvas.dataset.chart];
      if (!build) return;
      canvas.closest("figure").hidden = false;
      new Chart(canvas, build(data));
      drawn += 1;
    });
    root.dataset.charts = String(drawn);
  }

  fetch(root.dataset.source, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    })
    .then(draw)
    .catch(function (error) { root.dataset.chartError = String(error); });
})();
