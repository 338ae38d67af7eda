"use strict";
// The board's words in English and Japanese. The Japanese KPI names are the seed article's
// (docs: "The board"); a key missing in one language falls back to English.
const WORDS = {
  en: {
    title: "Inside sales, live", team_filter: "Team", all_teams: "All teams", rep_view: "Rep",
    show_all: "show all", alerts: "Alerts firing", none_firing: "None firing.",
    activity: "Activity", today: "Today", last_business_day: "Last business day",
    as_closed: "as it closed", outside_hours: "outside business hours",
    today_so_far: "Today so far", no_business_day: "no business day recorded yet",
    chart_hourly: "Dials per hour against the pace line",
    funnel: "Funnel", all_time: "all time", trend: "Last four weeks",
    trend_note: "by the week of the handoff", handoffs: "Handoffs and their quality",
    handoffs_note: "all time", chart_quality: "Discovery fields per rep",
    outcomes: "Outcomes", outcomes_note: "credited to the rep who handed over, all time",
    email: "E-mail A/B", email_note: "human opens of delivered messages",
    relationship: "Relationship", relationship_note: "leads per band now; band at handoff against wins",
    touchpoints: "Touchpoints per channel", touch_note: "outreach and responses, all time",
    segments: "Target fit", segments_note: "per segment, all teams", health: "Pipelines",
    footer: "Numbers from Prometheus", definitions: "What each figure means",
    rep: "Rep", team: "Team", dials_hour: "Dials (hour)", dials: "Dials", connects: "Connects",
    connect_rate: "Connect rate", machine: "Machine", talk: "Talk time (min)",
    short_calls: "Short calls", expected: "Expected by now", pace: "Pace", target: "Target",
    total: "All", handoffs_n: "Handoffs", conversion: "Handoff conversion",
    complete: "Complete", answered: "Answered", asked_unanswered: "① Asked, unanswered",
    not_asked: "② Not asked", not_applicable: "n/a", accepted: "Accepted", won: "Won",
    lost: "Lost", win_rate: "Win rate", won_amount: "Won amount", days_to_close: "Days to close",
    week: "Week of", campaign: "Campaign", variant: "Variant", delivered: "Delivered",
    human_opens: "Human opens", open_rate: "Open rate", machine_opens: "Machine opens",
    verdict: "A/B verdict", leads: "Leads", winner: "winner", no_winner: "no winner yet",
    band: "Band", band_cold: "cold", band_warming: "warming", band_warm: "warm",
    band_hot: "hot", win_per_handoff: "Won / handed over", segment: "Segment",
    targeted: "Targeted", engaged_share: "Engaged", fit_index: "Fit index",
    engages_not_winning: "Engages, not winning", flag_yes: "yes", pipeline: "Pipeline",
    up: "Up", events_s: "Events/s", lag: "Lag", dead_letters: "Dead letters",
    late_live: "Late (live)", late_history: "Late (history)", down: "DOWN", up_word: "up",
    no_calls: "No calls yet.", no_handoffs: "No handoffs yet.", no_outcomes: "No outcomes yet.",
    no_campaigns: "No campaigns yet.", no_leads: "No leads scored yet.",
    no_pipelines: "No pipelines scraped yet.", as_of: "as of", refreshes: "refreshes every 5 s",
    failed: "queries failed", not_updated: "not updated", unmapped:
      "People directory: {n} {vendor} events name a person it does not list (counted as unmapped-{vendor}; the normaliser's log says who).",
    pace_line: "pace", dials_bar: "dials", no_data: "No data for this span yet.",
    partial_hour: "since Prometheus started this hour", so_far: "so far",
    funnel_note: "A step larger than the one before it: CRM history from before the calls were counted (all time is since each pipeline's state began).",
    late_note: "Late (history): a day or more behind the newest event, e.g. seeded or backfilled past; counted in totals, closed windows keep their figures.",
  },
  ja: {
    title: "インサイドセールス ライブ", team_filter: "チーム", all_teams: "全チーム",
    rep_view: "担当者", show_all: "全員を表示", alerts: "発生中のアラート",
    none_firing: "アラートはありません。", activity: "活動量", today: "本日",
    last_business_day: "前営業日", as_closed: "終業時点", outside_hours: "営業時間外",
    today_so_far: "本日これまで", no_business_day: "営業日の記録はまだありません",
    chart_hourly: "時間帯別の架電数とペースライン", funnel: "ファネル", all_time: "累計",
    trend: "直近4週間", trend_note: "商談化した週ごと", handoffs: "商談化とその質",
    handoffs_note: "累計", chart_quality: "担当者別ヒアリング項目", outcomes: "受注",
    outcomes_note: "パスしたインサイドセールス担当者に計上、累計", email: "メール A/B テスト",
    email_note: "配信済みメールの人による開封", relationship: "顧客との関係性（スコア）",
    relationship_note: "現在のバンド別リード数と、商談化時のバンド別の受注",
    touchpoints: "チャネル別接点数", touch_note: "アプローチと反応、累計",
    segments: "ターゲットの妥当性", segments_note: "セグメント別、全チーム", health: "パイプライン",
    footer: "Prometheus の数値", definitions: "各指標の定義", rep: "担当者", team: "チーム",
    dials_hour: "架電数（この1時間）", dials: "架電数", connects: "接続数", connect_rate: "接続率",
    machine: "留守電・機械応答", talk: "通話時間（分）", short_calls: "短時間通話",
    expected: "現時点の目安", pace: "ペース", target: "目標", total: "合計",
    handoffs_n: "商談化数", conversion: "商談化率", complete: "ヒアリング完了",
    answered: "回答あり", asked_unanswered: "① 質問したが回答なし", not_asked: "② 質問していない",
    not_applicable: "該当なし", accepted: "受入", won: "受注数", lost: "失注数", win_rate: "受注率",
    won_amount: "受注金額", days_to_close: "受注・失注までの日数", week: "週",
    campaign: "キャンペーン", variant: "パターン", delivered: "配信数", human_opens: "開封数（人）",
    open_rate: "メール開封率", machine_opens: "機械による開封", verdict: "A/B 判定",
    leads: "リード数", winner: "勝ち", no_winner: "判定待ち", band: "バンド", band_cold: "コールド",
    band_warming: "ウォーミング", band_warm: "ウォーム", band_hot: "ホット",
    win_per_handoff: "受注 / 商談化", segment: "セグメント", targeted: "ターゲット数",
    engaged_share: "関係構築済み", fit_index: "適合指数", engages_not_winning: "反応あり・受注なし",
    flag_yes: "該当", pipeline: "パイプライン", up: "稼働", events_s: "件/秒", lag: "遅延件数",
    dead_letters: "デッドレター", late_live: "遅着（ライブ）", late_history: "遅着（過去分）",
    down: "停止", up_word: "稼働中", no_calls: "まだ架電はありません。",
    no_handoffs: "まだ商談化はありません。", no_outcomes: "まだ受注・失注はありません。",
    no_campaigns: "まだキャンペーンはありません。", no_leads: "まだスコアのあるリードはありません。",
    no_pipelines: "まだパイプラインの情報がありません。", as_of: "更新", refreshes: "5秒ごとに更新",
    failed: "件のクエリが失敗", not_updated: "更新できません",
    unmapped: "担当者名簿: {vendor} のイベント {n} 件が名簿にない担当者を指しています（unmapped-{vendor} として計上。誰かはノーマライザのログに記録）。",
    pace_line: "ペース", dials_bar: "架電数", no_data: "この期間のデータはまだありません。",
    partial_hour: "Prometheus の起動後のみ", so_far: "途中",
    funnel_note: "前の段より大きい段があります: 架電の計測開始より前の CRM 履歴が含まれています（累計は各パイプラインの計測開始から）。",
    late_note: "遅着（過去分）: その区画の最新イベントより1日以上前のもの（初期データやバックフィル）。累計には含まれ、締めた時間枠の数値は変わりません。",
  },
};

function chooseLang() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked && WORDS[asked]) return asked;
  const kept = localStorage.getItem("board-lang");
  if (kept && WORDS[kept]) return kept;
  return (navigator.languages || [navigator.language || "en"]).some((l) => l.startsWith("ja")) ? "ja" : "en";
}

let LANG = chooseLang();
const t = (key, vars) => {
  let text = (WORDS[LANG] && WORDS[LANG][key]) || WORDS.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) text = text.replaceAll(`{${k}}`, v);
  return text;
};
const locale = () => (LANG === "ja" ? "ja-JP" : "en-US");

function setLang(lang) {
  LANG = lang;
  localStorage.setItem("board-lang", lang);
  const url = new URL(location.href);
  url.searchParams.set("lang", lang);
  history.replaceState(null, "", url);
  applyWords();
}

function applyWords() {
  document.documentElement.lang = LANG;
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const b of document.querySelectorAll("[data-lang]")) b.classList.toggle("on", b.dataset.lang === LANG);
}
