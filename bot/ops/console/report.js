/* mmbot report: draws the report's charts with MMBotCharts from the data the page embeds
 * (<script type="application/json" id="mmbot-report-data">, written by bot/ops/report.py). Per symbol the page has
 * containers div.chart[data-symbol][data-chart=price|inventory|pnl|markouts]; each gets its chart. */
(function () {
  "use strict";

  const C = window.MMBotCharts;

  function column(rows, key) { return rows.map((r) => r[key]); }

  function times(rows) { return rows.map((r) => r.ts); }

  /** uPlot.join's aligned table as the chart's columns ({t, key: [...]}); `parts` is [[key, times, values]]. */
  function joined(parts) {
    const live = parts.filter(([, t]) => t.length);
    if (!live.length) return { t: [] };
    const table = uPlot.join(live.map(([, t, v]) => [t, v]));
    const cols = { t: table[0] };
    live.forEach(([key], i) => { cols[key] = table[i + 1]; });
    return cols;
  }

  function price(el, d) {
    const snaps = d.snapshots.filter((s) => s.mid !== null);
    const bids = d.orders.filter((o) => o.side === "buy"), asks = d.orders.filter((o) => o.side === "sell");
    const chart = new C.PriceChart(el, {
      tick: d.tick,
      keys: [
        { key: "mid", label: "mid (snapshots)", stroke: C.COLORS.mid, width: 1.5, spanGaps: true, extra: 1 },
        { key: "bid", label: "bid sent", stroke: C.COLORS.bid, points: true, size: 3 },
        { key: "ask", label: "ask sent", stroke: C.COLORS.ask, points: true, size: 3 },
      ],
    });
    chart.setData(joined([["mid", times(snaps), column(snaps, "mid")], ["bid", times(bids), column(bids, "price")],
      ["ask", times(asks), column(asks, "price")]]));
    chart.setFills(d.fills.map((f, i) => ({ t: f.ts, side: f.side, price: f.price, amount: f.amount, id: i })));
    return chart;
  }

  function inventory(el, d) {
    const chart = new C.InventoryChart(el, {
      lot: d.lot,
      keys: [
        { key: "q", label: "q (replayed fills)", stroke: C.COLORS.q, width: 2, step: true, spanGaps: true },
        { key: "q_snap", label: "q (snapshots)", stroke: "#6b7280", points: true, size: 4 },
      ],
    });
    chart.setData(joined([["q", times(d.fills), column(d.fills, "q")],
      ["q_snap", times(d.snapshots), column(d.snapshots, "q")]]));
    return chart;
  }

  function pnl(el, d) {
    const snaps = d.snapshots.filter((s) => s.equity !== null);
    const chart = new C.PnlChart(el, {
      keys: [
        { key: "total", label: "total P&L (marked to mid)", stroke: C.COLORS.total, width: 2, spanGaps: true },
        { key: "realized", label: "realized", stroke: C.COLORS.spread, width: 1.5, step: true, spanGaps: true },
        { key: "neg_fees", label: "- fees", stroke: C.COLORS.fees, width: 1.5, step: true, spanGaps: true },
      ],
    });
    chart.setData(joined([["total", times(snaps), column(snaps, "equity")],
      ["realized", times(d.fills), column(d.fills, "realized")],
      ["fees", times(d.fills), column(d.fills, "fees")]]));
    return chart;
  }

  function markouts(el, d) {
    const chart = new C.MarkoutChart(el, {});
    chart.setData(d.markouts);
    return chart;
  }

  const BUILD = { price, inventory, pnl, markouts };

  function start() {
    const data = JSON.parse(document.getElementById("mmbot-report-data").textContent);
    const charts = [];
    for (const el of document.querySelectorAll("div.chart[data-symbol][data-chart]")) {
      const d = data.symbols[el.dataset.symbol];
      const build = BUILD[el.dataset.chart];
      if (!d || !build) continue;
      const chart = build(el, d);
      chart.render();
      charts.push(chart);
    }
    window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
