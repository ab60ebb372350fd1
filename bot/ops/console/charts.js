/* mmbot charts: the chart code the live console and `mmbot report` share (plain ES2020 on the vendored uPlot).
 *
 * One global, window.MMBotCharts:
 *   decimals(step), fmtStep(v, step, extra), fmtMoney(v), fmtBps(v), fmtTime(t), fmtClock(t), fmtSigned(text)
 *   new TimeChart(el, opts)   a time series chart; price(), inventory(), pnl() build the three of the console
 *   new MarkoutChart(el, opts)  markouts per horizon (bars, bps)
 * A TimeChart holds its columns (t first, Unix seconds, then one array per series, null where unknown):
 *   setData(cols)   replace them ({t: [...], key: [...]}: the console's history shape; missing keys read null)
 *   append(row)     add one point ({t, key: value, ...}) in place: cheap, no redraw
 *   trim(tmin)      drop the points (and fill markers) older than tmin
 *   render()        redraw once (skipped while the container is hidden) and set data-points on the container
 * The price chart also keeps fill markers (addFills / setFills, deduplicated by id; data-fills counts the
 * markers drawn) and an optional explorer quote (setExplorer({bid, ask, reservation}) drawn at the latest time).
 * Axes and legends read numbers at the chart's step: prices at the tick, sizes at the lot, money to 4 decimals.
 */
