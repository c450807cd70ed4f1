// The operations console: plain DOM and fetch over the service's JSON API, no framework.
// The token lives in sessionStorage (this tab only) and travels as a bearer header; it is never
// put in an address. Data reaches the page through textContent only, never as HTML.
"use strict";

const TOKEN_KEY = "operations-console-token";
const STAGES = ["identified", "referred", "in-support", "job-ready", "matched", "in-work",
  "sustained", "off-benefit"];
const MEASURES = ["referrals_created", "referrals_started", "referral_conversion", "sla_breaches",
  "clients_job_ready", "matches_proposed", "submissions", "interviews", "placements_started",
  "sustained_13", "sustained_26", "revolving_door", "vacancies_notified", "vacancies_filled"];
const BY = ["month", "ward", "priority_group", "provider", "sector", "local_authority"];
const JOURNEY = ["clients", "engaged", "supported", "trained", "job", "sustained"];
// A JCP record is keyed by the claimant reference, which is personal: never shown.
const PERSONAL_KEY_TOPICS = /^jcp\./;

// What to stop when leaving a page (live tail, polling).
let leaving = [];

// --- the API --------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function call(path, options = {}) {
  const headers = { Authorization: `Bearer ${token()}`, ...(options.headers || {}) };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    ...options,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (response.status === 401) {
    signOut("Your token was refused; sign in again.");
    throw new ApiError(401, "signed out");
  }
  if (!response.ok) {
    let message = `${response.status}`;
    try {
      const body = await response.json();
      message = body.message || body.error || message;
    } catch (_) { /* not JSON: the status says enough */ }
    throw new ApiError(response.status, message);
  }
  return response;
}

async function api(path, options) {
  return (await call(path, options)).json();
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v != null) q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : "";
}

// --- DOM helpers ----------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child == null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function field(label, input) {
  return el("label", {}, label, " ", input);
}

function select(id, options, value) {
  return el("select", { id }, options.map((o) => el("option", { value: o, selected: o === value }, o || "any")));
}

function table(columns, rows, opts = {}) {
  const head = el("tr", {}, columns.map(([, title]) => el("th", {}, title)));
  const body = rows.map((row) =>
    el("tr", { class: opts.rowClass ? opts.rowClass(row) : null },
      columns.map(([key]) => {
        const value = typeof key === "function" ? key(row) : row[key];
        return el("td", {}, value instanceof Node ? value : value == null ? "—" : String(value));
      })));
  if (!rows.length) body.push(el("tr", {}, el("td", { colspan: columns.length, class: "empty" }, opts.empty || "Nothing yet.")));
  return el("table", { id: opts.id }, el("thead", {}, head), el("tbody", {}, body));
}

function status(node, message, kind = "info") {
  node.textContent = message;
  node.className = `status ${kind}`;
}

function fixed(x, digits = 2) {
  return typeof x === "number" ? Number(x.toFixed(digits)).toString() : String(x);
}

// --- charts: inline SVG ---------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

// Horizontal bars, one per row; `line` draws a reference (e.g. the four-fifths threshold).
function barChart(rows, { max, line, format = fixed, title, id, warn } = {}) {
  const barH = 22, gap = 6, labelW = 180, width = 640, valueW = 70;
  const top = Math.max(max ?? 0, ...rows.map((r) => r.value), line ?? 0) || 1;
  const height = Math.max(1, rows.length) * (barH + gap) + gap;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "chart" });
  if (id) chart.setAttribute("id", id);
  chart.append(svg("title", {}, title || "chart"));
  const span = width - labelW - valueW;
  rows.forEach((r, i) => {
    const y = gap + i * (barH + gap);
    chart.append(svg("text", { x: labelW - 8, y: y + barH * 0.7, "text-anchor": "end", class: "label" }, r.label));
    chart.append(svg("rect", {
      x: labelW, y, height: barH, width: Math.max(1, (r.value / top) * span),
      class: warn && warn(r) ? "bar warn" : "bar",
    }));
    chart.append(svg("text", { x: labelW + (r.value / top) * span + 6, y: y + barH * 0.7, class: "value" }, format(r.value)));
  });
  if (line != null) {
    const x = labelW + (line / top) * span;
    chart.append(svg("line", { x1: x, x2: x, y1: 0, y2: height, class: "threshold" }));
  }
  return chart;
}

