// The Agent SRE dashboard page: plain DOM, no build step. State arrives over Server-Sent Events; actions
// are same-origin JSON POSTs with our own header (the server refuses anything else).
const base = document.querySelector('meta[name="agent-sre-base"]').content;
const $ = (selector) => document.querySelector(selector);
let state = null;
let selected = null;

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const usd = (n) => (n >= 100 ? `$${n.toFixed(0)}` : n >= 1 ? `$${n.toFixed(2)}` : `$${n.toFixed(4)}`);
const time = (ms) => new Date(ms).toISOString().slice(11, 19);
const PILL = {
  CLOSED: "ok",
  HALF_OPEN: "warn",
  OPEN: "bad",
  HEALTHY: "ok",
  UNKNOWN: "wait",
  NONE: "wait",
  WARNING: "warn",
  CRITICAL: "bad",
  EXHAUSTED: "bad",
  LOW: "ok",
  MEDIUM: "warn",
  HIGH: "bad",
  ok: "ok",
  error: "bad",
  cancelled: "wait",
  allowed: "ok",
  refused: "bad",
  info: "info",
  warning: "warn",
  critical: "bad",
  RUNNING: "info",
  running: "info",
};
const pill = (text, kind = PILL[text] ?? "info") => el("span", { class: `pill pill-${kind}` }, text);

