"""Grafana dashboards as code: plain dicts, written to deploy/grafana/dashboards by
`python -m stream_app.tools.dashboards` (tests/ops/test_dashboards.py fails while the files on
disk differ). Each family's boards are its own (`families/<name>/grafana.py`), the
pipeline-health board is the spine's (`pipeline.py`); `promql` and `panels` are what they share;
`render` makes the JSON.

Rules the queries follow (README, "Dashboards"):
- "Today" is the event-time business day: the window gauges with window="1d", position="current",
  bucketed per fact (dials by started_at, connects by answered_at, talk by ended_at).
- Counts never show "No data": ungrouped queries end in `or vector(0)`, grouped ones rely on the
  worker exporting every known rep (and every dead-letter reason, window size) at 0, and count
  panels set noValue "0".
- Rates are sum(numerator) / sum(denominator), denominator guarded with `> 0`; per-rep rate
  gauges are never averaged (they are not used at all).
- Every panel and every variable name the provisioned data source by uid; no ${DS_...}.

The email board reads the email worker's send-cohort gauges (every message of a campaign ever
seen, by dimension: pin `dimension`, and every message counts once under each dimension) and its
activity window gauges (pin `window` and `position`). Cohort rates are recomputed as sum / sum from
the count gauges; the per-row rate gauges the worker exports are never read. Every email selector
filters `campaign=~"$campaign"`.

The CRM boards (handoffs, outcomes) read the CRM worker. "Today"/"this hour" are its window count
gauges (window="1d"/"1h", position="current"); its per-rep rate gauges (conversion, win rate,
completeness) are never read: rates are recomputed sum / sum from counts, conversion = accepted /
handoffs, win rate = won / (won + lost), completeness = answered / applicable discovery fields.
"All time" reads the all-time counters (exact: they come from the worker's state);
"7 days" and "time range" are increase() of those counters over 7d / $__range, i.e. by processing
time. Discovery statuses are never merged ("asked, declined/unknown" apart from "not asked").
"""