// --- sign in and routing ---------------------------------------------------------------------

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  stopPage();
  document.getElementById("nav").hidden = true;
  renderSignIn(message);
}

function renderSignIn(message) {
  const main = document.getElementById("main");
  const input = el("input", { id: "token", type: "password", autocomplete: "off", required: true });
  const note = el("p", { id: "sign-in-status", class: "status", role: "status" });
  const form = el("form", { id: "sign-in-form" }, field("Token", input), el("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", (e) => signIn(e, input, note));
  main.replaceChildren(el("section", { id: "sign-in" },
    el("h2", {}, "Sign in"),
    el("p", {}, "Paste your operations (or JCP) token. It is kept for this browser tab only and sent as a bearer header, never in an address."),
    form, note));
  if (message) status(note, message, "error");
}

async function signIn(event, input, note) {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, input.value.trim());
  input.value = "";
  try {
    await call("/journeys"); // any read both roles may make: the token works
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    status(note, err.status === 403 ? "This token's role may not use the console." : "Token refused.", "error");
    return;
  }
  if (!location.hash || location.hash === "#/") location.hash = "#/streams";
  route();
}

const PAGES = {
  streams: streamsPage,
  dlq: deadLettersPage,
  caseloads: caseloadsPage,
  kpis: kpisPage,
  targets: targetsPage,
  fairness: fairnessPage,
  timeline: timelinePage,
};

function stopPage() {
  for (const stop of leaving) stop();
  leaving = [];
}

function route() {
  stopPage();
  if (!token()) {
    document.getElementById("nav").hidden = true;
    renderSignIn();
    return;
  }
  document.getElementById("nav").hidden = false;
  const [name, arg] = location.hash.replace(/^#\//, "").split("/");
  const page = PAGES[name] ? name : "streams";
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.getAttribute("href") === `#/${page}`);
  }
  const main = document.getElementById("main");
  const section = el("section", { id: `page-${page}` });
  main.replaceChildren(section);
  PAGES[page](section, arg ? decodeURIComponent(arg) : undefined).catch((err) => {
    if (err.status !== 401) section.append(el("p", { class: "status error" }, `Could not load: ${err.message}`));
  });
}

function every(ms, fn) {
  const timer = setInterval(fn, ms);
  leaving.push(() => clearInterval(timer));
}

// --- streams: lag and the live tail ---------------------------------------------------------

async function streamsPage(section) {
  const lagBox = el("div", { id: "lag" });
  const note = el("p", { class: "status", role: "status" });
  section.append(el("h2", {}, "Streams and lag"), note, lagBox);
  async function refresh() {
    try {
      const rows = await api("/streams/lag");
      const byGroup = {};
      for (const r of rows) byGroup[r.group] = (byGroup[r.group] || 0) + r.lag;
      const groups = Object.entries(byGroup).map(([label, value]) => ({ label, value }));
      lagBox.replaceChildren(
        el("h3", {}, "Lag per consumer group"),
        barChart(groups, { title: "lag per consumer group", id: "lag-chart", format: (x) => String(x), warn: (r) => r.value > 0 }),
        el("h3", {}, "Per partition"),
        table([["group", "Group"], ["topic", "Topic"], ["partition", "Partition"], ["committed", "Committed"], ["end", "End"], ["lag", "Lag"]],
          rows, { id: "lag-table", rowClass: (r) => (r.lag > 0 ? "behind" : null) }));
      status(note, `Updated ${new Date().toLocaleTimeString()}: ${rows.length} partitions, total lag ${groups.reduce((a, g) => a + g.value, 0)}.`);
    } catch (err) {
      if (err.status !== 401) status(note, `Lag unavailable: ${err.message}`, "error");
    }
  }
  await refresh();
  every(5000, refresh);
  section.append(tailPanel());
}

