// babelgate dashboard: reads /admin/api/* with the admin key (kept in sessionStorage, never in a URL)
// and follows /admin/api/events, a server-sent event stream read with fetch so the key travels in a header.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  key: sessionStorage.getItem("babelgate-admin-key"), providers: null, providersAt: 0, requests: [], series: [], controller: null,
  sessions: [], session: null,
};

function headers() {
  return { Authorization: "Bearer " + state.key };
}

async function api(path) {
  const response = await fetch(path, { headers: headers() });
  if (response.status === 401) {
    logout("That key was refused.");
    throw new Error("unauthorized");
  }
  if (!response.ok) throw new Error(path + ": " + response.status);
  return response.json();
}

function text(value) {
  return value === null || value === undefined || value === "" ? "-" : String(value);
}

function cell(row, value, className) {
  const td = document.createElement("td");
  td.textContent = text(value);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function ms(value) {
  return value === null || value === undefined ? "-" : Math.round(value) + " ms";
}

function time(epoch) {
  return new Date(epoch * 1000).toLocaleTimeString();
}

// ---- login -------------------------------------------------------------------------------

function showApp(visible) {
  $("login").hidden = visible;
  $("tabs").hidden = !visible;
  $("logout").hidden = !visible;
  $("live").hidden = !visible;
  if (!visible) for (const tab of document.querySelectorAll(".tab")) tab.hidden = true;
}

function logout(message) {
  sessionStorage.removeItem("babelgate-admin-key");
  state.key = null;
  if (state.controller) state.controller.abort();
  showApp(false);
  const error = $("login-error");
  error.hidden = !message;
  error.textContent = message || "";
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  state.key = $("key").value;
  try {
    await api("/admin/api/providers");
  } catch (err) {
    return;
  }
  sessionStorage.setItem("babelgate-admin-key", state.key);
  $("key").value = "";
  start();
});

$("logout").addEventListener("click", () => logout(""));

// ---- tabs --------------------------------------------------------------------------------

function select(name) {
  for (const button of document.querySelectorAll("#tabs button")) button.classList.toggle("active", button.dataset.tab === name);
  for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== name;
  if (name === "sessions") loadSessions();
  if (name === "config") api("/admin/api/config").then((config) => ($("config-text").textContent = JSON.stringify(config, null, 2)));
}

for (const button of document.querySelectorAll("#tabs button")) button.addEventListener("click", () => select(button.dataset.tab));

// ---- overview ----------------------------------------------------------------------------

function renderOverview(data) {
  const totals = data.totals;
  $("stat-requests").textContent = totals.requests;
  $("stat-errors").textContent = totals.errors;
  $("stat-latency").textContent = ms(totals.p50_ms) + " / " + ms(totals.p99_ms);
  $("stat-ttft").textContent = ms(totals.ttft_p50_ms);
  $("stat-tokens").textContent = totals.input_tokens + " / " + totals.output_tokens;
  $("stat-cost").textContent = "$" + totals.cost.toFixed(4);
  state.series = data.series;
  drawCharts();
}

function line(svg, points, max, className) {
  const path = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  const step = 600 / Math.max(points.length - 1, 1);
  path.setAttribute("points", points.map((v, i) => (i * step).toFixed(1) + "," + (155 - (150 * (v || 0)) / max).toFixed(1)).join(" "));
  path.setAttribute("class", className);
  svg.appendChild(path);
}

function chart(id, lines) {
  const svg = $(id);
  svg.replaceChildren();
  const max = Math.max(1, ...lines.flatMap((l) => l.values.map((v) => v || 0)));
  for (const l of lines) line(svg, l.values, max, l.className);
  svg.dataset.max = String(max);
  svg.dataset.total = String(lines[0].values.reduce((a, b) => a + (b || 0), 0));
}

function drawCharts() {
  const s = state.series;
  chart("chart-requests", [{ values: s.map((p) => p.requests), className: "a" }, { values: s.map((p) => p.errors), className: "b" }]);
  chart("chart-latency", [{ values: s.map((p) => p.p50_ms), className: "a" }, { values: s.map((p) => p.p99_ms), className: "b" }]);
  chart("chart-tokens", [{ values: s.map((p) => p.input_tokens), className: "a" }, { values: s.map((p) => p.output_tokens), className: "b" }]);
}

function countLive(summary) {
  // A finished request lands in the current minute at once; the next overview reload has the exact figures.
  const last = state.series[state.series.length - 1];
  if (!last) return;
  last.requests += 1;
  if (summary.status >= 400) last.errors += 1;
  last.input_tokens += summary.input_tokens;
  last.output_tokens += summary.output_tokens;
  $("stat-requests").textContent = Number($("stat-requests").textContent) + 1;
  if (summary.status >= 400) $("stat-errors").textContent = Number($("stat-errors").textContent) + 1;
  drawCharts();
}

// ---- providers ---------------------------------------------------------------------------

