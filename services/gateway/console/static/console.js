// The Concierge console: plain browser JavaScript, no build step.
// The API key lives in this tab's sessionStorage and goes in the Authorization
// header of every call, streams included (Server-Sent Events are read with
// fetch, because EventSource cannot send headers): never in a URL.
"use strict";

const KEY = "concierge-key";
const CHANNEL = "concierge-channel";
const PAGE = 20;
let streams = []; // AbortControllers of the open streams; closed on every navigation
let isOperator = false;

// ---- small DOM helpers (textContent only: nothing from the API becomes markup)
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
const $ = (selector) => document.querySelector(selector);
function fill(target, ...children) {
  const node = typeof target === "string" ? $(target) : target;
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}
function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}
function tag(text, kind) { return el("span", { class: `tag ${kind || ""}` }, text); }

// ---- the API
class Problem extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}
async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}`, Accept: "application/json" },
  });
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Problem(response.status, (body && body.detail) || response.statusText);
  return body;
}

// Server-Sent Events over fetch; reconnects from the last id it saw.
function stream(path, onEvent) {
  const control = new AbortController();
  streams.push(control);
  let lastId = null;
  async function run() {
    while (!control.signal.aborted) {
      try {
        const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` };
        if (lastId) headers["Last-Event-ID"] = lastId;
        const response = await fetch(path, { headers, signal: control.signal });
        if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          throw new Problem(response.status, body.detail || response.statusText);
        }
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          // Events end with a blank line; lines end with CRLF, LF or CR.
          let end;
          while ((end = buffer.match(/\r\n\r\n|\n\n|\r\r/)) !== null) {
            const block = buffer.slice(0, end.index);
            buffer = buffer.slice(end.index + end[0].length);
            const event = { event: "message", data: "" };
            for (const line of block.split(/\r\n|\n|\r/)) {
              if (line.startsWith(":")) continue;
              const at = line.indexOf(":");
              const name = at < 0 ? line : line.slice(0, at);
              const field = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
              if (name === "data") event.data += (event.data ? "\n" : "") + field;
              else if (name === "id") event.id = field;
              else if (name === "event") event.event = field;
            }
            if (event.id) lastId = event.id;
            if (event.data) onEvent(event.event, JSON.parse(event.data));
          }
        }
      } catch (error) {
        if (control.signal.aborted) return;
        if (error instanceof Problem && error.status < 500) {
          // Refused (another channel's key, a lost scope): retrying will not help.
          fill("#stream-problem", `Live updates refused: ${error.message}`);
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
  run();
}
function closeStreams() {
  for (const control of streams) control.abort();
  streams = [];
  fill("#stream-problem");
}

// ---- views
const VIEWS = ["sign-in-view", "customers-view", "customer-view", "operations-view"];
function show(id) {
  for (const view of VIEWS) $(`#${view}`).hidden = view !== id;
  $("#nav").hidden = id === "sign-in-view";
  $("#nav-operations").hidden = !isOperator;
}
function channel() { return $("#channel").value; }

async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  try {
    await api("/v1/operations/status");
    isOperator = true;
  } catch (error) {
    if (error.status === 401) {
      sessionStorage.removeItem(KEY);
      throw error;
    }
    isOperator = false; // a valid key that is not an operator's: the customer views only
  }
}

function customersView() {
  show("customers-view");
  const rows = new Map(); // customer id -> its row, moved (not rebuilt) when seen again
  const list = $("#active-customers");
  list.replaceChildren();
  function saw(customerId, what) {
    let row = rows.get(customerId);
    if (!row) {
      row = el("li", {}, el("a", { href: `#/customer/${encodeURIComponent(customerId)}`, "data-customer": customerId }, customerId),
        " ", el("span", { class: "muted" }));
      rows.set(customerId, row);
    }
    row.lastChild.textContent = what;
    list.prepend(row);
    while (list.children.length > 30) {
      rows.delete(list.lastChild.querySelector("a").dataset.customer);
      list.lastChild.remove();
    }
  }
  const query = `channel=${channel()}`;
  stream(`/v1/actions/stream?${query}`, (_, action) =>
    saw(action.customer_id, `${action.action.kind}: ${action.action.id}`));
  stream(`/v1/suppressions/stream?${query}`, (_, suppression) =>
    saw(suppression.customer_id, `suppressed: ${suppression.reason}`));
}

