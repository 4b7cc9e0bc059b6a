/* Trend charts on the team page, drawn with the vendored uPlot (pulse/static/pulse/vendor/README.md).
   The numbers, days and marks come from the page's own JSON (json_script, MetricReport.chart in
   pulse/selectors/reports.py) and are the same as the table beside each chart and the lists under it, so the
   page is complete without this script. Nothing here formats a date: the time axis writes the days the
   server wrote (one format for the whole page, pulse/dates.py).

   Drawn on top of uPlot's lines (a draw hook): the instrument's cut-offs (a labelled line), leaders' actions
   (a labelled vertical line on the day each was planned), and rounds with no result (a grey column with ⊘).
   The key is static HTML under the chart, so it never reads "withheld" while nothing is hovered.

   The script's own words (its series' names) come from the chart's data-words attribute, which the template
   writes in the page's language; its axis numbers are written for the page's language (<html lang>) with
   the browser's Intl.NumberFormat: "3,5" and "85 %" on a German page (docs/languages.md §1). */
(function () {
  "use strict";
  var source = document.getElementById("pulse-charts");
  if (!source || typeof window.uPlot === "undefined") { return; }
  var charts = JSON.parse(source.textContent);

  var INK = "#1a1a1a", RESULT = "#0b5cad", CUTOFF = "#8a1c12", ACTION = "#5a2d82", GAP = "#595959";
  // On-call interruptions by hour type (pulse/selectors/oncall.py), stacked bottom to top; the key under the
  // chart and leader.css's .key-hour-* use the same colours.
  var HOURS = { business: "#9cc3e6", off: "#3f7fbf", sleep: "#2b1a5e" };
  var FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  var AXIS_FONT = "12px " + FONT; // uPlot scales its axes' fonts to the screen itself

  var LANG = document.documentElement.lang || "en";
  var NUMBER = new Intl.NumberFormat(LANG, { maximumFractionDigits: 2 });
  var PERCENT = new Intl.NumberFormat(LANG, { style: "percent", maximumFractionDigits: 0 });

  function finite(values) { return values.filter(function (v) { return v !== null && isFinite(v); }); }

  // The rounds whose day is written under the axis: the latest always, then every step-th before it, so
  // that the labels never overlap at this width.
  function labelledRounds(x, plotWidth) {
    var fit = Math.max(2, Math.floor(plotWidth / 96));
    var step = Math.max(1, Math.ceil(x.length / fit));
    var chosen = [];
    for (var i = x.length - 1; i >= 0; i -= step) { chosen.unshift(x[i]); }
    return chosen;
  }

  function px(css) { return Math.round(css * (window.uPlot.pxRatio || 1)); }

  function font(size, weight) { return (weight || "") + " " + px(size) + "px " + FONT; }

  // A label with a white halo, so that it stays legible over lines and bands without hiding the points.
  function tag(u, text, x, y, colour, align) {
    var ctx = u.ctx;
    ctx.font = font(12, "600");
    ctx.textAlign = align === "right" ? "right" : "left";
    ctx.textBaseline = "alphabetic";
    ctx.lineJoin = "round";
    ctx.lineWidth = px(3.5);
    ctx.strokeStyle = "rgba(255,255,255,0.95)";
    ctx.strokeText(text, x, y);
    ctx.fillStyle = colour;
    ctx.fillText(text, x, y);
  }

  // ``text`` shortened with an ellipsis to fit ``room`` canvas pixels ("" when not even one letter fits).
  function fitted(ctx, text, room) {
    if (ctx.measureText(text).width <= room) { return text; }
    for (var n = text.length - 1; n > 2; n--) {
      var shorter = text.slice(0, n).replace(/\s+$/, "") + "…";
      if (ctx.measureText(shorter).width <= room) { return shorter; }
    }
    return "";
  }

  function marks(data) {
    return function (u) {
      var ctx = u.ctx, box = u.bbox, top = box.top, bottom = box.top + box.height;
      var left = box.left, right = box.left + box.width;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, box.width, box.height);
      ctx.clip();
      // Rounds with no result: a grey column where the point would be.
      var half = px(7);
      data.gaps.forEach(function (gap) {
        var gx = u.valToPos(gap.x, "x", true);
        ctx.fillStyle = "rgba(89,89,89,0.12)";
        ctx.fillRect(gx - half, top, 2 * half, box.height);
        ctx.fillStyle = GAP;
        ctx.font = font(13, "700");
        ctx.textAlign = "center";
        ctx.fillText("⊘", gx, bottom - px(6));
      });
      // Cut-offs: the side beyond the threshold lightly shaded, the line dashed, its label at the right.
      data.cutoffs.forEach(function (c) {
        var cy = u.valToPos(c.value, "y", true);
        var beyondUp = c.op === ">=" || c.op === ">";
        ctx.fillStyle = "rgba(138,28,18,0.06)";
        if (beyondUp) { ctx.fillRect(left, top, box.width, cy - top); } else { ctx.fillRect(left, cy, box.width, bottom - cy); }
        ctx.strokeStyle = CUTOFF;
        ctx.lineWidth = px(1.5);
        ctx.setLineDash([px(5), px(3)]);
        ctx.beginPath(); ctx.moveTo(left, cy); ctx.lineTo(right, cy); ctx.stroke();
        ctx.setLineDash([]);
        var ly = beyondUp ? cy - px(4) : cy + px(15);
        tag(u, c.label, right - px(4), ly, CUTOFF, "right");
      });
      // Actions: a vertical line on the day each was planned, its title at the top, staggered.
      data.actions.forEach(function (a, i) {
        var ax = u.valToPos(a.x, "x", true);
        ctx.strokeStyle = ACTION;
        ctx.lineWidth = px(2);
        ctx.beginPath(); ctx.moveTo(ax, top); ctx.lineTo(ax, bottom); ctx.stroke();
        ctx.font = font(12, "600");
        var text = "▼ " + a.title;
        var rightSide = ax + ctx.measureText(text).width + px(10) < right || right - ax >= ax - left;
        var room = (rightSide ? right - ax : ax - left) - px(10);
        text = fitted(ctx, text, room);
        if (text) {
          tag(u, text, rightSide ? ax + px(3) : ax - px(3), top + px(15) + i * px(17), ACTION,
            rightSide ? "left" : "right");
        }
      });
      ctx.restore();
    };
  }

  // Stacked bars (on-call interruptions by hour type): each layer's running total, the top drawn first so
  // that each lower layer covers the rest of its bar. The layers' names come in the data, in the page's
  // language.
  function stackedSeries(data) {
    var running = data.x.map(function () { return 0; });
    var totals = data.stack.map(function (layer) {
      running = running.map(function (sum, i) { return sum + (layer.values[i] || 0); });
      return running.slice();
    });
    var series = [{}], columns = [data.x];
    var bars = window.uPlot.paths.bars({ size: [0.7, 48] });
    for (var i = totals.length - 1; i >= 0; i--) {
      var colour = HOURS[data.stack[i].key] || RESULT;
      series.push({ label: data.stack[i].label, stroke: colour, fill: colour, width: 0, paths: bars,
        points: { show: false } });
      columns.push(totals[i]);
    }
    return { series: series, columns: columns };
  }

  function draw(el, data) {
    var percent = data.scale === "percent" || data.unit === "%";
    var words = JSON.parse(el.getAttribute("data-words") || "{}");
    var series = [{}, {
      label: (percent ? words.rate : words.result) || "",
      stroke: RESULT, width: 2, spanGaps: false,
      points: { show: true, size: 7, fill: RESULT }
    }];
    var columns = [data.x, data.values];
    var bands = [];
    if (data.kind === "stacked") {
      var stacked = stackedSeries(data);
      series = stacked.series;
      columns = stacked.columns;
    } else if (finite(data.trend).length) {
      series.push({ label: words.trend || "", stroke: INK, dash: [6, 4], width: 1.5, points: { show: false } });
      columns.push(data.trend);
      if (finite(data.low).length) {
        series.push({ label: words.noise || "", stroke: "rgba(0,0,0,0)", points: { show: false } });
        series.push({ label: "", stroke: "rgba(0,0,0,0)", points: { show: false } });
        columns.push(data.low, data.high);
        bands.push({ series: [4, 3], fill: "rgba(11, 92, 173, 0.14)" });
      }
    }
    var width = Math.max(260, Math.floor(el.getBoundingClientRect().width) || 480);
    var span = data.x_range[1] - data.x_range[0];
    var pad = Math.max(span * 0.04, 86400);
    var days = {};
    data.x.forEach(function (x, i) { days[x] = data.days[i]; });
    var options = {
      width: width,
      height: 260,
      series: series,
      bands: bands,
      padding: [10, 34, 0, 0], // room on the right for the latest round's day under the axis
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false, range: function () { return [data.x_range[0] - pad, data.x_range[1] + pad]; } },
        y: { range: function () { return data.range; } }
      },
      axes: [
        {
          stroke: INK, font: AXIS_FONT, size: 34,
          splits: function (u) { return labelledRounds(data.x, u.bbox.width / (window.uPlot.pxRatio || 1)); },
          values: function (u, splits) { return splits.map(function (s) { return days[s] || ""; }); }
        },
        {
          stroke: INK, font: AXIS_FONT, label: data.axis, labelFont: "600 " + AXIS_FONT, labelSize: 20,
          size: percent ? 46 : 36,
          values: function (u, ticks) { return ticks.map(function (t) { return percent ? PERCENT.format(t / 100) : NUMBER.format(t); }); }
        }
      ],
      hooks: { draw: [marks(data)] }
    };
    el.textContent = "";
    return new window.uPlot(options, columns, el);
  }

  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var data = charts[el.getAttribute("data-chart")];
    if (data && data.x.length) {
      draw(el, data);
      el.setAttribute("data-drawn", "true");
    }
  });
})();