function tailPanel() {
  const topic = el("input", { id: "tail-topic", placeholder: "any topic" });
  const type = el("input", { id: "tail-type", placeholder: "any type" });
  const subject = el("input", { id: "tail-subject", placeholder: "any subject" });
  const button = el("button", { id: "tail-toggle", type: "button" }, "Start live tail");
  const note = el("p", { id: "tail-status", class: "status", role: "status" });
  const list = el("tbody", { id: "tail-rows" });
  let controller = null;

  function stop() {
    delete note.dataset.live;
    if (controller) controller.abort();
    controller = null;
    button.textContent = "Start live tail";
  }
  leaving.push(stop);

  function show(record) {
    const e = record.event;
    const hidden = PERSONAL_KEY_TOPICS.test(record.topic);
    list.prepend(el("tr", {}, el("td", {}, e.time || "—"), el("td", {}, record.topic), el("td", {}, e.type),
      el("td", {}, hidden ? "(claimant ref hidden)" : e.subject), el("td", {}, e.id)));
    while (list.children.length > 100) list.lastChild.remove();
  }

  async function start() {
    controller = new AbortController();
    button.textContent = "Stop live tail";
    status(note, "Connecting…");
    const path = "/streams/tail" + query({ topic: topic.value.trim(), type: type.value.trim(), subject: subject.value.trim() });
    try {
      // fetch, not EventSource: EventSource cannot send the bearer header.
      const response = await call(path, { signal: controller.signal, headers: { Accept: "text/event-stream" } });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          // The first keep-alive comes once the server reads the topics' ends: from then on
          // no new record is missed.
          if (block.startsWith(": keep-alive") && note.dataset.live !== "yes") {
            note.dataset.live = "yes";
            status(note, "Tailing: new records appear at the top.");
          }
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) show(JSON.parse(data));
        }
      }
      status(note, "The tail ended.");
    } catch (err) {
      if (err.name !== "AbortError" && err.status !== 401) status(note, `Tail stopped: ${err.message}`, "error");
    }
    stop();
  }

  button.addEventListener("click", () => (controller ? stop() : start()));
  return el("div", { id: "tail" },
    el("h3", {}, "Live tail"),
    el("div", { class: "filters" }, field("Topic", topic), field("Type", type), field("Subject", subject), button),
    note,
    el("table", {}, el("thead", {}, el("tr", {}, ["Time", "Topic", "Type", "Subject", "Event id"].map((t) => el("th", {}, t)))), list));
}

// --- dead letters and redrive ---------------------------------------------------------------