function renderWho(context) {
  const profile = Object.entries(context.profile || {}).map(([k, v]) => tag(`${k}: ${v}`));
  const cart = (context.cart || []).map((product) => tag(product));
  // Interests, when the context has them: a list of names or of {category, ...}, or name -> weight.
  const raw = context.interests || [];
  const interests = (Array.isArray(raw) ? raw : Object.keys(raw)).map((item) =>
    tag(typeof item === "object" ? item.category || item.name || JSON.stringify(item) : item));
  const purchases = (context.recent_purchases || []).map((p) => tag(`${p.category}: ${p.product_id}`));
  fill("#who .body",
    el("p", {}, context.provisional ? tag("anonymous visitor", "warn") : tag("known customer", "ok"),
      ` last seen ${when(context.last_seen)} on ${context.last_channel}`),
    el("p", {}, profile.length ? profile : el("span", { class: "muted" }, "no profile")),
    interests.length ? el("p", {}, "Interests: ", interests) : null,
    el("p", {}, "Cart: ", cart.length ? cart : el("span", { class: "muted" }, "empty")),
    purchases.length ? el("p", {}, "Bought: ", purchases) : null,
    el("p", { class: "hint" }, "Identifiers are kept hashed: no phone number or e-mail is shown."));
  const purposes = Object.keys(context.consent || {});
  const channels = ["web", "phone", "mobile", "store", "email", "sms", "push"];
  fill("#consent .body", el("table", {},
    el("tr", {}, el("th", {}, "purpose"), channels.map((c) => el("th", {}, c))),
    purposes.map((purpose) => el("tr", { "data-purpose": purpose }, el("td", {}, purpose),
      channels.map((c) => el("td", {}, context.consent[purpose].includes(c) ? "✓" : "✗"))))));
  const complaints = context.open_complaints || [];
  fill("#complaints .body", complaints.length
    ? el("ul", { class: "list" }, complaints.map((c) => el("li", {},
      tag(c.severity || "open", "warn"), ` ${c.case_id} ${c.category || ""} since ${when(c.opened_at)}`)))
    : el("p", { class: "muted" }, "none"));
}

function reasons(list) {
  return el("ul", { class: "list reasons" }, list.map((r) => el("li", {}, tag(r.code), " ", r.detail)));
}
function candidates(list) {
  return el("table", { class: "candidates" },
    el("tr", {}, el("th", {}, "action"), el("th", {}, "score"), el("th", {}, "why not")),
    list.map((c) => el("tr", {}, el("td", {}, c.action_id),
      el("td", {}, c.score === null ? "" : c.score.toFixed(3)),
      el("td", {}, c.excluded ? [tag(c.excluded.code, "warn"), " ", c.excluded.detail] : ""))));
}

// The customer's story for the person serving them (docs/contract/action.md,
// payload.briefing): every field as a line, objects and lists as their values.
function briefingOf(briefing) {
  const lines = Object.entries(briefing || {})
    .filter(([, v]) => v !== null && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => el("li", {}, el("strong", {}, `${k.replaceAll("_", " ")}: `),
      typeof v === "object" ? JSON.stringify(v) : String(v)));
  return lines.length
    ? el("div", { class: "briefing" }, el("h3", {}, "Briefing"), el("ul", { class: "list" }, lines))
    : null;
}

function renderNba(answer) {
  const action = answer.action;
  if (!action) {
    fill("#nba .body", el("p", { class: "muted nba-none" }, `Nothing to do on ${answer.channel} now.`),
      briefingOf(answer.briefing),
      el("details", {}, el("summary", {}, "Why"), candidates(answer.explanation.candidates)));
    return;
  }
  const { briefing, ...rest } = action.action.payload || {};
  const payload = Object.entries(rest).map(([k, v]) =>
    el("li", {}, el("strong", {}, `${k}: `), typeof v === "object" ? JSON.stringify(v) : String(v)));
  fill("#nba .body",
    el("p", { class: "nba-action" }, tag(action.action.kind, "ok"), " ", el("strong", {}, action.action.id),
      ` (${action.action.category}), score ${action.score.toFixed(3)}`),
    payload.length ? el("ul", { class: "list" }, payload) : null,
    briefingOf(briefing || answer.briefing),
    reasons(action.reasons),
    el("p", { class: "hint" }, `policy ${answer.policy_version}`));
}

