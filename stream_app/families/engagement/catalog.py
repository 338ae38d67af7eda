"""The relationship and reach family's series (reach pipeline; the web and engagement
stages expose only the pipeline series). See stream_app/spine/catalog.py."""

from __future__ import annotations

from stream_app.spine.catalog import Series

SERIES: tuple[Series, ...] = (
    Series(
        "isales_reach_touchpoints_total",
        "counter",
        "Touches of leads credited to the rep who made or owns them, by channel and kind "
        "(outreach: a dial or a delivery; response: the lead answered, opened, visited; machine: "
        "no person). All time.",
        ("channel", "kind", "rep", "team"),
    ),
    Series(
        "isales_reach_handoffs_total",
        "counter",
        "Handoffs by the lead's band at the moment of handoff. All time.",
        ("band", "rep", "team"),
    ),
    Series(
        "isales_reach_handoffs_accepted_total",
        "counter",
        "Handoffs by the lead's band at the moment of handoff, accepted by field sales. All time.",
        ("band", "rep", "team"),
    ),
    Series(
        "isales_reach_handoffs_rejected_total",
        "counter",
        "Handoffs by the lead's band at the moment of handoff, rejected by field sales. All time.",
        ("band", "rep", "team"),
    ),
    Series(
        "isales_reach_handoffs_won_total",
        "counter",
        "Handoffs by the lead's band at the moment of handoff, won. All time.",
        ("band", "rep", "team"),
    ),
    Series(
        "isales_reach_handoffs_lost_total",
        "counter",
        "Handoffs by the lead's band at the moment of handoff, lost. All time.",
        ("band", "rep", "team"),
    ),
    Series(
        "isales_reach_window_touchpoints",
        "gauge",
        "Touchpoints in the event-time window, by channel and kind.",
        ("channel", "kind", "position", "rep", "team", "window"),
    ),
    Series(
        "isales_reach_window_handoffs",
        "gauge",
        "Handoffs in the event-time window by the lead's band at handoff.",
        ("band", "position", "rep", "team", "window"),
    ),
    Series(
        "isales_reach_segment_leads",
        "gauge",
        "Leads of the segment: targeted (seen on any source), touched (a response), engaged (band "
        "warm or hot now).",
        ("segment", "stage"),
    ),
    Series(
        "isales_reach_segment_handoffs_total",
        "counter",
        "Opportunities of the segment's leads: handed over.",
        ("segment",),
    ),
    Series(
        "isales_reach_segment_accepted_total",
        "counter",
        "Opportunities of the segment's leads: accepted.",
        ("segment",),
    ),
    Series(
        "isales_reach_segment_won_total",
        "counter",
        "Opportunities of the segment's leads: won.",
        ("segment",),
    ),
    Series(
        "isales_reach_segment_touchpoints_total",
        "counter",
        "Touchpoints (outreach and response) of the segment's leads, by channel.",
        ("channel", "segment"),
    ),
    Series(
        "isales_reach_ad_impressions_total",
        "counter",
        "Ad impressions (counts per campaign and segment).",
        ("campaign", "segment"),
    ),
    Series(
        "isales_reach_segment_fit_index",
        "gauge",
        "Win share / target share of the segment; absent while undefined.",
        ("segment",),
    ),
    Series(
        "isales_reach_segment_win_rate", "gauge", "Won / handoffs of the segment.", ("segment",)
    ),
    Series(
        "isales_reach_segment_engaged_share", "gauge", "Engaged / targeted leads.", ("segment",)
    ),
    Series(
        "isales_reach_segment_engages_not_winning",
        "gauge",
        "1 while the segment engages at least as well as the org but wins below win_rate_fraction "
        "of the org's win rate (over min_handoffs).",
        ("segment",),
    ),
    Series(
        "isales_reach_leads_by_band",
        "gauge",
        "Leads of the segment per score band now.",
        ("band", "segment"),
    ),
    Series(
        "isales_reach_median_score",
        "gauge",
        "Median engagement score of the segment's leads now.",
        ("segment",),
    ),
)