function toast(text) {
  const node = $("#toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (node.hidden = true), 4000);
}

async function act(action, body) {
  const response = await fetch(`${base}/api/actions/${action}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Agent-SRE-Action": "1" },
    body: JSON.stringify(body),
  });
  const result = await response.json().catch(() => ({ error: response.statusText }));
  toast(result.ok ? result.message : `failed: ${result.error}`);
  if (result.state) render(result.state);
}

function agentStatus(agent) {
  if (agent.quarantined !== null) return pill("QUARANTINED", "bad");
  if (agent.killed) return pill("KILLED", "bad");
  if (agent.held) return pill("HELD", "bad");
  if (agent.throttled) return pill("THROTTLED", "warn");
  return null;
}

function renderFleet() {
  const body = $("#fleet tbody");
  body.replaceChildren(
    ...state.agents.map((agent) => {
      const limit = agent.dailyLimitUsd;
      const ratio = limit ? Math.min(1, agent.spentTodayUsd / limit) : 0;
      const bar = el(
        "span",
        { class: `bar ${ratio >= 0.9 ? "bad" : ratio >= 0.75 ? "warn" : ""}` },
        el("span"),
      );
      bar.firstChild.style.width = `${(ratio * 100).toFixed(1)}%`;
      const actions = [];
      if (agent.killed)
        actions.push(
          el(
            "button",
            {
              "data-action": "revive",
              onclick: (e) => {
                e.stopPropagation();
                act("revive", { agentId: agent.id });
              },
            },
            "Revive",
          ),
        );
      if (agent.held)
        actions.push(
          el(
            "button",
            {
              "data-action": "confirm-anomaly",
              title: `cost anomaly: ${usd(agent.held.costUsd)} vs ~${usd(agent.held.expectedUsd)} (z = ${agent.held.score.toFixed(1)}); ${agent.held.refusedCalls} calls refused while held`,
              onclick: (e) => {
                e.stopPropagation();
                act("confirm-anomaly", { agentId: agent.id });
              },
            },
            "Confirm",
          ),
        );
      if (agent.quarantined !== null)
        actions.push(
          el(
            "button",
            {
              "data-action": "release",
              onclick: (e) => {
                e.stopPropagation();
                act("release", { agentId: agent.id });
              },
            },
            "Release",
          ),
        );
      return el(
        "tr",
        {
          "data-agent": agent.id,
          class: agent.id === selected ? "selected" : "",
          onclick: () => select(agent.id),
        },
        el("td", {}, el("b", {}, agent.id), " ", agentStatus(agent)),
        el("td", {}, agent.framework ?? "—"),
        el("td", { class: "num", "data-field": "calls" }, agent.calls),
        el("td", { class: "num", "data-field": "refused" }, agent.refused),
        el(
          "td",
          { "data-field": "spend" },
          bar,
          `${usd(agent.spentTodayUsd)} / ${limit === null ? "∞" : usd(limit)}`,
        ),
        el("td", { "data-field": "breaker" }, pill(agent.breaker)),
        el("td", { "data-field": "slo" }, pill(agent.slo)),
        el("td", { "data-field": "risk" }, pill(agent.risk)),
        el("td", {}, actions),
      );
    }),
  );
  $("#fleet-empty").hidden = state.agents.length > 0;
}

async function renderDetail() {
  const panel = $("#detail");
  if (selected === null) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  $("#detail-agent").textContent = selected;
  const response = await fetch(`${base}/api/agents/${encodeURIComponent(selected)}`, {
    credentials: "same-origin",
  });
  if (!response.ok) return;
  const { decisions } = await response.json();
  $("#decisions tbody").replaceChildren(
    ...decisions.map((d) =>
      el(
        "tr",
        {},
        el("td", {}, time(d.at)),
        el("td", {}, d.kind),
        el("td", {}, d.name),
        el("td", {}, pill(d.decision)),
        el("td", {}, pill(d.outcome, PILL[d.outcome] ?? "bad")),
        el("td", { class: "num" }, d.costUsd > 0 ? usd(d.costUsd) : "—"),
        el("td", { class: "num" }, d.durationMs === null ? "—" : Math.round(d.durationMs)),
        el("td", { class: "detail" }, d.detail ?? ""),
      ),
    ),
  );
}

function select(agentId) {
  selected = selected === agentId ? null : agentId;
  renderFleet();
  renderDetail();
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Burn rate per window as bars on a log scale, with the Workbook's page/ticket thresholds. */
function burnChart(slo) {
  const windows = Object.entries(slo.burnRates);
  const width = 420;
  const height = 120;
  const left = 34;
  const bottom = 18;
  const max = 100;
  const y = (rate) => {
    const v = Math.log10(1 + Math.min(rate, max)) / Math.log10(1 + max);
    return height - bottom - v * (height - bottom - 6);
  };
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `burn rates of ${slo.name}`,
  });
  for (const [threshold, color] of [
    [14.4, "#f85149"],
    [6, "#d29922"],
    [1, "#8294a8"],
  ]) {
    chart.append(
      svg("line", {
        x1: left,
        x2: width,
        y1: y(threshold),
        y2: y(threshold),
        stroke: color,
        class: "threshold",
      }),
    );
    chart.append(svg("text", { x: 2, y: y(threshold) + 3, class: "axis" }, `${threshold}×`));
  }
  const slot = (width - left) / Math.max(1, windows.length);
  windows.forEach(([window, rate], i) => {
    const x = left + i * slot + slot * 0.2;
    const top = y(rate);
    const color = rate >= 14.4 ? "#f85149" : rate >= 6 ? "#d29922" : rate > 1 ? "#58a6ff" : "#3fb950";
    chart.append(
      svg("rect", {
        x,
        y: top,
        width: slot * 0.6,
        height: Math.max(1, height - bottom - top),
        fill: color,
        "data-window": window,
      }),
    );
    chart.append(
      svg("text", { x: x + slot * 0.3, y: height - 4, class: "axis", "text-anchor": "middle" }, window),
    );
    chart.append(
      svg(
        "text",
        { x: x + slot * 0.3, y: top - 3, class: "axis", "text-anchor": "middle" },
        rate >= 10 ? rate.toFixed(0) : rate.toFixed(1),
      ),
    );
  });
  return chart;
}

function renderSlos() {
  $("#slos").replaceChildren(
    ...(state.slos.length === 0
      ? [el("p", { class: "muted" }, "No SLOs configured.")]
      : state.slos.map((slo) =>
          el(
            "div",
            { class: "slo", "data-slo": slo.name },
            el(
              "div",
              {},
              el("b", {}, slo.name),
              " ",
              slo.agentId ? el("span", { class: "muted" }, `(${slo.agentId}) `) : null,
              pill(slo.status),
              el(
                "span",
                { class: "muted" },
                ` budget left ${Math.max(0, slo.budgetRemainingPercent).toFixed(1)}% · target ${(slo.target * 100).toFixed(2)}%`,
              ),
            ),
            burnChart(slo),
          ),
        )),
  );
}

function renderBreakers() {
  const b = state.breakers;
  $("#cascade").replaceChildren(
    b.cascading ? pill("CASCADE", "bad") : pill("no cascade", "ok"),
    el("span", { class: "muted" }, ` ${b.open.length} open · threshold ${b.cascadeThreshold}`),
  );
  const rows = b.list.filter((breaker) => breaker.state !== "CLOSED");
  $("#breakers").replaceChildren(
    ...(rows.length === 0
      ? [el("li", { class: "muted" }, "All circuits closed.")]
      : rows.map((breaker) =>
          el(
            "li",
            { "data-breaker": breaker.id },
            pill(breaker.state),
            el("span", { class: "grow" }, breaker.id, breaker.forced ? " (held open)" : ""),
            el("span", { class: "muted" }, `trips ${breaker.tripCount}`),
            el(
              "button",
              {
                "data-action": "reset-breaker",
                onclick: () => act("reset-breaker", { breakerId: breaker.id }),
              },
              "Reset",
            ),
          ),
        )),
  );
}

function renderChaos() {
  $("#chaos").replaceChildren(
    ...(state.chaos.length === 0
      ? [el("li", { class: "muted" }, "No experiment running.")]
      : state.chaos.map((x) =>
          el(
            "li",
            { "data-experiment": x.name },
            pill(x.state),
            el("span", { class: "grow" }, el("b", {}, x.name), ` → ${x.targetAgent}`),
            el("span", { class: "muted" }, `${x.injectedTotal} faults / ${x.calls} calls`),
            el(
              "button",
              {
                class: "danger",
                "data-action": "abort-experiment",
                onclick: () => act("abort-experiment", { experiment: x.name }),
              },
              "Abort",
            ),
          ),
        )),
  );
}

function renderAlerts() {
  $("#alerts").replaceChildren(
    ...(state.alerts.length === 0
      ? [el("li", { class: "muted" }, "No alerts.")]
      : state.alerts
          .slice(0, 30)
          .map((a) =>
            el(
              "li",
              {},
              pill(a.severity),
              el("span", { class: "muted" }, time(a.at)),
              el("span", { class: "grow" }, a.agentId ? `${a.agentId}: ` : "", a.summary),
            ),
          )),
  );
}

function renderPaging() {
  const managed = state.managedAlerts;
  $("#paging").hidden = managed === null;
  if (managed === null) return;
  $("#active-alerts").replaceChildren(
    ...(managed.active.length === 0
      ? [el("li", { class: "muted" }, "Nothing is paging.")]
      : managed.active.map((a) =>
          el(
            "li",
            { "data-alert": a.name },
            pill(a.severity === "page" ? "critical" : a.severity === "ticket" ? "warning" : "info"),
            el(
              "span",
              { class: "grow" },
              el("b", {}, a.name),
              a.agent ? ` · ${a.agent}` : "",
              ` — ${a.summary}`,
            ),
            a.mutedBy
              ? el("span", { class: "muted" }, `muted (${a.mutedBy})`)
              : el(
                  "button",
                  {
                    "data-action": "silence-alert",
                    onclick: () => act("silence-alert", { matchers: a.matchers, durationMs: 3_600_000 }),
                  },
                  "Silence 1 h",
                ),
          ),
        )),
  );
  $("#silences").replaceChildren(
    ...managed.silences.map((s) =>
      el(
        "li",
        { "data-silence": s.id },
        pill("silenced", "wait"),
        el("span", { class: "grow" }, s.matchers.join(", ")),
        el("span", { class: "muted" }, `until ${time(s.endsAt)} · ${s.createdBy}`),
        el(
          "button",
          { "data-action": "expire-silence", onclick: () => act("expire-silence", { silenceId: s.id }) },
          "Expire",
        ),
      ),
    ),
  );
}

function render(next) {
  state = next;
  $("#revision").textContent = String(state.revision);
  $("#clock").textContent = new Date(state.at).toISOString().replace("T", " ").slice(0, 19);
  const banners = [];
  if (state.breakers.cascading)
    banners.push(el("div", { class: "banner" }, `Cascade: ${state.breakers.open.length} circuits open`));
  if (state.deploymentsFrozen)
    banners.push(el("div", { class: "banner" }, `Deployments frozen: ${state.freezeReasons.join("; ")}`));
  $("#banners").replaceChildren(...banners);
  renderFleet();
  renderSlos();
  renderBreakers();
  renderChaos();
  renderAlerts();
  renderPaging();
  if (selected !== null) renderDetail();
}

function connect() {
  const connection = $("#connection");
  const source = new EventSource(`${base}/api/events`, { withCredentials: true });
  source.addEventListener("state", (event) => {
    connection.textContent = "live";
    connection.className = "pill pill-ok";
    render(JSON.parse(event.data));
  });
  source.addEventListener("error", () => {
    connection.textContent = "reconnecting…";
    connection.className = "pill pill-warn";
  });
}

connect();