function renderSuppressions(answer) {
  const items = answer.suppressions;
  fill("#suppressions .body", items.length
    ? el("ul", { class: "list" }, items.map((s) => el("li", { "data-reason": s.reason },
      tag(s.reason, "warn"), " ", s.detail,
      el("div", { class: "muted" }, `on ${s.scope.channels.join(", ") || "every channel"}`,
        s.scope.kinds.length ? `, ${s.scope.kinds.join(", ")}` : "",
        ` since ${when(s.effective_at)}`, s.until ? `, until ${when(s.until)}` : ", until lifted"))))
    : el("p", { class: "muted" }, "none: every contact is allowed by the rules"));
}

function timelineEntry(entry) {
  if (entry.kind === "event") {
    const attributes = Object.entries(entry.event.attributes).map(([k, v]) => `${k}=${v}`).join(", ");
    return el("li", { class: "event" }, el("span", { class: "muted" }, when(entry.at)), " ",
      tag(entry.event.channel), ` ${entry.event.type}`, attributes ? ` (${attributes})` : "");
  }
  if (entry.kind === "suppression") {
    const s = entry.suppression;
    return el("li", { class: "suppression" }, el("span", { class: "muted" }, when(entry.at)), " ",
      tag(`suppression ${s.state}`, "warn"), ` ${s.reason}: ${s.detail}`);
  }
  const d = entry.decision;
  const headline = d.winner
    ? [tag("action", "ok"), ` ${d.winner.action_id} on ${d.winner.channel} (score ${d.winner.score.toFixed(3)})`]
    : [tag("no action"), ` for ${d.trigger.type} on ${d.trigger.channel}`];
  return el("li", { class: "decision", "data-decision": d.decision_id },
    el("span", { class: "muted" }, when(entry.at)), " ", headline,
    el("details", {}, el("summary", {}, "Explanation"),
      candidates(d.candidates),
      d.notes.length ? el("ul", { class: "list" }, d.notes.map((n) => el("li", {}, n))) : null,
      el("p", { class: "hint" }, `decision ${d.decision_id}, policy ${d.policy_version}, `,
        `decided in ${d.timings.decide_us} µs`,
        d.timings.event_to_decision_ms === null ? "" : `, ${d.timings.event_to_decision_ms.toFixed(0)} ms after intake`)));
}

async function customerView(customerId) {
  show("customer-view");
  fill("#customer-title", `Customer ${customerId}`);
  fill("#customer-problem");
  for (const id of ["#who", "#nba", "#consent", "#complaints", "#suppressions", "#timeline"]) {
    fill(`${id} .body`, el("p", { class: "muted" }, "loading…"));
  }
  fill("#live-actions .body");
  const base = `/v1/customers/${encodeURIComponent(customerId)}`;
  let offset = 0;

  async function loadTimeline(reset) {
    if (reset) offset = 0;
    const page = await api(`${base}/timeline?limit=${PAGE}&offset=${offset}`);
    const items = page.entries.map(timelineEntry);
    if (reset) fill("#timeline .body", items); else $("#timeline .body").append(...items);
    offset = page.next_offset || offset;
    $("#timeline-more").hidden = page.next_offset === null;
  }
  $("#timeline-more").onclick = () => loadTimeline(false);
  const refresh = {
    context: async () => renderWho(await api(`${base}/context`)),
    nba: async () => renderNba(await api(`${base}/next-best-action?channel=${channel()}`)),
    suppressions: async () => renderSuppressions(await api(`${base}/suppressions`)),
    timeline: () => loadTimeline(true),
  };
  const failed = (await Promise.allSettled(Object.values(refresh).map((load) => load())))
    .filter((outcome) => outcome.status === "rejected");
  if (failed.length) fill("#customer-problem", failed[0].reason.message);

  const query = `channel=${channel()}&customer_id=${encodeURIComponent(customerId)}`;
  stream(`/v1/actions/stream?${query}`, (_, action) => {
    $("#live-actions .body").prepend(el("li", { class: "new live-action" },
      tag(action.action.kind, "ok"), ` ${action.action.id} `, el("span", { class: "muted" }, when(action.decided_at)),
      reasons(action.reasons.filter((r) => r.code !== "score"))));
    refresh.nba().catch(() => {});
    refresh.context().catch(() => {});
    refresh.timeline().catch(() => {});
  });
  stream(`/v1/suppressions/stream?${query}`, () => {
    refresh.suppressions().catch(() => {});
    refresh.timeline().catch(() => {});
  });
}

