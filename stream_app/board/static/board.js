"use strict";
// The board: fetch /api/board every 5 s and render it. No framework, no build step. Every
// figure cell carries data-kpi (and data-key) so a test can read what was rendered.
const errors = [];
window.addEventListener("error", (e) => report(String(e.message)));
window.addEventListener("unhandledrejection", (e) => report(String(e.reason)));

function report(message) {
  errors.push(message);
  const pre = document.getElementById("errors");
  pre.textContent = errors.join("\n");
  pre.hidden = false;
}

const fmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const fmt2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const pct = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 });

function cell(text, kpi, key, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (kpi) td.dataset.kpi = kpi;
  if (key !== undefined) td.dataset.key = key;
  if (cls) td.className = cls;
  return td;
}

function fill(id, rows, build, empty) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell(empty, null, undefined, "none label");
    td.colSpan = document.querySelectorAll(`#${id} thead th`).length;
    tr.append(td);
    body.append(tr);
    return;
  }
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.append(...build(row));
    body.append(tr);
  }
}

const n = (v) => (v === undefined ? "–" : fmt.format(v));

function render(data) {
  const alerts = document.getElementById("alerts");
  alerts.replaceChildren();
  if (!data.alerts.length) {
    alerts.append(Object.assign(document.createElement("div"), { className: "none", textContent: "None firing." }));
  }
  // One line per alert rule: how many series fire and the first few summaries.
  const byName = new Map();
  for (const a of data.alerts) {
    if (!byName.has(a.name)) byName.set(a.name, []);
    byName.get(a.name).push(a);
  }
  for (const [name, group] of byName) {
    const div = document.createElement("div");
    div.className = `alert ${group[0].severity}`;
    div.dataset.alert = name;
    const more = group.length > 3 ? ` … and ${group.length - 3} more` : "";
    div.textContent = `${name} (${group[0].severity || "no severity"}, ${group.length} firing): ` +
      group.slice(0, 3).map((a) => a.summary).join(" · ") + more;
    alerts.append(div);
  }
  // The people directory's gaps: a warning, not an alert (nothing is wrong with the pipeline).
  for (const u of data.unmapped || []) {
    const div = document.createElement("div");
    div.className = "alert info";
    div.dataset.unmapped = u.vendor;
    div.textContent = `People directory: ${n(u.unmapped_events)} ${u.vendor} events name a person ` +
      `it does not list (counted as unmapped-${u.vendor}; the normaliser's log says who).`;
    alerts.append(div);
  }
  fill("reps", data.reps || [], (r) => {
    const expected = r.dials_expected;
    const pace = expected ? (r.dials_today || 0) / expected : undefined;
    const paceClass = pace === undefined ? "" : pace < 0.8 ? "behind" : "ahead";
    return [
      cell(r.name || r.rep, null, undefined, "label"), cell(r.team, null, undefined, "label"),
      cell(n(r.dials_hour), "dials_hour", r.rep), cell(n(r.dials_today), "dials_today", r.rep),
      cell(n(expected), "dials_expected", r.rep),
      cell(pace === undefined ? "–" : pct.format(pace), "dials_pace", r.rep, paceClass),
      cell(n(r.dials_target), "dials_target", r.rep), cell(n(r.connects_today), "connects_today", r.rep),
      cell(r.talk_seconds_today === undefined ? "–" : fmt.format(r.talk_seconds_today / 60), "talk_minutes_today", r.rep),
    ];
  }, "No calls yet.");
  const amounts = {};
  for (const a of data.crm_amount || []) {
    amounts[a.rep] = (amounts[a.rep] ? amounts[a.rep] + ", " : "") + `${fmt2.format(a.won_amount)} ${a.currency}`;
  }
  const crm = data.crm || [];
  fill("crm", crm, (r) => [
    cell(r.name || r.rep, null, undefined, "label"), cell(n(r.handoffs), "crm_handoffs", r.rep),
    cell(n(r.complete_handoffs), "crm_complete_handoffs", r.rep), cell(n(r.accepted), "crm_accepted", r.rep),
    cell(n(r.won), "crm_won", r.rep), cell(n(r.lost), "crm_lost", r.rep), cell(amounts[r.rep] || "–", null),
  ], "No handoffs yet.");
  const foot = document.querySelector("#crm tfoot");
  foot.replaceChildren();
  if (crm.length) {
    const sum = (k) => crm.reduce((t, r) => t + (r[k] || 0), 0);
    const tr = document.createElement("tr");
    tr.append(cell("All reps", null, undefined, "label"), cell(n(sum("handoffs")), "crm_handoffs_total"),
      cell(n(sum("complete_handoffs")), "crm_complete_handoffs_total"), cell(n(sum("accepted")), "crm_accepted_total"),
      cell(n(sum("won")), "crm_won_total"), cell(n(sum("lost")), "crm_lost_total"), cell(""));
    foot.append(tr);
  }
  fill("email", data.email || [], (r) => [
    cell(r.campaign, null, undefined, "label"), cell(r.value, null, undefined, "label"),
    cell(n(r.delivered), "email_delivered", `${r.campaign}/${r.value}`),
    cell(n(r.human_opens), "email_human_opens", `${r.campaign}/${r.value}`),
    cell(r.delivered ? pct.format((r.human_opens || 0) / r.delivered) : "–", "email_open_rate", `${r.campaign}/${r.value}`),
  ], "No campaigns yet.");
  fill("health", data.health || [], (r) => [
    cell(r.pipeline, null, undefined, "label"),
    cell(r.up === 1 ? "up" : "DOWN", "pipeline_up", r.pipeline, r.up === 1 ? "" : "down"),
    cell(r.events_per_second === undefined ? "–" : r.events_per_second.toFixed(1), "events_per_second", r.pipeline),
    cell(n(r.lag), "lag", r.pipeline), cell(n(r.dead_letters), "dead_letters", r.pipeline), cell(n(r.late), "late", r.pipeline),
  ], "No pipelines scraped yet.");
  document.getElementById("source").textContent = data.prometheus;
  const problems = data.errors.length ? ` — ${data.errors.length} queries failed` : "";
  const status = document.getElementById("status");
  status.textContent = `as of ${new Date(data.as_of * 1000).toLocaleTimeString()}${problems}`;
  status.dataset.loaded = "yes";
}

async function refresh() {
  try {
    const response = await fetch("/api/board", { cache: "no-store" });
    if (!response.ok) throw new Error(`board data: HTTP ${response.status}`);
    render(await response.json());
  } catch (e) {
    document.getElementById("status").textContent = `not updated: ${e.message}`;
  }
}

refresh();
setInterval(refresh, 5000);