function renderProviders() {
  const data = state.providers;
  if (!data) return;
  const elapsed = Date.now() / 1000 - state.providersAt;
  const body = $("provider-rows");
  body.replaceChildren();
  $("stat-inflight").textContent = text(data.in_flight);
  for (const provider of data.providers) {
    for (const cred of provider.credentials) {
      const row = document.createElement("tr");
      row.dataset.credential = cred.id;
      cell(row, provider.provider);
      cell(row, cred.id);
      cell(row, cred.key, "mono");
      cell(row, cred.status, "status-" + cred.status);
      const cooldowns = cred.cooldowns.map((c) => {
        if (c.remaining_seconds === null) return c.model + ": " + c.reason;
        const left = Math.max(0, Math.ceil(c.remaining_seconds - elapsed));
        return c.model + ": " + c.reason + " " + left + "s";
      });
      cell(row, cooldowns.join(", "), "cooldown");
      cell(row, cred.today.requests);
      cell(row, cred.last_error ? cred.last_error.status + " " + cred.last_error.message : "");
      body.appendChild(row);
    }
  }
}

// ---- requests ----------------------------------------------------------------------------

function filters() {
  const form = new FormData($("filters"));
  return { model: form.get("model"), provider: form.get("provider"), status: form.get("status") };
}

function matches(summary, f) {
  if (f.model && summary.model !== f.model && summary.target !== f.model) return false;
  if (f.provider && summary.provider !== f.provider) return false;
  if (f.status && !(String(summary.status) === f.status || String(Math.floor(summary.status / 100)) === f.status)) return false;
  return true;
}

function requestRow(summary) {
  const row = document.createElement("tr");
  row.dataset.id = summary.id;
  row.className = summary.status >= 400 ? "failed" : "";
  cell(row, time(summary.started));
  cell(row, summary.client);
  cell(row, summary.dialect);
  cell(row, text(summary.model) + " → " + text(summary.target));
  cell(row, summary.attempts.length + (summary.target ? 1 : 0));
  cell(row, summary.status);
  cell(row, Math.round(summary.latency_ms));
  cell(row, summary.input_tokens + "/" + summary.output_tokens);
  cell(row, "$" + summary.cost.toFixed(4));
  row.addEventListener("click", () => showDetail(summary.id));
  return row;
}

function renderRequests() {
  const body = $("request-rows");
  body.replaceChildren(...state.requests.map(requestRow));
}

async function loadRequests() {
  const f = filters();
  const query = new URLSearchParams({ limit: "100" });
  for (const [k, v] of Object.entries(f)) if (v) query.set(k, v);
  state.requests = (await api("/admin/api/requests?" + query)).requests;
  renderRequests();
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  loadRequests();
});

function addRequest(summary) {
  countLive(summary);
  if (!matches(summary, filters())) return;
  state.requests.unshift(summary);
  state.requests.length = Math.min(state.requests.length, 200);
  $("request-rows").prepend(requestRow(summary));
}

async function showDetail(id) {
  const detail = await api("/admin/api/requests/" + encodeURIComponent(id));
  $("detail").hidden = false;
  $("detail-title").textContent = detail.id;
  const fields = $("detail-fields");
  fields.replaceChildren();
  const shown = [["status", detail.status], ["requested", detail.model], ["served by", detail.target], ["credential", detail.credential],
    ["dialect", detail.dialect], ["latency", ms(detail.latency_ms)], ["first byte", ms(detail.ttft_ms)],
    ["tokens", detail.input_tokens + " in, " + detail.output_tokens + " out"], ["cost", "$" + detail.cost.toFixed(6)], ["error", detail.error]];
  for (const [name, value] of shown) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = text(value);
    fields.append(dt, dd);
  }
  const trace = $("detail-trace");
  trace.replaceChildren();
  for (const a of detail.attempts) {
    const li = document.createElement("li");
    li.className = "attempt-failed";
    li.textContent = a.target + " via " + a.credential + ": " + text(a.status) + " " + a.reason + " — " + a.message;
    trace.appendChild(li);
  }
  if (detail.target) {
    const li = document.createElement("li");
    li.className = "attempt-served";
    li.textContent = detail.target + " via " + detail.credential + ": served " + detail.status;
    trace.appendChild(li);
  }
  $("detail-request").textContent = detail.request_body || "(not captured: observe.capture)";
  $("detail-response").textContent = detail.response_body || "(not captured: observe.capture)";
}

$("detail-close").addEventListener("click", () => ($("detail").hidden = true));

// ---- sessions ------------------------------------------------------------------------------

function names(counts) {
  const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([name, n]) => name + " ×" + Math.round(n)).join(", ") : "-";
}

function dollars(counts) {
  const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1]);
  return entries.map(([name, usd]) => name + " $" + usd.toFixed(6)).join(", ");
}

function plain(value) {
  return typeof value === "number" && !Number.isInteger(value) ? value.toFixed(6) : String(value);
}

function total(counts) {
  return Object.values(counts || {}).reduce((sum, n) => sum + n, 0);
}