async function deadLettersPage(section) {
  const note = el("p", { id: "dlq-status", class: "status", role: "status" });
  const listBox = el("div", { id: "dlq-list" });
  const progressBox = el("div", { id: "redrive" });
  const rate = el("input", { id: "redrive-rate", type: "number", min: "1", max: "10000", value: "100" });
  section.append(el("h2", {}, "Dead letters"), note, listBox,
    el("div", { class: "filters" }, field("Records per second", rate)), progressBox);
  let letters = [];

  async function load() {
    letters = await api("/dlq");
    const boxes = new Map();
    const columns = [
      [(r) => {
        const box = el("input", { type: "checkbox", class: "pick", "data-ref": `${r.dlq_topic}/${r.partition}/${r.offset}`, disabled: r.redriven });
        boxes.set(r, box);
        return box;
      }, ""],
      ["dlq_topic", "DLQ topic"], ["partition", "Partition"], ["offset", "Offset"], ["original_topic", "From"],
      [(r) => (PERSONAL_KEY_TOPICS.test(r.original_topic || "") ? "(claimant ref hidden)" : r.key), "Key"],
      ["reason", "Reason"], ["error", "Error"], ["at", "Failed at"], ["group", "Group"],
      [(r) => (r.redriven ? "yes" : "no"), "Redriven"],
    ];
    const topics = [...new Set(letters.map((r) => r.dlq_topic))].sort();
    const redriveSelected = el("button", { id: "redrive-selected", type: "button" }, "Redrive selected");
    const topicAll = select("redrive-topic", topics, topics[0]);
    const redriveAll = el("button", { id: "redrive-all", type: "button", disabled: !topics.length }, "Redrive all of this topic");
    redriveSelected.addEventListener("click", () => {
      const chosen = letters.filter((r) => boxes.get(r)?.checked);
      const topicsChosen = new Set(chosen.map((r) => r.dlq_topic));
      if (!chosen.length) return status(note, "Tick the dead letters to redrive first.", "error");
      if (topicsChosen.size > 1) return status(note, "One dead-letter topic at a time.", "error");
      start({ dlq_topic: chosen[0].dlq_topic, offsets: chosen.map((r) => ({ partition: r.partition, offset: r.offset })) });
    });
    redriveAll.addEventListener("click", () => start({ dlq_topic: topicAll.value, all: true }));
    listBox.replaceChildren(
      table(columns, letters, { id: "dlq-table", empty: "No dead letters.", rowClass: (r) => (r.redriven ? "done" : null) }),
      el("div", { class: "filters" }, redriveSelected, topicAll, redriveAll));
    status(note, `${letters.length} dead letters, ${letters.filter((r) => !r.redriven).length} not redriven.`);
  }

  async function start(body) {
    const perSecond = Number(rate.value);
    if (perSecond > 0) body.max_per_second = perSecond;
    try {
      const task = await api("/dlq/redrive", { method: "POST", body });
      follow(task.task_id);
    } catch (err) {
      if (err.status !== 401) status(note, `Redrive refused: ${err.message}`, "error");
    }
  }

  function follow(taskId) {
    const bar = el("progress", { id: "redrive-progress", max: "1", value: "0" });
    const text = el("p", { id: "redrive-state", class: "status", role: "status" }, "starting…");
    const cancel = el("button", { id: "redrive-cancel", type: "button" }, "Cancel");
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      try {
        await api(`/dlq/redrive/${encodeURIComponent(taskId)}/cancel`, { method: "POST" });
      } catch (err) {
        if (err.status !== 401) status(text, `Cancel refused: ${err.message}`, "error");
      }
    });
    progressBox.replaceChildren(el("h3", {}, "Redrive ", el("code", {}, taskId)), bar, text, cancel);
    let stopped = false;
    leaving.push(() => { stopped = true; });
    (async function poll() {
      while (!stopped) {
        let state;
        try {
          state = await api(`/dlq/redrive/${encodeURIComponent(taskId)}`);
        } catch (err) {
          if (err.status !== 401) status(text, `Progress unavailable: ${err.message}`, "error");
          return;
        }
        bar.max = Math.max(1, state.total);
        bar.value = state.moved;
        status(text, `${state.status}: ${state.moved} of ${state.total} moved`, state.status === "failed" ? "error" : "info");
        text.dataset.status = state.status;
        if (state.status !== "running") {
          cancel.disabled = true;
          await load();
          return;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
  }

  await load();
}

// --- caseloads and journeys -----------------------------------------------------------------

function list(text) {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

async function caseloadsPage(section) {
  const note = el("p", { id: "caseload-status", class: "status", role: "status" });
  const id = el("input", { id: "caseload-id", required: true, maxlength: "64", placeholder: "target-wards" });
  const name = el("input", { id: "caseload-name", placeholder: "Target wards" });
  const las = el("input", { id: "caseload-las", placeholder: "Warrington, Halton" });
  const wards = el("input", { id: "caseload-wards", placeholder: "comma separated" });
  const benefits = el("input", { id: "caseload-benefits", placeholder: "UC, ESA" });
  const groups = el("input", { id: "caseload-groups", placeholder: "lone_parent, carer" });
  const ward = el("input", { id: "members-ward", placeholder: "any ward" });
  const stage = select("members-stage", ["", ...STAGES], "");
  const members = el("div", { id: "members" });
  const save = el("button", { id: "caseload-save", type: "button" }, "Save definition");
  const show = el("button", { id: "caseload-show", type: "button" }, "Show members");

  save.addEventListener("click", async () => {
    try {
      await api(`/caseloads/${encodeURIComponent(id.value.trim())}`, {
        method: "PUT",
        body: { name: name.value.trim() || id.value.trim(), local_authorities: list(las.value), wards: list(wards.value), benefits: list(benefits.value), priority_groups_any: list(groups.value) },
      });
      status(note, "Saved.");
      await showMembers();
    } catch (err) {
      if (err.status !== 401) status(note, `Not saved: ${err.message}`, "error");
    }
  });
  show.addEventListener("click", () => showMembers().catch((err) => err.status !== 401 && status(note, err.status === 404 ? "No such caseload." : err.message, "error")));

  async function showMembers() {
    const key = encodeURIComponent(id.value.trim());
    const def = await api(`/caseloads/${key}`);
    name.value = def.name; las.value = def.local_authorities.join(", "); wards.value = def.wards.join(", ");
    benefits.value = def.benefits.join(", "); groups.value = def.priority_groups_any.join(", ");
    const rows = await api(`/caseloads/${key}/members` + query({ ward: ward.value.trim(), stage: stage.value }));
    const counts = STAGES.map((s) => ({ label: s, value: rows.filter((r) => r.stage === s).length }));
    const tick = (ok) => (ok ? "✓" : "");
    members.replaceChildren(
      el("h3", {}, `${rows.length} members by stage`),
      barChart(counts, { title: "caseload members by stage", id: "stage-chart", format: String }),
      table([
        [(r) => el("a", { href: `#/timeline/${encodeURIComponent(r.client_id)}` }, r.client_id), "Client"],
        ["stage", "Stage"],
        ...["engaged", "supported", "trained", "job", "sustained"].map((k) => [(r) => tick(r.journey[k]), k]),
      ], rows, { id: "members-table", empty: "No member matches." }));
    status(note, `Caseload ${def.caseload_id}: ${rows.length} members.`);
  }

  section.append(el("h2", {}, "Caseloads"), note,
    el("div", { class: "form" }, field("Caseload id", id), field("Name", name), field("Local authorities", las),
      field("Wards", wards), field("Benefits", benefits), field("Any priority group", groups), save),
    el("div", { class: "filters" }, field("Ward", ward), field("Stage", stage), show), members,
    journeysPanel());
}

function journeysPanel() {
  const ward = el("input", { id: "journey-ward", placeholder: "any ward" });
  const group = el("input", { id: "journey-group", placeholder: "any priority group" });
  const la = el("input", { id: "journey-la", placeholder: "any local authority" });
  const from = el("input", { id: "journey-from", type: "date" });
  const to = el("input", { id: "journey-to", type: "date" });
  const out = el("div", { id: "journeys" });
  const go = el("button", { id: "journey-show", type: "button" }, "Show journeys");
  async function show() {
    try {
      const j = await api("/journeys" + query({ ward: ward.value.trim(), priority_group: group.value.trim(), local_authority: la.value.trim(), from: from.value, to: to.value }));
      out.replaceChildren(
        barChart(JOURNEY.map((k) => ({ label: k, value: j[k] })), { title: "the five journey questions", id: "journey-chart", format: String }),
        table(JOURNEY.map((k) => [k, k]), [j], { id: "journey-table" }));
    } catch (err) {
      if (err.status !== 401) out.replaceChildren(el("p", { class: "status error" }, err.message));
    }
  }
  go.addEventListener("click", show);
  show();
  return el("div", {}, el("h2", {}, "Journeys"),
    el("div", { class: "filters" }, field("Ward", ward), field("Priority group", group), field("Local authority", la), field("From", from), field("To", to), go), out);
}

// --- KPIs -----------------------------------------------------------------------------------

async function kpisPage(section) {
  const measure = select("kpi-measure", MEASURES, "referrals_created");
  const by = select("kpi-by", BY, "ward");
  const from = el("input", { id: "kpi-from", type: "date" });
  const to = el("input", { id: "kpi-to", type: "date" });
  const out = el("div", { id: "kpi-result" });
  const go = el("button", { id: "kpi-show", type: "button" }, "Show");
  const csv = el("button", { id: "kpi-csv", type: "button" }, "Download CSV");
  const params = () => query({ measure: measure.value, by: by.value, from: from.value, to: to.value });
  async function show() {
    try {
      const rows = await api("/kpis" + params());
      const ratio = measure.value === "referral_conversion";
      out.replaceChildren(
        barChart(rows.map((r) => ({ label: r.key, value: r.value })), { title: `${measure.value} by ${by.value}`, id: "kpi-chart", format: ratio ? (x) => `${Math.round(x * 100)}%` : String }),
        table([["key", by.value], ["value", measure.value]], rows, { id: "kpi-table", empty: "No figures for this selection." }));
    } catch (err) {
      if (err.status !== 401) out.replaceChildren(el("p", { class: "status error" }, err.message));
    }
  }
  csv.addEventListener("click", async () => {
    // Fetched with the header, then saved: a plain link would need the token in the address.
    const blob = await (await call("/kpis.csv" + params())).blob();
    const link = el("a", { href: URL.createObjectURL(blob), download: `${measure.value}-by-${by.value}.csv` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  });
  go.addEventListener("click", show);
  section.append(el("h2", {}, "KPIs"),
    el("div", { class: "filters" }, field("Measure", measure), field("By", by), field("From", from), field("To", to), go, csv), out);
  await show();
}

// --- targets as a RAG board -------------------------------------------------------------------

async function targetsPage(section) {
  const board = el("div", { id: "rag-board", class: "board" });
  const note = el("p", { id: "target-status", class: "status", role: "status" });
  section.append(el("h2", {}, "Targets"), note, board, targetForm(note, load));

  async function load() {
    const targets = await api("/targets");
    const columns = ["red", "amber", "green"].map((rag) => {
      const cards = targets.filter((t) => t.status === rag).map((t) => {
        const bar = el("progress", { max: String(Math.max(t.target, 0.0001)), value: String(Math.min(t.position, t.target)) });
        return el("article", { class: `card ${rag}`, "data-ref": t.ref },
          el("h4", {}, t.ref, " · ", t.action),
          el("p", {}, t.task),
          el("dl", {},
            el("dt", {}, "Measure"), el("dd", {}, t.measure),
            el("dt", {}, "Target"), el("dd", {}, fixed(t.target)),
            el("dt", {}, "Position"), el("dd", { class: "position" }, fixed(t.position)),
            el("dt", {}, "Trajectory"), el("dd", {}, fixed(t.trajectory)),
            el("dt", {}, "Status"), el("dd", { class: "rag" }, rag.toUpperCase()),
            el("dt", {}, "Planned action"), el("dd", {}, t.planned_action || "—"),
            el("dt", {}, "Deadline"), el("dd", {}, t.deadline)),
          bar);
      });
      return el("div", { class: `column ${rag}`, id: `rag-${rag}` }, el("h3", {}, `${rag[0].toUpperCase()}${rag.slice(1)} (${cards.length})`), cards);
    });
    board.replaceChildren(...columns);
    status(note, `${targets.length} targets.`);
  }
  await load();
}

function targetForm(note, reload) {
  const ref = el("input", { id: "target-ref", required: true, placeholder: "CS-1" });
  const action = el("input", { id: "target-action", placeholder: "Engage" });
  const task = el("input", { id: "target-task", placeholder: "Refer clients" });
  const measure = select("target-measure", MEASURES, "referrals_created");
  const filterBy = select("target-filter-by", ["", ...BY.filter((b) => b !== "month")], "");
  const filterValue = el("input", { id: "target-filter-value", placeholder: "value" });
  const target = el("input", { id: "target-target", type: "number", min: "0", step: "any" });
  const start = el("input", { id: "target-start", type: "date" });
  const deadline = el("input", { id: "target-deadline", type: "date" });
  const planned = el("input", { id: "target-planned", placeholder: "Planned action" });
  const save = el("button", { id: "target-save", type: "button" }, "Save target");
  save.addEventListener("click", async () => {
    const filters = filterBy.value && filterValue.value.trim() ? { [filterBy.value]: filterValue.value.trim() } : {};
    try {
      await api(`/targets/${encodeURIComponent(ref.value.trim())}`, {
        method: "PUT",
        body: { action: action.value, task: task.value, measure: measure.value, filters, target: Number(target.value), start: start.value, deadline: deadline.value, planned_action: planned.value },
      });
      status(note, "Saved.");
      await reload();
    } catch (err) {
      if (err.status !== 401) status(note, `Not saved: ${err.message}`, "error");
    }
  });
  return el("div", {}, el("h3", {}, "Add or change a target"),
    el("div", { class: "form" }, field("Ref", ref), field("Action", action), field("Task", task), field("Measure", measure),
      field("Filter by", filterBy), field("equal to", filterValue), field("Target", target), field("Start", start),
      field("Deadline", deadline), field("Planned action", planned), save));
}

// --- fairness ---------------------------------------------------------------------------------

async function fairnessPage(section) {
  const measure = select("fairness-measure", ["shortlisted", "placed"], "shortlisted");
  const from = el("input", { id: "fairness-from", type: "date" });
  const to = el("input", { id: "fairness-to", type: "date" });
  const out = el("div", { id: "fairness-result" });
  const go = el("button", { id: "fairness-show", type: "button" }, "Show");
  const disparate = (r) => r.clients >= 20 && r.ratio < 0.8;
  async function show() {
    try {
      const rows = await api("/fairness" + query({ measure: measure.value, from: from.value, to: to.value }));
      out.replaceChildren(
        el("p", {}, "Selection rate of each priority group against the highest group's (four-fifths rule: a group of at least 20 clients below 0.8 is a disparity)."),
        barChart(rows.map((r) => ({ label: r.group, value: r.ratio, clients: r.clients })), { max: 1, line: 0.8, title: "ratio to the highest group's rate", id: "fairness-chart", warn: (r) => r.clients >= 20 && r.value < 0.8 }),
        table([["group", "Group"], ["clients", "Clients"], ["selected", "Selected"], [(r) => fixed(r.rate, 3), "Rate"], [(r) => fixed(r.ratio, 3), "Ratio"], [(r) => (disparate(r) ? "disparity" : ""), ""]],
          rows, { id: "fairness-table", rowClass: (r) => (disparate(r) ? "behind" : null), empty: "No clients in this period." }));
    } catch (err) {
      if (err.status !== 401) out.replaceChildren(el("p", { class: "status error" }, err.message));
    }
  }
  go.addEventListener("click", show);
  section.append(el("h2", {}, "Fairness"), el("div", { class: "filters" }, field("Measure", measure), field("From", from), field("To", to), go), out);
  await show();
}

// --- a client's timeline ---------------------------------------------------------------------

async function timelinePage(section, clientId) {
  const id = el("input", { id: "timeline-client", placeholder: "CL-…", value: clientId || "" });
  const go = el("button", { id: "timeline-show", type: "button" }, "Show timeline");
  const out = el("div", { id: "timeline" });
  async function show() {
    const wanted = id.value.trim();
    if (!wanted) return;
    try {
      const rows = await api(`/clients/${encodeURIComponent(wanted)}/timeline`);
      out.replaceChildren(
        el("p", {}, `${rows.length} events, oldest first.`),
        table([["at", "At"], ["service", "Service"], ["type", "Event"], ["summary", "Summary"]], rows, { id: "timeline-table" }));
    } catch (err) {
      if (err.status === 401) return;
      out.replaceChildren(el("p", { class: "status error" }, err.status === 404
        ? "No timeline: no such client in your partnership, or no tracking consent."
        : err.message));
    }
  }
  go.addEventListener("click", show);
  section.append(el("h2", {}, "A client's timeline"),
    el("p", {}, "Only for clients who consented to tracking; by pseudonymous id."),
    el("div", { class: "filters" }, field("Client id", id), go), out);
  await show();
}

// --- start -----------------------------------------------------------------------------------

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
  route();
});