async function operationsView() {
  show("operations-view");
  async function loadStatus() {
    const status = await api("/v1/operations/status");
    fill("#status .body",
      el("p", {}, "Policy version ", el("strong", { id: "policy-version" }, status.policy_version || "unknown")),
      el("table", {}, el("tr", {}, el("th", {}, "stage"), el("th", {}, "lag"), el("th", {}, "partitions")),
        status.stages.map((s) => el("tr", { "data-stage": s.stage }, el("td", {}, s.stage), el("td", {}, s.lag),
          el("td", { class: "muted" }, `${s.partitions.length} partitions`,
            s.partitions.filter((p) => p.lag > 0).map((p) => `; ${p.topic}[${p.partition}] behind ${p.lag}`))))));
  }
  async function loadLetters() {
    const letters = await api("/v1/operations/dead-letters");
    const codes = Object.entries(letters.by_code).sort((a, b) => b[1] - a[1]);
    fill("#dead-letters .body",
      codes.length ? el("table", {},
        el("tr", {}, el("th", {}, "code"), el("th", {}, "letters"), el("th", {}, "")),
        codes.map(([code, count]) => el("tr", { "data-code": code }, el("td", {}, code), el("td", {}, count),
          el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => replay(code) }, "Replay")))))
        : el("p", { class: "muted" }, "none"),
      letters.recent.length ? el("details", {}, el("summary", {}, "Latest"),
        el("ul", { class: "list" }, letters.recent.slice(0, 20).map((l) => el("li", {}, tag(l.code, "warn"),
          ` ${l.message} `, el("span", { class: "muted" }, `${l.path || ""} ${l.source_topic}@${l.source_offset} ${when(l.rejected_at)}`))))) : null);
  }
  async function replay(code) {
    if (!window.confirm(`Send the ${code} dead letters back to their topics?`)) return;
    try {
      const result = await api(`/v1/operations/dead-letters/replay?code=${encodeURIComponent(code)}`, { method: "POST" });
      fill("#replay-result", `${result.replayed} replayed, ${result.skipped} not replayable, ${result.unreadable} unreadable`);
    } catch (error) {
      fill("#replay-result", el("span", { class: "problem" }, error.message));
    }
  }
  await Promise.allSettled([loadStatus(), loadLetters()]);
  const timer = setInterval(() => loadStatus().catch(() => {}), 5000);
  streams.push({ abort: () => clearInterval(timer) });
  function live(list, item) {
    list.prepend(item);
    while (list.children.length > 50) list.lastChild.remove();
  }
  stream(`/v1/actions/stream?channel=${channel()}`, (_, a) => live($("#ops-actions"),
    el("li", { class: "new" }, tag(a.channel), " ", el("a", { href: `#/customer/${encodeURIComponent(a.customer_id)}` }, a.customer_id),
      ` ${a.action.kind}: ${a.action.id}`)));
  stream("/v1/suppressions/stream", (_, s) => live($("#ops-suppressions"),
    el("li", { class: "new" }, tag(`${s.state}`, "warn"), " ", el("a", { href: `#/customer/${encodeURIComponent(s.customer_id)}` }, s.customer_id),
      ` ${s.reason}: ${s.detail}`)));
}

// ---- routing
async function route() {
  closeStreams();
  if (!sessionStorage.getItem(KEY)) { show("sign-in-view"); return; }
  const hash = location.hash || "#/customers";
  const customer = hash.match(/^#\/customer\/(.+)$/);
  if (customer) await customerView(decodeURIComponent(customer[1]));
  else if (hash === "#/operations" && isOperator) await operationsView();
  else customersView();
}

document.addEventListener("DOMContentLoaded", async () => {
  $("#channel").value = localStorage.getItem(CHANNEL) || "store";
  $("#channel").addEventListener("change", () => { localStorage.setItem(CHANNEL, channel()); route(); });
  $("#sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    fill("#sign-in-error");
    try {
      await signIn($("#api-key").value.trim());
      $("#api-key").value = "";
      await route();
    } catch (error) {
      fill("#sign-in-error", error.message);
    }
  });
  $("#sign-out").addEventListener("click", () => { sessionStorage.removeItem(KEY); isOperator = false; route(); });
  $("#find").addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/customer/${encodeURIComponent($("#find-id").value.trim())}`;
  });
  window.addEventListener("hashchange", route);
  if (sessionStorage.getItem(KEY)) {
    try { await signIn(sessionStorage.getItem(KEY)); } catch (error) { /* back to sign-in */ }
  }
  route();
});