function seconds(value) {
  if (!value) return "-";
  return value < 60 ? value.toFixed(1) + " s" : Math.round(value / 60) + " min";
}

function sessionRow(session) {
  const row = document.createElement("tr");
  const gateway = session.gateway || {};
  const telemetry = session.telemetry || {};
  const tokens = telemetry.tokens || {};
  row.dataset.session = session.id;
  cell(row, session.id.slice(0, 13), "mono").title = session.id;
  cell(row, time(session.last_seen));
  cell(row, [session.client["service.version"], session.client["terminal.type"]].filter(Boolean).join(" "));
  cell(row, gateway.requests || 0, "requests");
  cell(row, gateway.errors || 0, gateway.errors ? "status-error" : "");
  cell(row, names(gateway.served));
  const inOut = gateway.requests ? (gateway.input_tokens + " / " + gateway.output_tokens) : Math.round((tokens.input || 0) + (tokens.cacheRead || 0)) + " / " + Math.round(tokens.output || 0);
  cell(row, inOut);
  cell(row, gateway.requests ? "$" + gateway.cost.toFixed(4) : "-");
  cell(row, telemetry.cost_usd !== undefined ? "$" + telemetry.cost_usd.toFixed(4) : "-", "cc-cost");
  cell(row, telemetry.prompts || 0);
  cell(row, total(session.tools), "tools");
  row.addEventListener("click", () => showSession(session.id));
  return row;
}

async function loadSessions() {
  const data = await api("/admin/api/sessions");
  state.sessions = data.sessions;
  $("session-rows").replaceChildren(...state.sessions.map(sessionRow));
  $("sessions-empty").hidden = state.sessions.length > 0;
  if (state.session) showSession(state.session);
}

function showSession(id) {
  const session = state.sessions.find((s) => s.id === id);
  if (!session) return;
  state.session = id;
  const gateway = session.gateway || {};
  const telemetry = session.telemetry || {};
  $("session-detail").hidden = false;
  $("session-title").textContent = "Session " + session.id;
  const fields = {
    "first seen": time(session.first_seen),
    "last active": time(session.last_seen),
    "active time": seconds(telemetry.active_seconds),
    "gateway requests": (gateway.requests || 0) + " (" + (gateway.errors || 0) + " errors, " + (gateway.failovers || 0) + " failovers)",
    "served by": names(gateway.served),
    "Claude Code cost": telemetry.cost_usd !== undefined ? "$" + telemetry.cost_usd.toFixed(6) + " (" + dollars(telemetry.cost_by_model) + ")" : "-",
    "Claude Code tokens": names(telemetry.tokens),
    "lines of code": names(telemetry.lines),
    "tools": names(session.tools) + (session.tool_failures ? " (" + session.tool_failures + " failed)" : ""),
    "events": names(session.events),
    "spans": names(session.spans),
    "telemetry received": "metrics " + session.signals.metrics + ", log events " + session.signals.logs + ", spans " + session.signals.traces,
  };
  $("session-fields").replaceChildren(...Object.entries(fields).flatMap(([name, value]) => {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    return [dt, dd];
  }));
  $("session-events").replaceChildren(...session.recent.slice().reverse().map((event) => {
    const li = document.createElement("li");
    const details = Object.entries(event).filter(([k]) => k !== "time" && k !== "event").map(([k, v]) => k + "=" + plain(v)).join(" ");
    li.textContent = time(event.time) + " " + event.event + (details ? " " + details : "");
    return li;
  }));
}

$("session-close").addEventListener("click", () => {
  state.session = null;
  $("session-detail").hidden = true;
});

// ---- live stream -------------------------------------------------------------------------

function handle(event, data) {
  if (event === "providers") {
    state.providers = data;
    state.providersAt = Date.now() / 1000;
    renderProviders();
  } else if (event === "request") {
    addRequest(data);
  }
}

async function follow() {
  while (state.key) {
    state.controller = new AbortController();
    try {
      const response = await fetch("/admin/api/events", { headers: headers(), signal: state.controller.signal });
      if (response.status === 401) return logout("That key was refused.");
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      $("live").classList.add("on");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const name = (block.match(/^event: (.*)$/m) || [])[1];
          const data = (block.match(/^data: (.*)$/m) || [])[1];
          if (name && data) handle(name, JSON.parse(data));
        }
      }
    } catch (err) {
      if (!state.key) return;
    }
    $("live").classList.remove("on");
    await new Promise((resolve) => setTimeout(resolve, 2000)); // reconnect after a gateway restart
  }
}

async function start() {
  showApp(true);
  select("overview");
  renderOverview(await api("/admin/api/overview"));
  await loadRequests();
  follow();
  setInterval(renderProviders, 1000); // cooldown countdowns tick between updates
  setInterval(() => state.key && !$("sessions").hidden && loadSessions().catch(() => {}), 2000); // telemetry arrives on its own clock
  setInterval(() => state.key && api("/admin/api/overview").then(renderOverview), 30000);
}

if (state.key) start();
else showApp(false);
