/* mmbot console: the live page. Reads /console/stream (server-sent events: hello, then a frame every interval),
 * draws one tab per symbol with MMBotCharts, posts pause / resume / kill with the ops token, and runs the
 * explorer against /console/explore. Contract: /console in the ops server (bot/ops/console.py).
 * Every number shown is the server's (already at the tick / lot / 4 decimals), printed at the symbol's step. */
(function () {
  "use strict";

  const C = window.MMBotCharts;
  const TOKEN_KEY = "mmbot-token";
  const TABLE_FILLS = 100;  // rows of the fills table (the chart keeps every fill inside the window)
  const REFRESH = 2;  // seconds between the explorer's automatic re-asks at a new live mid

  const $ = (sel, root) => (root || document).querySelector(sel);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  };

  const state = {
    hello: null,        // the latest hello
    window: 600,        // the server's window, seconds
    view: 600,          // the selected window
    symbols: new Map(), // symbol -> {meta, panel, tab, charts, fills: [], frame}
    active: null,
    frame: null,        // the latest frame
    lastMessage: 0,
    pausePending: false,
    source: null,
  };

  // -- the token ------------------------------------------------------------------------------------

  function tokenFromHash() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (!m) return;
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  let pendingAction = null;

  function askToken(action) {
    pendingAction = action;
    $("#token-box").hidden = false;
    $("#token-input").focus();
  }

  function saveToken() {
    const value = $("#token-input").value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    $("#token-input").value = "";
    $("#token-box").hidden = true;
    const action = pendingAction;
    pendingAction = null;
    if (action) action();
  }

  // -- controls -------------------------------------------------------------------------------------

  function showResult(text, isError) {
    const out = $("#control-result");
    out.textContent = text;
    out.classList.toggle("error", !!isError);
  }

  /** POST a control; resolves to the JSON answer, or null after showing the refusal or the error. */
  async function post(path) {
    const t = token();
    if (!t) {
      askToken(() => control(path));
      showResult(`${path.slice(1)}: the ops token is needed (enter it above)`, true);
      return null;
    }
    let resp;
    try {
      resp = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${t}` },
        body: "{}",
        cache: "no-store",
      });
    } catch (err) {
      showResult(`${path.slice(1)}: no answer from the bot (${err.message}); nothing is known to have changed`, true);
      return null;
    }
    let body = null;
    try { body = await resp.json(); } catch (err) { body = null; }
    if (!resp.ok) {
      const why = body && body.error ? body.error : resp.statusText;
      showResult(`${path.slice(1)} refused: ${resp.status} ${why}`, true);
      if (resp.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        askToken(() => control(path));
      }
      return null;
    }
    return body || {};
  }

  function openOrders(symbols) {
    let n = 0;
    const frame = state.frame;
    if (!frame) return null;
    for (const sym of symbols) {
      const s = frame.symbols[sym];
      if (s && s.orders) n += s.orders.length;
    }
    return n;
  }

  function afterControl(path, answer) {
    const note = answer.note ? `; server: ${answer.note}` : "";
    if (path === "/pause") {
      state.pausePending = true;
      state.pausedSymbols = answer.paused || [];
      state.pauseNote = note;
      pauseProgress();
    } else if (path === "/resume") {
      state.pausePending = false;
      const still = answer.paused || [];
      showResult(still.length ? `resume accepted; still paused: ${still.join(", ")}${note}` :
        `resume accepted: no manual pause left${note}`);
    } else if (path === "/kill") {
      showResult(`kill accepted (killed: ${answer.killed}): the bot cancels every order, latches the kill and exits`);
    }
  }

  /** After a pause: say what is true until the frames show no open orders. */
  function pauseProgress() {
    if (!state.pausePending) return;
    const syms = state.pausedSymbols && state.pausedSymbols.length ? state.pausedSymbols : [...state.symbols.keys()];
    const n = openOrders(syms);
    if (n === null || n > 0) {
      showResult(`paused: withdrawing quotes (${n === null ? "?" : n} open)${state.pauseNote || ""}`);
    } else {
      showResult("paused: quotes withdrawn (0 open orders, bot's view)");
      state.pausePending = false;
    }
  }

  async function control(path) {
    const answer = await post(path);
    if (answer) afterControl(path, answer);
  }

  function setupControls() {
    $("#btn-pause").addEventListener("click", () => control("/pause"));
    $("#btn-resume").addEventListener("click", () => control("/resume"));
    const dialog = $("#kill-dialog");
    $("#btn-kill").addEventListener("click", () => dialog.showModal());
    $("#kill-cancel").addEventListener("click", () => {
      dialog.close();
      showResult("kill cancelled: nothing sent");
    });
    $("#kill-confirm").addEventListener("click", () => {
      dialog.close();
      control("/kill");
    });
    $("#token-save").addEventListener("click", saveToken);
    $("#token-input").addEventListener("keydown", (e) => { if (e.key === "Enter") saveToken(); });
  }

  // -- panels ---------------------------------------------------------------------------------------

  function buildSymbol(meta, index) {
    const sym = meta.symbol;
    const tab = el("button", { class: "tab", type: "button", role: "tab", "data-symbol": sym, "aria-selected": "false" },
      sym, el("span", { class: "tab-flag" }));
    tab.addEventListener("click", () => activate(sym));
    const panel = $("#panel-template").content.firstElementChild.cloneNode(true);
    panel.dataset.symbol = sym;
    panel.id = `panel-${index}`;
    tab.setAttribute("aria-controls", panel.id);
    $("#tabs").append(tab);
    $("#panels").append(panel);
    panel.hidden = false;  // charts size themselves to a shown container, then the panel hides
    const charts = {
      price: new C.PriceChart($(".chart-price", panel), { tick: meta.tick, xRange: viewRange, zoom: false }),
      inventory: new C.InventoryChart($(".chart-inventory", panel),
        { lot: meta.lot, limit: meta.limit, target_q: meta.target_q, xRange: viewRange, zoom: false }),
      pnl: new C.PnlChart($(".chart-pnl", panel), { xRange: viewRange, zoom: false }),
    };
    panel.hidden = true;
    return { meta, panel, tab, charts, fills: [], frame: null };
  }

  function activate(sym) {
    state.active = sym;
    for (const [name, s] of state.symbols) {
      const on = name === sym;
      s.tab.setAttribute("aria-selected", on ? "true" : "false");
      s.panel.hidden = !on;
    }
    const s = state.symbols.get(sym);
    if (!s) return;
    for (const chart of Object.values(s.charts)) chart.resize();
    renderTables(s);
    if (explorer.symbol !== sym) explorer.load(s);
  }

  function applyView() {
    for (const s of state.symbols.values()) for (const chart of Object.values(s.charts)) {
      chart.dirty = true;
      chart.render();
    }
  }

  /** The x scale shows the selected window, ending at the latest point. */
  function viewRange(min, max) {
    if (min === null || max === null) return [min, max];
    const lo = Math.max(min, max - state.view);
    return lo === max ? [lo - 1, max] : [lo, max];
  }

  function setupWindowSelect() {
    const select = $("#window");
    select.addEventListener("change", () => {
      state.view = Math.min(Number(select.value), state.window);
      applyView();
    });
  }

  function boundWindowSelect() {
    const select = $("#window");
    let best = null;
    for (const opt of select.options) {
      const secs = Number(opt.value);
      opt.disabled = secs > state.window + 1e-9;
      if (!opt.disabled) best = opt;
    }
    select.title = `the bot keeps the last ${+(state.window / 60).toFixed(1)} min`;
    if (select.selectedOptions[0] && select.selectedOptions[0].disabled && best) select.value = best.value;
    state.view = Math.min(Number(select.value), state.window);
  }

  // -- the stream -----------------------------------------------------------------------------------

  /** The stream's state; while it is not live the bot's state shows as the last one known (dimmed). */
  function setConn(text) {
    const conn = $("#conn");
    conn.textContent = text;
    conn.className = `badge conn-${text}`;
    const stateEl = $("#state");
    stateEl.classList.toggle("stale", text !== "live");
    stateEl.title = text !== "live" && state.frame ? "last known: the stream is down" : "";
  }

  function connect() {
    setConn("connecting");
    const source = new EventSource("/console/stream");
    state.source = source;
    source.addEventListener("hello", (e) => {
      state.lastMessage = Date.now();
      onHello(JSON.parse(e.data));
      setConn("live");
    });
    source.addEventListener("frame", (e) => {
      state.lastMessage = Date.now();
      if (!state.hello) return;
      const frame = JSON.parse(e.data);
      if (Object.keys(frame.symbols).some((sym) => !state.symbols.has(sym))) {
        renew(source);  // a symbol the hello did not describe (the bot was still starting): a fresh hello
        return;
      }
      onFrame(frame);
      if ($("#conn").textContent !== "live") setConn("live");
    });
    source.onerror = () => {
      setConn(state.hello ? "disconnected" : "connecting");
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(() => { if (state.source === source) connect(); }, 3000);
      }
    };
  }

  /** Reopen the stream (its first message is a hello), at most once a second. */
  function renew(source) {
    if (state.source !== source || Date.now() - (state.renewed || 0) < 1000) return;
    state.renewed = Date.now();
    source.close();
    connect();
  }

  /** No message for a few intervals: the stream is down even if the socket has not said so. */
  function watchdog() {
    if (!state.hello) return;
    const quiet = (Date.now() - state.lastMessage) / 1000;
    if (quiet > Math.max(5, 4 * state.hello.interval) && $("#conn").textContent === "live") setConn("disconnected");
  }

  function onHello(hello) {
    const first = !state.hello;
    const same = !first && JSON.stringify(state.hello.symbols.map((s) => s.symbol)) ===
      JSON.stringify(hello.symbols.map((s) => s.symbol));
    state.hello = hello;
    state.window = hello.window;
    boundWindowSelect();
    $("#venue").textContent = `${hello.venue} · ${hello.exchange}`;
    if (!same) {
      for (const s of state.symbols.values()) {
        for (const chart of Object.values(s.charts)) chart.destroy();
        s.tab.remove();
        s.panel.remove();
      }
      state.symbols.clear();
      hello.symbols.forEach((meta, i) => state.symbols.set(meta.symbol, buildSymbol(meta, i)));
    }
    for (const meta of hello.symbols) {
      const s = state.symbols.get(meta.symbol);
      s.meta = meta;
      s.charts.inventory.limits.limit = meta.limit;
      s.charts.inventory.limits.target = meta.target_q;
      const hist = (hello.history || {})[meta.symbol] || { t: [] };
      s.charts.price.setData(hist);
      s.charts.inventory.setData(hist);
      s.charts.inventory.showHedge(!!(hist.hedge_q && hist.hedge_q.some((v) => v !== null)));
      s.charts.pnl.setData(hist);
      const fills = ((hello.fills || {})[meta.symbol] || []).slice();
      s.charts.price.setFills(fills);
      s.fills = fills.slice().sort((a, b) => b.t - a.t).slice(0, TABLE_FILLS);
      s.fillsChanged = true;
    }
    applyView();
    const keep = state.active && state.symbols.has(state.active) ? state.active : hello.symbols[0] && hello.symbols[0].symbol;
    if (hello.frame) onFrame(hello.frame, true);
    if (keep) activate(keep);
  }

  function row(frame, sym) {
    const p = sym.pnl || {};
    return {
      t: frame.t, mid: sym.mid, reservation: sym.reservation, bid: sym.bid, ask: sym.ask,
      best_bid: sym.best_bid, best_ask: sym.best_ask, q: sym.q, hedge_q: sym.hedge ? sym.hedge.q : null,
      net_q: sym.hedge ? sym.hedge.net : null, total_pnl: p.total_pnl, spread_captured: p.spread_captured,
      skew_cost: p.skew_cost, inventory_pnl: p.inventory_pnl, fees: p.fees,
    };
  }

  /** One frame: a point per chart (appended in place unless the hello's history already holds it), the fills,
   *  the tables of the active tab, the header. */
  function onFrame(frame, fromHello) {
    state.frame = frame;
    const tmin = frame.t - state.window;
    for (const [name, s] of state.symbols) {
      const sym = frame.symbols[name];
      if (!sym) continue;
      s.frame = sym;
      const last = s.charts.price.last();
      if (!fromHello || last === null || frame.t > last) {
        const r = row(frame, sym);
        for (const chart of Object.values(s.charts)) chart.append(r);
      }
      const added = s.charts.price.addFills(sym.fills || []);
      const kept = s.fills.length;
      s.fills = [...added.slice().sort((a, b) => b.t - a.t), ...s.fills].filter((f) => f.t >= tmin)
        .slice(0, TABLE_FILLS);
      if (added.length || s.fills.length !== kept) s.fillsChanged = true;
      for (const chart of Object.values(s.charts)) {
        chart.trim(tmin);
        chart.render();
      }
      s.tab.querySelector(".tab-flag").textContent = sym.paused ? "paused" :
        Object.keys(sym.pauses || {}).length ? "halted" : "";
      if (name === state.active) renderTables(s);
      else if (s.fillsChanged) renderFills(s);  // every tab's fills table is current (its other tables on show)
    }
    renderHeader(frame);
    renderTotals(frame);
    pauseProgress();
    explorer.onFrame();
  }

  function renderHeader(frame) {
    const stateEl = $("#state");
    let text = "quoting";
    if (frame.killed) text = "KILLED";
    else if (frame.stopping) text = "stopping";
    else if (Object.values(frame.symbols).some((s) => s.paused)) text = "paused";
    stateEl.textContent = text;
    document.title = `${text} · mmbot console`;
    stateEl.className = `badge state-${text}${$("#conn").textContent === "live" ? "" : " stale"}`;
    stateEl.title = frame.killed && frame.kill_reason ? `kill: ${frame.kill_reason}` : "";
    $("#uptime").textContent = `up ${formatDuration(frame.uptime)}`;
    const killed = !!frame.killed;
    for (const id of ["#btn-pause", "#btn-resume", "#btn-kill"]) $(id).disabled = killed;
  }

  function formatDuration(s) {
    if (s === null || s === undefined) return "-";
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
    return h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
  }

  /** A cell of a patched row: [text, class] (a td) or {th: true, text, cls, span}. */
  function cell(text, cls) {
    return { text, cls: cls || "" };
  }

  function head(text, cls) {
    return { th: true, text, cls: cls || "" };
  }

  function signClass(v) {
    return v === null || v === undefined || v === 0 ? "" : v < 0 ? "neg" : "pos";
  }

  /** Make `tbody` show `rows` ({cls, id, title, cells}), reusing its rows and cells and touching only what
   *  changed: a table that is redrawn every frame then costs the browser next to nothing. */
  function patch(tbody, rows) {
    const trs = tbody.rows;
    rows.forEach((row, i) => {
      let tr = trs[i];
      const fits = tr && tr.cells.length === row.cells.length &&
        row.cells.every((c, j) => tr.cells[j].tagName === (c.th ? "TH" : "TD"));
      if (!fits) {
        const fresh = el("tr", {}, ...row.cells.map((c) => el(c.th ? "th" : "td")));
        if (tr) tr.replaceWith(fresh); else tbody.append(fresh);
        tr = fresh;
      }
      if (tr.className !== (row.cls || "")) tr.className = row.cls || "";
      if (row.id !== undefined && tr.dataset.id !== row.id) tr.dataset.id = row.id;
      if (row.title !== undefined && tr.title !== row.title) tr.title = row.title;
      row.cells.forEach((c, j) => {
        const td = tr.cells[j];
        if (td.textContent !== c.text) td.textContent = c.text;
        if (td.className !== c.cls) td.className = c.cls;
        if ((c.span || 1) !== td.colSpan) td.colSpan = c.span || 1;
      });
    });
    while (trs.length > rows.length) trs[trs.length - 1].remove();
  }

  function emptyRow(cols, text) {
    return { cells: [{ text, cls: "empty", span: cols }] };
  }

  function renderTotals(frame) {
    const totals = frame.totals || {};
    const ccys = Object.keys(totals);
    const box = $("#totals");
    let body = $("tbody", box);
    if (!body) {
      body = el("tbody");
      const titles = ["currency", "total P&L", "spread captured", "of which given up to skew", "inventory", "fees"];
      box.replaceChildren(el("table", {}, el("thead", {}, el("tr", {}, ...titles.map((t) => el("th", { text: t })))),
        body));
    }
    patch(body, ccys.length ? ccys.map((ccy) => {
      const t = totals[ccy];
      return { cells: [cell(ccy), cell(C.fmtMoney(t.total_pnl), signClass(t.total_pnl)),
        cell(C.fmtMoney(t.spread_captured)), cell(C.fmtMoney(t.skew_cost)),
        cell(C.fmtMoney(t.inventory_pnl), signClass(t.inventory_pnl)), cell(C.fmtMoney(t.fees))] };
    }) : [emptyRow(6, "no totals yet")]);
  }

  /** The fills table, newest first (patched only when the fills changed). */
  function renderFills(s) {
    const { tick, lot } = s.meta;
    const rows = s.fills.map((f) => ({
      cls: "fill", id: String(f.id), title: C.fmtTime(f.t),
      cells: [cell(C.fmtClock(f.t)), cell(f.side, f.side), cell(C.fmtStep(f.price, tick)), cell(C.fmtStep(f.amount, lot)),
        cell(String(f.id ?? ""))],
    }));
    patch($(".fills-table tbody", s.panel), rows.length ? rows : [emptyRow(5, "no fills in the window")]);
    s.fillsChanged = false;
    s.fillsDrawn = true;
  }

  function renderTables(s) {
    const sym = s.frame;
    if (!sym) return;
    const { tick, lot, base } = s.meta;
    const p = s.panel;

    const orders = (sym.orders || []).slice().sort((a, b) => b.price - a.price).map((o) => ({
      cls: "order",
      cells: [cell(o.side, o.side), cell(C.fmtStep(o.price, tick)), cell(C.fmtStep(o.amount, lot)),
        cell(o.ticks === null || o.ticks === undefined ? "-" : String(o.ticks)), cell(C.fmtBps(o.bps))],
    }));
    patch($(".orders-table tbody", p), orders.length ? orders : [emptyRow(5, "no open orders")]);

    if (s.fillsChanged || !s.fillsDrawn) renderFills(s);

    const pnl = sym.pnl || {};
    const pnlRows = [
      ["total", pnl.total_pnl, true], ["realized", pnl.realized_pnl, true], ["unrealized", pnl.unrealized_pnl, true],
      ["spread captured", pnl.spread_captured, true], ["of which given up to skew", pnl.skew_cost, false],
      ["inventory", pnl.inventory_pnl, true], ["fees", pnl.fees, false],
    ].map(([name, v, signed]) => ({ cells: [head(name), cell(C.fmtMoney(v), signed ? signClass(v) : ""), cell("")] }));
    const markHead = { cls: "section", cells: [head("markout (+ = against us)"), head("quote ccy"), head("bps / fills")] };
    const markRows = ["1s", "10s", "60s"].map((h) => {
      const v = pnl[`markout_${h}`], n = pnl[`markout_${h}_count`], b = pnl[`markout_${h}_bps`];
      return { cells: [head(`+${h}`), cell(n ? C.fmtMoney(v) : "-"), cell(n ? `${C.fmtBps(b)} / ${n}` : `- / ${n ?? 0}`)] };
    });
    patch($(".pnl-table tbody", p), [...pnlRows, markHead, ...markRows]);

    const balances = Object.entries(sym.balances || {}).map(([asset, b]) => ({
      cells: [cell(asset), cell(asset === base ? C.fmtStep(b.change, lot) : C.fmtMoney(b.change), signClass(b.change)),
        cell(b.venue_at_start ?? "-"), cell(b.expected ?? "-")],
    }));
    patch($(".balances-table tbody", p), balances.length ? balances : [emptyRow(4, "no balances reported")]);

    renderHealth(s);
  }

  function renderHealth(s) {
    const sym = s.frame, frame = state.frame;
    const rows = [];
    const item = (name, value, cls) => rows.push({ cells: [head(name), cell(value, cls)] });
    const age = sym.feed_age;
    item("feed age", age === null || age === undefined ? "no book yet" : `${age.toFixed(2)} s`,
      age === null || age === undefined || age > 3 ? "warn" : "ok");
    const pauses = Object.entries(sym.pauses || {});
    item("pauses", pauses.length ? pauses.map(([k, v]) => `${k}: ${v}`).join("; ") : "none", pauses.length ? "warn" : "ok");
    item("manual pause", sym.paused ? "paused from the console / mmbot pause" : "no", sym.paused ? "warn" : "");
    const r = frame.reaction;
    const ms = (v) => (v === null || v === undefined ? "-" : (v * 1000).toFixed(2));
    item("reaction p50 / p99", r && r.count ? `${ms(r.p50)} / ${ms(r.p99)} ms (latest ${r.count})` : "no reactions yet");
    item("rate limit", `${frame.rate_limit_hits} hit(s) since start; ${frame.rate_limited ? "limited now" : "open now"}`,
      frame.rate_limited ? "bad" : frame.rate_limit_hits ? "warn" : "");
    item("kill", frame.killed ? `KILLED: ${frame.kill_reason || "no reason given"}` : "armed, not tripped",
      frame.killed ? "bad" : "");
    item("position", `${C.fmtStep(sym.q, s.meta.lot)} of limit ${C.fmtStep(sym.limit, s.meta.lot)} ${s.meta.base}`);
    const box = $(".health", s.panel);
    let body = $("tbody", box);
    if (!body) {
      body = el("tbody");
      box.replaceChildren(el("table", { class: "kv" }, body));
    }
    patch(body, rows);
  }

  // -- the explorer ---------------------------------------------------------------------------------

  const FIELDS = ["q", "half_spread", "skew", "gamma", "sigma", "horizon", "limit"];
  const LOG = new Set(["gamma"]);  // sliders on a log10 scale (the number box beside holds the value itself)

  const explorer = {
    symbol: null,
    values: {},
    seq: 0,
    timer: null,
    controller: null,
    lastQuote: null,
    lastMid: null,
    lastAsked: 0,

    range(name) { return $(`#explorer input[type=range][name=${name}]`); },
    box(name) { return $(`#explorer input[type=number][data-for=${name}]`); },

    /** The number as the query carries it: at the lot for q and limit, else 10 significant digits. */
    text(name, v) {
      const meta = state.symbols.get(this.symbol).meta;
      if (name === "q" || name === "limit") return C.fmtStep(v, meta.lot);
      if (name === "half_spread") return C.fmtStep(v, meta.tick, 2);
      return String(Number(Number(v).toPrecision(10)));
    },

    setRange(name, min, max, step) {
      const r = this.range(name);
      r.min = String(min);
      r.max = String(max);
      r.step = String(step);
    },

    set(name, v) {
      this.values[name] = v;
      const text = this.text(name, v);
      this.slide(name, v);
      this.box(name).value = text;
    },

    /** Put the slider at `v` (its log10 on a log slider). */
    slide(name, v) {
      this.range(name).value = LOG.has(name) ? String(Math.log10(Math.max(v, 1e-12))) : this.text(name, v);
    },

    /** The value a slider stands at (3 significant digits on a log slider). */
    slid(name) {
      const raw = Number(this.range(name).value);
      return LOG.has(name) ? Number((10 ** raw).toPrecision(3)) : raw;
    },

    /** Slider ranges and values from the symbol's running config and live q. */
    load(s) {
      this.symbol = s.meta.symbol;
      $("#explorer-symbol").textContent = this.symbol;
      const { tick, lot, limit } = s.meta;
      const st = s.meta.strategy || {};
      const lim = limit > 0 ? limit : 100 * lot;
      const hs = st.half_spread > 0 ? st.half_spread : 5 * tick;
      const round = (v, step) => Number((Math.round(v / step) * step).toFixed(C.decimals(step)));
      this.setRange("q", round(-1.5 * lim, lot), round(1.5 * lim, lot), lot);
      this.setRange("half_spread", 0, Math.max(50 * tick, 2 * hs), tick);
      const skewMax = Math.max(3 * hs / lim, 2 * (st.skew || 0));
      this.setRange("skew", 0, Number(skewMax.toPrecision(6)), "any");
      this.setRange("gamma", -4, Math.max(-1, Math.log10(st.gamma || 0.1)), 0.01);  // log10: 1e-4 .. 1e-1
      const sigMax = Math.max(10 * tick, 5 * (st.sigma || 0));
      this.setRange("sigma", 0, Number(sigMax.toPrecision(6)), "any");
      this.setRange("horizon", 1, Math.max(600, 2 * (st.horizon || 0)), 1);
      this.setRange("limit", lot, round(3 * lim, lot), lot);
      $("#explorer-model").value = st.model || "linear";
      this.set("q", s.frame ? s.frame.q : 0);
      this.set("half_spread", hs);
      this.set("skew", st.skew ?? 0);
      this.set("gamma", st.gamma ?? 0.001);
      this.set("sigma", st.sigma ?? 10 * tick);
      this.set("horizon", st.horizon ?? 60);
      this.set("limit", lim);
      this.request();
    },

    preset() {
      $("#explorer-model").value = "linear";
      const lim = this.values.limit;
      if (lim > 0) this.set("skew", this.values.half_spread / lim);
      this.request();
    },

    query() {
      const params = new URLSearchParams({ symbol: this.symbol, model: $("#explorer-model").value });
      for (const name of FIELDS) {
        const v = this.values[name];
        if (v !== undefined && v !== null && isFinite(v)) params.set(name, this.text(name, v));
      }
      return params;
    },

    /** Ask the server, debounced; only the latest answer is shown. */
    request() {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.send(), 150);
    },

    async send() {
      if (!this.symbol) return;
      this.lastAsked = Date.now();
      const seq = ++this.seq;
      if (this.controller) this.controller.abort();
      this.controller = new AbortController();
      let resp, body;
      try {
        resp = await fetch(`/console/explore?${this.query()}`, { signal: this.controller.signal, cache: "no-store" });
        body = await resp.json();
      } catch (err) {
        if (seq === this.seq && err.name !== "AbortError") this.error(`no answer from the bot (${err.message})`);
        return;
      }
      if (seq !== this.seq) return;
      if (!resp.ok) {
        this.error(body && body.error ? body.error : `${resp.status} ${resp.statusText}`);
        return;
      }
      this.show(body);
    },

    error(text) {
      $("#explore-error").textContent = text;
      for (const id of ["bid", "ask", "reservation", "half-spread"]) $(`#explore-${id}`).textContent = "-";
      this.draw(null);
    },

    show(body) {
      const q = body.quote || {};
      const meta = state.symbols.get(body.symbol || this.symbol).meta;
      // the server's numbers (already at the tick; model values two digits finer, as `mmbot quote` prints them)
      // written with the tick's digits: 30000.30, not 30000.3
      const shown = (v, extra) => (v === null || v === undefined ? "-" : C.fmtStep(v, meta.tick, extra));
      $("#explore-error").textContent = "";
      $("#explore-bid").textContent = shown(q.bid, 0);
      $("#explore-ask").textContent = shown(q.ask, 0);
      $("#explore-reservation").textContent = shown(q.reservation, 2);
      $("#explore-half-spread").textContent = shown(q.half_spread, 2);
      $("#explore-mid").textContent = C.fmtStep(body.inputs ? body.inputs.mid : null, meta.tick, 1);
      $("#explore-bid-note").textContent = q.bid_reason || (q.bid_size != null ? `size ${q.bid_size}` : "");
      $("#explore-ask-note").textContent = q.ask_reason || (q.ask_size != null ? `size ${q.ask_size}` : "");
      $("#explore-command").textContent = body.command || "";
      this.lastQuote = { bid: q.bid, ask: q.ask, reservation: q.reservation };
      this.draw(body.symbol || this.symbol);
    },

    draw(symbol) {
      for (const [name, s] of state.symbols) {
        s.charts.price.setExplorer(name === symbol ? this.lastQuote : null);
        s.charts.price.render();
      }
    },

    /** The quote is computed at the live mid: ask again when the mid moved, at most every REFRESH seconds
     *  (many open pages must not load the bot). */
    onFrame() {
      // asked at least once (an answer or an error, e.g. no live mid yet): ask again as the mid moves
      if (!this.symbol || !this.lastAsked || document.visibilityState === "hidden") return;
      const s = state.symbols.get(this.symbol);
      const now = Date.now();
      if (s && s.frame && s.frame.mid !== this.lastMid && now - this.lastAsked >= REFRESH * 1000) {
        this.lastMid = s.frame.mid;
        this.request();
      }
    },

    setup() {
      for (const name of FIELDS) {
        this.range(name).addEventListener("input", () => {
          this.values[name] = this.slid(name);
          this.box(name).value = this.text(name, this.values[name]);
          this.request();
        });
        this.box(name).addEventListener("input", (e) => {
          if (e.target.value === "" || !isFinite(Number(e.target.value))) return;
          this.values[name] = Number(e.target.value);
          this.slide(name, this.values[name]);
          this.request();
        });
      }
      $("#explorer-model").addEventListener("change", () => this.request());
      $("#preset-hard-limit").addEventListener("click", () => this.preset());
      $("#explorer-reset").addEventListener("click", () => {
        const s = state.symbols.get(this.symbol);
        if (s) this.load(s);
      });
    },
  };

  // -- start ----------------------------------------------------------------------------------------

  function onResize() {
    const s = state.symbols.get(state.active);
    if (s) for (const chart of Object.values(s.charts)) chart.resize();
  }

  function start() {
    tokenFromHash();
    setupControls();
    setupWindowSelect();
    explorer.setup();
    window.addEventListener("resize", onResize);
    document.addEventListener("visibilitychange", onResize);  // back from a background tab: draw what came
    setInterval(watchdog, 1000);
    connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
