"use strict";
// The board: fetch /api/board every 5 s and render it. No framework, no build step. Every
// figure cell carries data-kpi (and data-key) so a test can read what was rendered. Rates are
// computed here from the summed counts of the rows shown (never an average of rates), so a
// team filter's rates are that team's; each formula is the one docs/operations/board.md gives.
const errors = [];
window.addEventListener("error", (e) => report(String(e.message)));
window.addEventListener("unhandledrejection", (e) => report(String(e.reason)));

function report(message) {
  errors.push(message);
  const pre = document.getElementById("errors");
  pre.textContent = errors.join("\n");
  pre.hidden = false;
}

// ---- formatting, for the language shown --------------------------------------------------
const num = (v, digits = 0) =>
  v === undefined || v === null || Number.isNaN(v) ? "–"
    : new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(v);
const pct = (v) =>
  v === undefined || v === null ? "–"
    : new Intl.NumberFormat(locale(), { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(v);
const money = (v, currency) => {
  try {
    return new Intl.NumberFormat(locale(), { style: "currency", currency }).format(v);
  } catch (e) {
    return `${num(v, 2)} ${currency}`; // a code Intl does not know: the number and the code
  }
};
// Minutes with one decimal, never rounded to 0 when there was talk.
const minutes = (seconds) =>
  seconds === undefined ? "–" : seconds > 0 && seconds < 6 ? "<0.1" : num(seconds / 60, 1);
const ratio = (a, b) => (b ? (a || 0) / b : null);
const sum = (rows, key) => rows.reduce((t, r) => t + (r[key] || 0), 0);

function dayName(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  const when = new Date(Date.UTC(y, m - 1, d, 12));
  return new Intl.DateTimeFormat(locale(), { weekday: "short", month: "short", day: "numeric", timeZone: "UTC" }).format(when);
}

// ---- tables --------------------------------------------------------------------------------
function cell(text, kpi, key, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (kpi) td.dataset.kpi = kpi;
  if (key !== undefined) td.dataset.key = key;
  if (cls) td.className = cls;
  return td;
}

function head(id, keys) {
  const tr = document.createElement("tr");
  for (const k of keys) {
    const th = document.createElement("th");
    th.textContent = k.startsWith("=") ? k.slice(1) : t(k);
    tr.append(th);
  }
  document.querySelector(`#${id} thead`).replaceChildren(tr);
}

function fill(id, rows, build, emptyKey) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell(t(emptyKey), null, undefined, "none label");
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

function foot(id, cells) {
  const f = document.querySelector(`#${id} tfoot`);
  f.replaceChildren();
  if (!cells) return;
  const tr = document.createElement("tr");
  tr.append(...cells);
  f.append(tr);
}

function repCell(r) {
  const td = cell(r.name || r.rep, null, undefined, "label rep");
  td.title = r.rep;
  td.addEventListener("click", () => setView({ rep: r.rep }));
  return td;
}

// ---- filters: a team, or one rep -----------------------------------------------------------
const params = new URLSearchParams(location.search);
const view = { team: params.get("team") || "", rep: params.get("rep") || "" };
let last = null;

function setView(change) {
  Object.assign(view, change);
  const url = new URL(location.href);
  for (const k of ["team", "rep"]) view[k] ? url.searchParams.set(k, view[k]) : url.searchParams.delete(k);
  history.replaceState(null, "", url);
  if (last) render(last);
}

const keep = (rows) =>
  (rows || []).filter((r) => (!view.team || r.team === view.team) && (!view.rep || r.rep === undefined || r.rep === view.rep));

// ---- sections ------------------------------------------------------------------------------
function renderAlerts(data) {
  const alerts = document.getElementById("alerts");
  alerts.replaceChildren();
  if (!data.alerts.length) alerts.append(Object.assign(document.createElement("div"), { className: "none", textContent: t("none_firing") }));
  const byName = new Map();
  for (const a of data.alerts) {
    if (!byName.has(a.name)) byName.set(a.name, []);
    byName.get(a.name).push(a);
  }
  for (const [name, group] of byName) {
    const div = document.createElement("div");
    div.className = `alert ${group[0].severity}`;
    div.dataset.alert = name;
    const more = group.length > 3 ? ` … +${group.length - 3}` : "";
    div.textContent = `${name} (${group[0].severity || "–"}, ${group.length}): ` + group.slice(0, 3).map((a) => a.summary).join(" · ") + more;
    alerts.append(div);
  }
  for (const u of data.unmapped || []) {
    const div = document.createElement("div");
    div.className = "alert info";
    div.dataset.unmapped = u.vendor;
    div.textContent = t("unmapped", { n: num(u.unmapped_events), vendor: u.vendor });
    alerts.append(div);
  }
}

function renderActivity(data) {
  const day = data.day;
  const name = dayName(day.date);
  const label = document.getElementById("day-label");
  label.dataset.kind = day.kind;
  label.textContent =
    day.kind === "today" ? `${t("today")}, ${name}`
      : day.kind === "last_business_day" ? `${t("last_business_day")}, ${name} (${t("as_closed")}) — ${t("outside_hours")}`
        : `${t("today_so_far")}, ${name} — ${t("outside_hours")} (${t("no_business_day")})`;
  head("reps", ["rep", "team", "dials", "connects", "connect_rate", "machine", "talk", "short_calls", "expected", "pace", "target"]);
  const reps = keep(data.reps);
  const paceCell = (actual, expected, key) => {
    const pace = ratio(actual, expected);
    return cell(pace === null ? "–" : pct(pace), "dials_pace", key, pace === null ? "" : pace < 0.8 ? "behind" : "ahead");
  };
  fill("reps", reps, (r) => [
    repCell(r), cell(r.team, null, undefined, "label"),
    cell(num(r.dials_today), "dials_today", r.rep),
    cell(num(r.connects_today), "connects_today", r.rep),
    cell(pct(ratio(r.connects_today, r.dials_today)), "connect_rate_today", r.rep),
    cell(num(r.machine_answers_today), "machine_answers_today", r.rep),
    cell(minutes(r.talk_seconds_today), "talk_minutes_today", r.rep),
    cell(num(r.short_calls_today), "short_calls_today", r.rep),
    cell(num(r.dials_expected), "dials_expected", r.rep), paceCell(r.dials_today, r.dials_expected, r.rep),
    cell(num(r.dials_target), "dials_target", r.rep),
  ], "no_calls");
  foot("reps", reps.length > 1 ? [
    cell(t("total"), null, undefined, "label"), cell(""),
    cell(num(sum(reps, "dials_today")), "dials_today_total"),
    cell(num(sum(reps, "connects_today")), "connects_today_total"),
    cell(pct(ratio(sum(reps, "connects_today"), sum(reps, "dials_today"))), "connect_rate_today_total"),
    cell(num(sum(reps, "machine_answers_today"))), cell(minutes(sum(reps, "talk_seconds_today"))),
    cell(num(sum(reps, "short_calls_today"))), cell(num(sum(reps, "dials_expected"))),
    paceCell(sum(reps, "dials_today"), sum(reps, "dials_expected"), "total"), cell(num(sum(reps, "dials_target"))),
  ] : null);
  // Calls per hour of the shown day, the filtered teams summed, against the pace per hour.
  const hourly = data.hourly || { hours: [], teams: {} };
  const teams = Object.entries(hourly.teams).filter(([team]) => !view.team || team === view.team);
  const add = (key) => hourly.hours.map((_, i) => {
    const vs = teams.map(([, s]) => (s[key] || [])[i]).filter((v) => v !== null && v !== undefined);
    return vs.length ? vs.reduce((a, b) => a + b, 0) : null;
  });
  const hourFmt = new Intl.DateTimeFormat(locale(), { hour: "numeric", timeZone: day.timezone });
  const partial = add("partial").map((v) => Boolean(v));
  barsWithLine(document.getElementById("chart-hourly"), "hourly",
    hourly.hours.map((h) => hourFmt.format(new Date(h * 1000))), add("dials"), add("pace"),
    [[t("dials_bar"), "bar"], [t("pace_line"), "pace"]], (v) => num(v), t("no_data"), partial, t("partial_hour"));
}

function renderCrm(data) {
  const crm = keep(data.crm);
  head("crm", ["rep", "handoffs_n", "accepted", "conversion", "complete", "answered", "asked_unanswered", "not_asked", "not_applicable"]);
  const unanswered = (r) => (r.fields_asked_declined || 0) + (r.fields_asked_unknown || 0);
  const row = (r, key, suffix) => [
    cell(num(r.handoffs), `crm_handoffs${suffix}`, key), cell(num(r.accepted), `crm_accepted${suffix}`, key),
    cell(pct(ratio(r.accepted, r.handoffs)), `crm_conversion${suffix}`, key),
    cell(num(r.complete_handoffs), `crm_complete_handoffs${suffix}`, key),
    cell(num(r.fields_answered), `crm_fields_answered${suffix}`, key),
    cell(num(unanswered(r)), `crm_fields_asked_unanswered${suffix}`, key),
    cell(num(r.fields_not_asked), `crm_fields_not_asked${suffix}`, key),
    cell(num(r.fields_not_applicable), `crm_fields_not_applicable${suffix}`, key),
  ];
  fill("crm", crm, (r) => [repCell(r), ...row(r, r.rep, "")], "no_handoffs");
  const all = {};
  for (const k of ["handoffs", "accepted", "complete_handoffs", "fields_answered", "fields_asked_declined", "fields_asked_unknown", "fields_not_asked", "fields_not_applicable"]) all[k] = sum(crm, k);
  foot("crm", crm.length ? [cell(t("total"), null, undefined, "label"), ...row(all, undefined, "_total")] : null);
  stacked(document.getElementById("chart-quality"), "quality",
    crm.map((r) => ({ label: r.name || r.rep, parts: [r.fields_answered || 0, unanswered(r), r.fields_not_asked || 0] })),
    [t("answered"), t("asked_unanswered"), t("not_asked")], (v) => num(v), t("no_handoffs"));

  // Outcomes: won amount a column per currency, never joined into one cell.
  const amounts = keep(data.crm_amount);
  const currencies = [...new Set(amounts.map((a) => a.currency))].sort();
  head("outcomes", ["rep", "won", "lost", "win_rate", ...currencies.map((c) => `=${t("won_amount")} ${c}`), "days_to_close"]);
  const amountOf = (rep, c) => amounts.filter((a) => a.currency === c && (rep === undefined || a.rep === rep)).reduce((s, a) => s + a.won_amount, 0);
  const out = (r, rep, key, suffix) => [
    cell(num(r.won), `crm_won${suffix}`, key), cell(num(r.lost), `crm_lost${suffix}`, key),
    cell(pct(ratio(r.won, (r.won || 0) + (r.lost || 0))), `crm_win_rate${suffix}`, key),
    ...currencies.map((c) => cell(money(amountOf(rep, c), c), `crm_won_amount${suffix}`, key === undefined ? c : `${key}/${c}`)),
    cell(r.ttc_count ? num(r.ttc_seconds / r.ttc_count / 86400, 1) : "–", `crm_days_to_close${suffix}`, key),
  ];
  const decided = crm.filter((r) => (r.won || 0) + (r.lost || 0) > 0);
  fill("outcomes", decided, (r) => [repCell(r), ...out(r, r.rep, r.rep, "")], "no_outcomes");
  const tot = { won: sum(decided, "won"), lost: sum(decided, "lost"), ttc_seconds: sum(decided, "ttc_seconds"), ttc_count: sum(decided, "ttc_count") };
  const reps = new Set(crm.map((r) => r.rep));
  const totalAmount = (c) => amounts.filter((a) => a.currency === c && reps.has(a.rep)).reduce((s, a) => s + a.won_amount, 0);
  foot("outcomes", decided.length ? [cell(t("total"), null, undefined, "label"),
    ...out(tot, undefined, undefined, "_total").map((td, i) => {
      const c = currencies[i - 3];
      if (c !== undefined && i >= 3 && i < 3 + currencies.length) td.textContent = money(totalAmount(c), c);
      return td;
    })] : null);

  // The funnel, all time: dials -> connects -> handoffs -> accepted -> won.
  const calls = keep(data.funnel);
  const steps = [
    ["dials", sum(calls, "dials")], ["connects", sum(calls, "connects")],
    ["handoffs_n", sum(crm, "handoffs")], ["accepted", sum(crm, "accepted")], ["won", sum(crm, "won")],
  ];
  hbars(document.getElementById("chart-funnel"), "funnel",
    steps.map(([k, v], i) => ({ label: t(k), value: v, note: i ? pct(ratio(v, steps[i - 1][1])) : "" })),
    (v) => num(v), t("no_calls"));
  // A step larger than the one before it: CRM history from before the calls were counted.
  const note = document.getElementById("funnel-note");
  note.hidden = !steps.some(([, v], i) => i && v > steps[i - 1][1]);
  note.textContent = t("funnel_note");

  // The trend: 商談化率 and 受注率 of each week's handoffs (cohorts), last four weeks.
  const weeks = [...new Set((data.trend || []).map((r) => r.week))].sort();
  const trendRows = weeks.map((w) => {
    const rows = keep((data.trend || []).filter((r) => r.week === w));
    const r = { week: w };
    for (const k of ["handoffs", "accepted", "won", "lost"]) r[k] = sum(rows, k);
    r.conversion = ratio(r.accepted, r.handoffs);
    r.win_rate = ratio(r.won, r.won + r.lost);
    return r;
  });
  const thisWeek = weeks[weeks.length - 1];
  const weekFmt = (w) => (w === thisWeek ? `${dayName(w)} (${t("so_far")})` : dayName(w));
  lines(document.getElementById("chart-trend"), "trend", trendRows.map((r) => dayName(r.week)),
    [{ name: t("conversion"), values: trendRows.map((r) => r.conversion) }, { name: t("win_rate"), values: trendRows.map((r) => r.win_rate) }],
    pct, t("no_handoffs"));
  head("trend", ["week", "handoffs_n", "conversion", "won", "win_rate"]);
  fill("trend", trendRows, (r) => [
    cell(weekFmt(r.week), null, undefined, "label"), cell(num(r.handoffs), "trend_handoffs", r.week),
    cell(pct(r.conversion), "trend_conversion", r.week), cell(num(r.won), "trend_won", r.week),
    cell(pct(r.win_rate), "trend_win_rate", r.week),
  ], "no_handoffs");
}

function renderEmail(data) {
  head("email", ["campaign", "variant", "delivered", "human_opens", "open_rate", "machine_opens", "verdict", "=p"]);
  const ab = data.email_ab || [];
  fill("email", data.email || [], (r) => {
    const key = `${r.campaign}/${r.value}`;
    const test = ab.find((a) => a.campaign === r.campaign && a.variant === r.value) || {};
    const verdict = test.leader === 1 ? `✓ ${t("winner")}` : t("no_winner");
    return [
      cell(r.campaign, null, undefined, "label"), cell(r.value, null, undefined, "label"),
      cell(num(r.delivered), "email_delivered", key), cell(num(r.human_opens), "email_human_opens", key),
      cell(pct(ratio(r.human_opens, r.delivered)), "email_open_rate", key),
      cell(num(r.machine_opens), "email_machine_opens", key),
      cell(verdict, "email_verdict", key, test.leader === 1 ? "ahead label" : "label"),
      cell(test.p_value === undefined ? "–" : num(test.p_value, 3), "email_p_value", key),
    ];
  }, "no_campaigns");
}

const BANDS = ["cold", "warming", "warm", "hot"];

function renderRelationship(data) {
  const bands = data.bands || [];
  const leads = (b) => (bands.find((r) => r.band === b) || {}).leads || 0;
  hbars(document.getElementById("chart-bands"), "bands",
    BANDS.map((b) => ({ label: t(`band_${b}`), value: leads(b), cls: `band-${b}` })), (v) => num(v), t("no_leads"));
  for (const b of BANDS) document.querySelector("#chart-bands svg").dataset[`band${b[0].toUpperCase()}${b.slice(1)}`] = String(leads(b));
  const cal = keep(data.calibration);
  head("calibration", ["band", "leads", "handoffs_n", "won", "win_per_handoff"]);
  fill("calibration", BANDS, (b) => {
    const rows = cal.filter((r) => r.band === b);
    const handoffs = sum(rows, "handoffs"), won = sum(rows, "won");
    return [cell(t(`band_${b}`), null, undefined, `label band-${b}`), cell(num(leads(b)), "band_leads", b),
      cell(num(handoffs), "band_handoffs", b), cell(num(won), "band_won", b), cell(pct(ratio(won, handoffs)), "band_win_rate", b)];
  }, "no_leads");

  const touch = keep(data.touchpoints);
  const channels = [...new Set(touch.map((r) => r.channel))].sort();
  const reps = [...new Set(touch.map((r) => r.rep))].sort();
  head("touchpoints", ["rep", ...channels.map((c) => `=${c}`)]);
  fill("touchpoints", reps, (rep) => {
    const rows = touch.filter((r) => r.rep === rep);
    const named = rows[0] || {};
    return [repCell({ rep, name: named.name }), ...channels.map((c) => cell(num(sum(rows.filter((r) => r.channel === c), "touchpoints")), "touchpoints", `${rep}/${c}`))];
  }, "no_leads");

  head("segments", ["segment", "targeted", "engaged_share", "handoffs_n", "won", "win_per_handoff", "fit_index", "engages_not_winning"]);
  fill("segments", data.segments || [], (r) => [
    cell(r.segment, null, undefined, "label"), cell(num(r.targeted), "segment_targeted", r.segment),
    cell(pct(ratio(r.engaged, r.targeted)), "segment_engaged_share", r.segment),
    cell(num(r.handoffs), "segment_handoffs", r.segment), cell(num(r.won), "segment_won", r.segment),
    cell(pct(ratio(r.won, r.handoffs)), "segment_win_rate", r.segment),
    cell(r.fit_index === undefined ? "–" : num(r.fit_index, 2), "segment_fit_index", r.segment),
    cell(r.engages_not_winning === 1 ? `⚑ ${t("flag_yes")}` : "", "segment_engages_not_winning", r.segment, r.engages_not_winning === 1 ? "behind" : ""),
  ], "no_leads");
}

function renderHealth(data) {
  head("health", ["pipeline", "up", "events_s", "lag", "dead_letters", "late_live", "late_history"]);
  fill("health", data.health || [], (r) => [
    cell(r.pipeline, null, undefined, "label"),
    cell(r.up === 1 ? t("up_word") : t("down"), "pipeline_up", r.pipeline, r.up === 1 ? "" : "down"),
    cell(r.events_per_second === undefined ? "–" : num(r.events_per_second, 1), "events_per_second", r.pipeline),
    cell(num(r.lag), "lag", r.pipeline), cell(num(r.dead_letters), "dead_letters", r.pipeline),
    cell(num(r.late === undefined ? undefined : r.late - (r.late_history || 0)), "late_live", r.pipeline),
    cell(num(r.late_history), "late_history", r.pipeline),
  ], "no_pipelines");
  document.getElementById("health").title = t("late_note");
}

function renderFilters(data) {
  const select = document.getElementById("team");
  const teams = [...new Set([...(data.reps || []), ...(data.crm || [])].map((r) => r.team).filter(Boolean))].sort();
  const options = [["", t("all_teams")], ...teams.map((x) => [x, x])];
  select.replaceChildren(...options.map(([value, text]) => Object.assign(document.createElement("option"), { value, textContent: text })));
  select.value = view.team;
  const repView = document.getElementById("rep-view");
  repView.hidden = !view.rep;
  const named = [...(data.reps || []), ...(data.crm || [])].find((r) => r.rep === view.rep);
  document.getElementById("rep-name").textContent = named ? named.name || named.rep : view.rep;
}

function render(data) {
  last = data;
  applyWords();
  renderFilters(data);
  renderAlerts(data);
  renderActivity(data);
  renderCrm(data);
  renderEmail(data);
  renderRelationship(data);
  renderHealth(data);
  document.getElementById("source").textContent = data.prometheus;
  const problems = data.errors.length ? ` — ${data.errors.length} ${t("failed")}` : "";
  const status = document.getElementById("status");
  const time = new Intl.DateTimeFormat(locale(), { timeStyle: "medium" }).format(new Date(data.as_of * 1000));
  status.textContent = `${t("as_of")} ${time} · ${t("refreshes")}${problems}`;
  status.dataset.loaded = "yes";
  status.dataset.asOf = String(data.as_of); // the instant every figure was evaluated at
  // How far the page is wider than the window, or a table than its card (0: nothing needs
  // horizontal scrolling or is cut off), for the layout test.
  const spill = [...document.querySelectorAll("section table")].map((tb) => tb.offsetWidth - tb.closest("section").clientWidth);
  document.documentElement.dataset.overflow = String(Math.max(document.documentElement.scrollWidth - window.innerWidth, ...spill, 0));
}

async function refresh() {
  try {
    const response = await fetch("/api/board", { cache: "no-store" });
    if (!response.ok) throw new Error(`board data: HTTP ${response.status}`);
    render(await response.json());
  } catch (e) {
    document.getElementById("status").textContent = `${t("not_updated")}: ${e.message}`;
  }
}

document.getElementById("team").addEventListener("change", (e) => setView({ team: e.target.value, rep: "" }));
document.getElementById("rep-clear").addEventListener("click", () => setView({ rep: "" }));
for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => { setLang(b.dataset.lang); if (last) render(last); });
applyWords();
refresh();
setInterval(refresh, 5000);