(function () {
  "use strict";

  const MONEY_STEP = 0.0001;
  const COLORS = {
    mid: "#1f2937", reservation: "#7c3aed", bid: "#15803d", ask: "#b91c1c",
    bestBid: "#86c99a", bestAsk: "#e8a0a0", q: "#1d4ed8", limit: "#dc2626", target: "#6b7280",
    total: "#111827", spread: "#0f766e", skew: "#a16207", inventory: "#2563eb", fees: "#9ca3af",
    hedge: "#c2410c", net: "#4b5563", buy: "#16a34a", sell: "#dc2626", explorer: "#d97706",
  };

  /** Digits after the point that `step` needs (0.01 -> 2, 1e-5 -> 5, 0.5 -> 1, 25 -> 0); 8 without a step. */
  function decimals(step) {
    if (!(step > 0) || !isFinite(step)) return 8;
    const [mant, exp] = Number(step.toPrecision(10)).toExponential().split("e");
    const frac = (mant.split(".")[1] || "").length;
    return Math.max(0, frac - Number(exp));
  }

  function clean(text) {
    return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;  // -0.00 reads 0.00
  }

  /** `v` as text at `step`'s digits (+ `extra`), trailing zeros kept; "-" for null. */
  function fmtStep(v, step, extra) {
    if (v === null || v === undefined || !isFinite(v)) return "-";
    return clean(Number(v).toFixed(Math.min(decimals(step) + (extra || 0), 12)));
  }

  function fmtMoney(v) { return fmtStep(v, MONEY_STEP); }

  function fmtBps(v) { return v === null || v === undefined ? "-" : clean(Number(v).toFixed(2)); }

  /** A leading + on a positive number's text. */
  function fmtSigned(text) { return /^[0-9]/.test(text) && Number(text) !== 0 ? "+" + text : text; }

  function pad(n) { return String(n).padStart(2, "0"); }

  /** Local wall-clock time of Unix seconds, HH:MM:SS. */
  function fmtClock(t) {
    if (t === null || t === undefined) return "-";
    const d = new Date(t * 1000);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  /** Local date and time of Unix seconds, with milliseconds. */
  function fmtTime(t) {
    if (t === null || t === undefined) return "-";
    const d = new Date(t * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${fmtClock(t)}.` +
      String(d.getMilliseconds()).padStart(3, "0");
  }

  /** Axis increments that are multiples of `step`, so every label sits on the step. */
  function incrsOf(step) {
    const out = [];
    const base = step > 0 ? step : 1e-8;
    for (let k = 0; k < 16; k++) for (const m of [1, 2, 5]) out.push(Number((base * m * 10 ** k).toPrecision(12)));
    return out;
  }

  /** A y axis as wide as its longest label, measured in the axis font. */
  function axisSize(u, values, axisIdx, cycle) {
    const axis = u.axes[axisIdx];
    if (cycle > 1 && axis._size) return axis._size;
    const longest = (values || []).reduce((a, v) => (String(v).length > a.length ? String(v) : a), "");
    let size = (axis.ticks.size || 10) + (axis.gap || 5) + 4;
    if (longest) {
      u.ctx.font = axis.font[0];
      size += u.ctx.measureText(longest).width / (devicePixelRatio || 1);
    }
    return Math.max(40, Math.ceil(size));
  }

  function yAxis(step, extra) {
    return {
      incrs: incrsOf(step),
      values: (u, splits) => splits.map((v) => fmtStep(v, step, extra)),
      size: axisSize,
      grid: { stroke: "#eceff3" },
      ticks: { stroke: "#d1d5db" },
    };
  }

  function xAxis() {
    return { grid: { stroke: "#eceff3" }, ticks: { stroke: "#d1d5db" } };
  }

  function widthOf(el) {
    return Math.max(320, Math.floor(el.clientWidth || el.getBoundingClientRect().width || 0));
  }

  /** A time chart on uPlot. opts: {title, height, step (y), extra, keys: [{key, label, stroke, width, dash,
   *  step: bool (a step line), points: bool (markers only), show}], range(min, max, u) -> [lo, hi] (widen the y
   *  scale), xRange(min, max) -> [lo, hi] (the shown time span), draw(u) (extra drawing over the series),
   *  zoom: false (no drag-to-zoom: a streaming chart's next point would undo it)}. */
  class TimeChart {
    constructor(el, opts) {
      this.el = el;
      this.opts = opts;
      this.keys = opts.keys;
      this.height = opts.height || 240;
      this.data = [[], ...this.keys.map(() => [])];
      this.dirty = true;
      const series = [{ value: (u, t) => (t === null ? "-" : fmtClock(t)) }];
      for (const k of this.keys) {
        const s = {
          label: k.label,
          stroke: k.stroke,
          width: k.width || 1.5,
          spanGaps: !!k.spanGaps,
          show: k.show !== false,
          value: (u, v) => fmtStep(v, opts.step, k.extra ?? opts.extra),
        };
        if (k.dash) s.dash = k.dash;
        if (k.step) s.paths = uPlot.paths.stepped({ align: 1 });
        if (k.points) {
          s.paths = () => null;
          s.points = { show: true, size: k.size || 4, stroke: k.stroke, fill: k.stroke, width: 1 };
        } else {
          s.points = { show: false };
        }
        series.push(s);
      }
      const uopts = {
        width: widthOf(el),
        height: this.height,
        title: opts.title,
        series,
        axes: [xAxis(), yAxis(opts.step, opts.extra)],
        scales: {
          x: { time: true, range: opts.xRange ? (u, min, max) => opts.xRange(min, max) : undefined },
          y: { range: (u, min, max) => this._range(min, max) },
        },
        legend: { live: true },
        cursor: { drag: { x: opts.zoom !== false, y: false } },
        hooks: { draw: [(u) => this._draw(u)], setCursor: [(u) => this._latestInLegend(u)] },
      };
      this.u = new uPlot(uopts, this.data, el);
      this.el.dataset.points = "0";
    }

    _range(min, max) {
      let lo = min, hi = max;
      if (this.opts.range) [lo, hi] = this.opts.range(lo, hi, this.u);
      if (lo === null || hi === null || !isFinite(lo) || !isFinite(hi)) return [0, 1];
      if (lo === hi) {
        const pad = Math.abs(lo) * 1e-4 || (this.opts.step || 1);
        return [lo - pad, hi + pad];
      }
      const pad = (hi - lo) * 0.06;
      return [lo - pad, hi + pad];
    }

    _draw(u) {
      if (this.opts.draw) this.opts.draw(u, this);
    }

    /** Away from the cursor the legend reads the latest point. */
    _latestInLegend(u) {
      const n = u.data[0].length;
      if (u.cursor.idx == null && n) u.setLegend({ idx: n - 1 });
    }

    /** Replace every column; `cols.t` is the time column, a missing series reads null. */
    setData(cols) {
      const t = (cols.t || []).slice();
      this.data = [t, ...this.keys.map((k) => {
        const col = cols[k.key];
        return col ? col.slice(0, t.length) : t.map(() => null);
      })];
      this.dirty = true;
    }

    /** Add one point in place (no redraw). */
    append(row) {
      this.data[0].push(row.t);
      this.keys.forEach((k, i) => {
        const v = row[k.key];
        this.data[i + 1].push(v === undefined ? null : v);
      });
      this.dirty = true;
    }

    /** Drop what is older than `tmin` (Unix seconds). */
    trim(tmin) {
      const t = this.data[0];
      let i = 0;
      while (i < t.length && t[i] < tmin) i++;
      if (i > 0) {
        for (const col of this.data) col.splice(0, i);
        this.dirty = true;
      }
    }

    /** The latest time in the data, or null. */
    last() {
      const t = this.data[0];
      return t.length ? t[t.length - 1] : null;
    }

    /** Whether a redraw would be seen: the container shows and the page is not in a background tab. */
    visible() {
      return this.el.offsetParent !== null && document.visibilityState !== "hidden";
    }

    /** Redraw when something changed and can be seen; keep data-points current either way. */
    render() {
      this.el.dataset.points = String(this.data[0].length);
      if (!this.dirty || !this.visible()) return;
      this.dirty = false;
      this.u.setData(this.data);
      this._latestInLegend(this.u);
    }

    /** Fit the container's width (after a resize or when its tab is shown), then redraw. */
    resize() {
      if (!this.visible()) return;
      const w = widthOf(this.el);
      if (w !== this.u.width) this.u.setSize({ width: w, height: this.height });
      this.dirty = true;
      this.render();
    }

    destroy() {
      this.u.destroy();
    }
  }

  function triangle(ctx, x, y, r, up) {
    ctx.beginPath();
    if (up) {
      ctx.moveTo(x, y - r);
      ctx.lineTo(x + r, y + r * 0.8);
      ctx.lineTo(x - r, y + r * 0.8);
    } else {
      ctx.moveTo(x, y + r);
      ctx.lineTo(x + r, y - r * 0.8);
      ctx.lineTo(x - r, y - r * 0.8);
    }
    ctx.closePath();
    ctx.fill();
    ctx.stroke();
  }

  /** The price chart: its series `keys` (default: the console's mid, reservation, bid/ask steps, the touch),
   *  fill markers and the explorer's quote. opts: {tick, title, height, keys}. */
  class PriceChart extends TimeChart {
    constructor(el, opts) {
      const keys = opts.keys || [
        { key: "best_bid", label: "best bid", stroke: COLORS.bestBid, width: 1, step: true },
        { key: "best_ask", label: "best ask", stroke: COLORS.bestAsk, width: 1, step: true },
        { key: "mid", label: "mid", stroke: COLORS.mid, width: 1.5, extra: 1 },
        { key: "reservation", label: "reservation", stroke: COLORS.reservation, width: 1.5, dash: [6, 4], extra: 1 },
        { key: "bid", label: "our bid", stroke: COLORS.bid, width: 2, step: true },
        { key: "ask", label: "our ask", stroke: COLORS.ask, width: 2, step: true },
      ];
      const self = { fills: [], explorer: null };
      super(el, {
        title: opts.title, height: opts.height || 300, step: opts.tick, keys, xRange: opts.xRange, zoom: opts.zoom,
        range: (lo, hi, u) => {  // the fills shown and the explorer's quote stay inside the scale
          const extra = [];
          const [tmin, tmax] = u ? [u.scales.x.min, u.scales.x.max] : [null, null];
          for (const f of self.fills) if (tmin === null || tmin === undefined || (f.t >= tmin && f.t <= tmax)) extra.push(f.price);
          if (self.explorer) for (const k of ["bid", "ask", "reservation"]) {
            if (self.explorer[k] !== null && self.explorer[k] !== undefined) extra.push(self.explorer[k]);
          }
          for (const v of extra) {
            lo = lo === null || v < lo ? v : lo;
            hi = hi === null || v > hi ? v : hi;
          }
          return [lo, hi];
        },
        draw: (u) => self.chart && self.chart._drawMarkers(u),
      });
      self.chart = this;
      this.self = self;
      this.fillIds = new Set();
      this.el.dataset.fills = "0";
    }

    /** Replace the fill markers ({t, side, price, amount, id}). */
    setFills(fills) {
      this.self.fills = [];
      this.fillIds = new Set();
      this.addFills(fills);
    }

    /** Add fill markers, skipping an id already held; returns the ones that were new. */
    addFills(fills) {
      const added = [];
      for (const f of fills || []) {
        const id = f.id === undefined || f.id === null ? `${f.t}:${f.side}:${f.price}:${f.amount}` : String(f.id);
        if (this.fillIds.has(id)) continue;
        this.fillIds.add(id);
        this.self.fills.push(f);
        added.push(f);
      }
      if (added.length) {
        this.self.fills.sort((a, b) => a.t - b.t);
        this.dirty = true;
      }
      return added;
    }

    /** Redraw (the draw counts the markers in data-fills); a hidden chart counts the markers it would draw. */
    render() {
      super.render();
      if (this.visible()) return;
      const t = this.data[0];
      if (!t.length) {
        this.el.dataset.fills = "0";
        return;
      }
      const [lo, hi] = this.opts.xRange ? this.opts.xRange(t[0], t[t.length - 1]) : [t[0], t[t.length - 1]];
      this.el.dataset.fills = String(this.self.fills.filter((f) => f.t >= lo && f.t <= hi).length);
    }

    trim(tmin) {
      super.trim(tmin);
      const fills = this.self.fills;
      let i = 0;
      while (i < fills.length && fills[i].t < tmin) {
        this.fillIds.delete(String(fills[i].id));
        i++;
      }
      if (i > 0) {
        fills.splice(0, i);
        this.dirty = true;
      }
    }

    /** The explorer's quote ({bid, ask, reservation}, prices as the server sent them) or null to clear it. */
    setExplorer(quote) {
      this.self.explorer = quote;
      this.dirty = true;
    }

    _drawMarkers(u) {
      const ctx = u.ctx;
      const { left, top, width, height } = u.bbox;
      const px = devicePixelRatio || 1;
      const [xmin, xmax] = [u.scales.x.min, u.scales.x.max];
      let drawn = 0;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, width, height);
      ctx.clip();
      ctx.lineWidth = px;
      for (const f of this.self.fills) {
        if (xmin === null || f.t < xmin || f.t > xmax) continue;
        const x = u.valToPos(f.t, "x", true);
        const y = u.valToPos(f.price, "y", true);
        const buy = f.side === "buy";
        ctx.fillStyle = buy ? COLORS.buy : COLORS.sell;
        ctx.strokeStyle = "#ffffff";
        triangle(ctx, x, y, 5.5 * px, buy);
        drawn++;
      }
      const ex = this.self.explorer;
      if (ex && xmax !== null && xmax !== undefined) {
        const x = u.valToPos(this.last() ?? xmax, "x", true);
        ctx.font = `${11 * px}px system-ui, sans-serif`;
        ctx.textBaseline = "middle";
        const marks = [["ask", COLORS.ask, "ask"], ["reservation", COLORS.reservation, "res"], ["bid", COLORS.bid, "bid"]]
          .filter(([k]) => ex[k] !== null && ex[k] !== undefined)
          .map(([k, color, name]) => ({ y: u.valToPos(ex[k], "y", true), color, name }))
          .sort((a, b) => a.y - b.y);
        let textY = -Infinity;
        for (const m of marks) {
          ctx.strokeStyle = COLORS.explorer;
          ctx.fillStyle = m.color;
          ctx.lineWidth = 2 * px;
          ctx.setLineDash([4 * px, 3 * px]);
          ctx.beginPath();
          ctx.moveTo(x - 70 * px, m.y);
          ctx.lineTo(x, m.y);
          ctx.stroke();
          ctx.setLineDash([]);
          ctx.beginPath();  // a diamond at the latest time
          ctx.moveTo(x, m.y - 5 * px);
          ctx.lineTo(x + 5 * px, m.y);
          ctx.lineTo(x, m.y + 5 * px);
          ctx.lineTo(x - 5 * px, m.y);
          ctx.closePath();
          ctx.fill();
          textY = Math.max(m.y, textY + 12 * px);  // labels of close prices stacked, not overprinted
          const label = `explorer ${m.name}`;
          const w = ctx.measureText(label).width;
          ctx.fillStyle = "rgba(255, 255, 255, 0.85)";  // readable over the series and the markers
          ctx.fillRect(x - 76 * px - w, textY - 7 * px, w + 4 * px, 14 * px);
          ctx.fillStyle = COLORS.explorer;
          ctx.textAlign = "right";
          ctx.fillText(label, x - 74 * px, textY);
        }
      }
      ctx.restore();
      this.el.dataset.fills = String(drawn);
    }
  }

  /** Inventory q with the +-limit band and the target q*; hedge / net exposure series when the data has them.
   *  opts: {lot, limit, target_q, title, height, keys}. */
  class InventoryChart extends TimeChart {
    constructor(el, opts) {
      const keys = opts.keys || [
        { key: "q", label: "q", stroke: COLORS.q, width: 2, step: true },
        { key: "hedge_q", label: "hedge", stroke: COLORS.hedge, width: 1.5, step: true, show: !!opts.hedge },
        { key: "net_q", label: "net exposure", stroke: COLORS.net, width: 1.5, dash: [5, 3], show: !!opts.hedge },
      ];
      const limits = { limit: opts.limit || 0, target: opts.target_q || 0 };
      super(el, {
        title: opts.title, height: opts.height || 200, step: opts.lot, keys, xRange: opts.xRange, zoom: opts.zoom,
        range: (lo, hi) => {
          const l = limits.limit;
          const vals = [lo, hi, l ? -l : null, l || null, limits.target].filter((v) => v !== null && isFinite(v));
          return vals.length ? [Math.min(...vals), Math.max(...vals)] : [lo, hi];
        },
        draw: (u) => {
          const ctx = u.ctx;
          const { left, top, width, height } = u.bbox;
          const px = devicePixelRatio || 1;
          ctx.save();
          ctx.beginPath();
          ctx.rect(left, top, width, height);
          ctx.clip();
          const l = limits.limit;
          if (l > 0) {
            const yHi = u.valToPos(l, "y", true), yLo = u.valToPos(-l, "y", true);
            ctx.fillStyle = "rgba(220, 38, 38, 0.07)";  // beyond the limit
            ctx.fillRect(left, top, width, Math.max(0, yHi - top));
            ctx.fillRect(left, yLo, width, Math.max(0, top + height - yLo));
            ctx.strokeStyle = COLORS.limit;
            ctx.lineWidth = px;
            ctx.setLineDash([6 * px, 4 * px]);
            for (const y of [yHi, yLo]) {
              ctx.beginPath();
              ctx.moveTo(left, y);
              ctx.lineTo(left + width, y);
              ctx.stroke();
            }
          }
          const yT = u.valToPos(limits.target, "y", true);
          ctx.strokeStyle = COLORS.target;
          ctx.setLineDash([2 * px, 3 * px]);
          ctx.beginPath();
          ctx.moveTo(left, yT);
          ctx.lineTo(left + width, yT);
          ctx.stroke();
          ctx.setLineDash([]);
          ctx.font = `${10 * px}px system-ui, sans-serif`;
          ctx.fillStyle = COLORS.limit;
          ctx.textAlign = "left";
          ctx.textBaseline = "bottom";
          if (l > 0) {  // inside the band: the scale's padding leaves no room outside it
            ctx.textBaseline = "top";
            ctx.fillText(`+limit ${fmtStep(l, opts.lot)}`, left + 4 * px, u.valToPos(l, "y", true) + 2 * px);
            ctx.textBaseline = "bottom";
            ctx.fillText(`-limit ${fmtStep(-l, opts.lot)}`, left + 4 * px, u.valToPos(-l, "y", true) - 2 * px);
          }
          ctx.fillStyle = COLORS.target;
          ctx.textBaseline = "bottom";
          ctx.textAlign = "right";
          ctx.fillText(`target q* ${fmtStep(limits.target, opts.lot)}`, left + width - 4 * px, yT - 2 * px);
          ctx.restore();
        },
      });
      this.limits = limits;
    }

    /** Show or hide the hedge and net exposure series. */
    showHedge(on) {
      this.keys.forEach((k, i) => {
        if (k.key === "hedge_q" || k.key === "net_q") this.u.setSeries(i + 1, { show: on });
      });
    }
  }

  /** P&L and its components (total = spread captured + inventory - fees; skew cost is inside spread captured).
   *  opts: {title, height, keys, currency}. */
  class PnlChart extends TimeChart {
    constructor(el, opts) {
      const keys = opts.keys || [
        { key: "total_pnl", label: "total", stroke: COLORS.total, width: 2.5 },
        { key: "spread_captured", label: "spread captured", stroke: COLORS.spread, width: 1.5 },
        { key: "inventory_pnl", label: "inventory", stroke: COLORS.inventory, width: 1.5 },
        { key: "neg_fees", label: "- fees", stroke: COLORS.fees, width: 1.5 },
        { key: "skew_cost", label: "of spread: given up to skew", stroke: COLORS.skew, width: 1.2, dash: [4, 3] },
      ];
      super(el, {
        title: opts.title, height: opts.height || 220, step: MONEY_STEP, keys, xRange: opts.xRange, zoom: opts.zoom,
        range: (lo, hi) => [lo === null ? lo : Math.min(lo, 0), hi === null ? hi : Math.max(hi, 0)],
        draw: (u) => {
          const ctx = u.ctx;
          const { left, width } = u.bbox;
          const y = u.valToPos(0, "y", true);
          ctx.save();
          ctx.strokeStyle = "#9ca3af";
          ctx.lineWidth = devicePixelRatio || 1;
          ctx.beginPath();
          ctx.moveTo(left, y);
          ctx.lineTo(left + width, y);
          ctx.stroke();
          ctx.restore();
        },
      });
    }

    /** The console's columns with fees turned into "- fees" (so the lines add up to the total). */
    static columns(cols) {
      return { ...cols, neg_fees: (cols.fees || []).map((v) => (v === null || v === undefined ? null : -v)) };
    }

    setData(cols) { super.setData(PnlChart.columns(cols)); }

    append(row) { super.append({ ...row, neg_fees: row.fees === null || row.fees === undefined ? null : -row.fees }); }
  }

  /** Markouts per horizon as bars in bps (positive = the market moved against us). setData([{label, bps,
   *  count}]). */
  class MarkoutChart {
    constructor(el, opts) {
      this.el = el;
      this.labels = [];
      this.counts = [];
      this.u = new uPlot({
        width: widthOf(el), height: (opts && opts.height) || 200, title: opts && opts.title,
        scales: { x: { time: false, range: (u, min, max) => [-0.6, Math.max(0, this.labels.length - 1) + 0.6] },
          y: { range: (u, min, max) => [Math.min(min ?? 0, 0) * 1.15 - 0.01, Math.max(max ?? 0, 0) * 1.15 + 0.01] } },
        series: [
          { label: "horizon", value: (u, i) => (i === null ? "-" : this.labels[i] || "-") },
          { label: "mean markout (bps, + = against us)", stroke: "#b45309", fill: "rgba(217, 119, 6, 0.35)",
            width: 1, paths: uPlot.paths.bars({ size: [0.5, 80] }), points: { show: false },
            value: (u, v, s, i) => (v === null ? "-" : `${fmtBps(v)} bps (${this.counts[i] ?? 0} fills)`) },
        ],
        axes: [
          { incrs: [1], values: (u, splits) => splits.map((i) => this.labels[i] ?? ""), grid: { show: false } },
          { values: (u, splits) => splits.map((v) => fmtBps(v)), size: axisSize, grid: { stroke: "#eceff3" } },
        ],
        legend: { live: true },
      }, [[], []], el);
      this.el.dataset.points = "0";
    }

    setData(markouts) {
      const rows = markouts || [];
      this.labels = rows.map((m) => m.label);
      this.counts = rows.map((m) => m.count);
      this.u.setData([rows.map((m, i) => i), rows.map((m) => (m.bps === null || m.bps === undefined ? null : m.bps))]);
      this.el.dataset.points = String(rows.filter((m) => m.bps !== null && m.bps !== undefined).length);
    }

    render() {}

    resize() {
      const w = widthOf(this.el);
      if (w !== this.u.width) this.u.setSize({ width: w, height: this.u.height });
    }
  }

  window.MMBotCharts = {
    COLORS, decimals, fmtStep, fmtMoney, fmtBps, fmtSigned, fmtClock, fmtTime, incrsOf,
    TimeChart, PriceChart, InventoryChart, PnlChart, MarkoutChart,
  };
})();
