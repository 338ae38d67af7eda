"""Board: relationship and reach (touchpoints per channel, score at handoff against outcomes,
leads per band now, target fit per segment)."""

from __future__ import annotations

from stream_app.grafana.model import COUNT_NO_VALUE, Json, Panel, Target
from stream_app.grafana.panels import rate_overrides, table
from stream_app.grafana.promql import TEAM, guarded, total
from stream_app.grafana.render import dashboard, variable

REACH_TEAMS = "label_values(isales_reach_touchpoints_total, team)"


def _window_touches(kind: str) -> str:
    return f'isales_reach_window_touchpoints{{kind="{kind}",window="1d",position="current",{TEAM}}}'


def _handoffs(suffix: str = "", matchers: str = "") -> str:
    return f"isales_reach_handoffs{suffix}_total{{{matchers}{TEAM}}}"


def panels() -> list[Panel]:
    counts = {"thresholds": ((None, "blue"),), "no_value": COUNT_NO_VALUE, "decimals": 0}
    return [
        Panel(
            "bargauge",
            "Responses today by channel",
            "Touches where the lead answered, opened, clicked, visited or booked, per team and "
            "channel in the current event-time business day (machine opens and answers apart).",
            (
                Target(
                    total(_window_touches("response"), "team, channel"),
                    "{{team}} {{channel}}",
                    instant=True,
                ),
            ),
            12,
            8,
            **counts,  # type: ignore[arg-type]
        ),
        Panel(
            "bargauge",
            "Outreach today by channel",
            "Dials and deliveries per team and channel today: reach, whether or not the lead "
            "noticed.",
            (
                Target(
                    total(_window_touches("outreach"), "team, channel"),
                    "{{team}} {{channel}}",
                    instant=True,
                ),
            ),
            12,
            8,
            **counts,  # type: ignore[arg-type]
        ),
        table(
            "Score at handoff against outcomes",
            "Handoffs by the lead's engagement band at the moment of handoff, and how they "
            "ended: if the score means anything, the win rate rises with the band.",
            {"band": "Band"},
            [
                ("Handoffs", total(_handoffs(), "band")),
                ("Accepted", total(_handoffs("_accepted"), "band")),
                ("Won", total(_handoffs("_won"), "band")),
                ("Lost", total(_handoffs("_lost"), "band")),
                (
                    "Win rate",
                    guarded(total(_handoffs("_won"), "band"), total(_handoffs(), "band")),
                ),
            ],
            height=8,
            width=12,
            overrides=rate_overrides(["Win rate"]),
            sort_by="Handoffs",
        ),
        Panel(
            "bargauge",
            "Cold handoffs by rep",
            "Share of each rep's handoffs whose lead was cold at the moment of handoff: who "
            "hands over before the relationship is built.",
            (
                Target(
                    guarded(total(_handoffs("", 'band="cold",'), "rep"), total(_handoffs(), "rep")),
                    "{{rep}}",
                    instant=True,
                ),
            ),
            12,
            8,
            unit="percentunit",
            no_value="no handoffs",
            decimals=0,
            thresholds=((None, "green"), (0.5, "orange"), (0.8, "red")),
        ),
        Panel(
            "bargauge",
            "Leads per band now by segment",
            "The segment's leads by engagement band at this moment (scores decay between touches).",
            (
                Target(
                    "sum by (segment, band) (isales_reach_leads_by_band)",
                    "{{segment}} {{band}}",
                    instant=True,
                ),
            ),
            12,
            8,
            **counts,  # type: ignore[arg-type]
        ),
        table(
            "Target fit by segment",
            "Per segment: leads targeted, engaged (warm or hot now) and won; fit index = win "
            "share / target share (1: wins in proportion); flagged when the segment engages at "
            "least as well as the organisation but wins well below its rate.",
            {"segment": "Segment"},
            [
                (
                    "Targeted",
                    'sum by (segment) (isales_reach_segment_leads{stage="targeted"})',
                ),
                ("Engaged", 'sum by (segment) (isales_reach_segment_leads{stage="engaged"})'),
                ("Won", "sum by (segment) (isales_reach_segment_won_total)"),
                # One series per segment (a segment lives on one partition): never aggregated.
                ("Fit index", "isales_reach_segment_fit_index"),
                (
                    "Engages, not winning",
                    "max by (segment) (isales_reach_segment_engages_not_winning)",
                ),
            ],
            height=8,
            width=12,
            overrides=_fit_overrides(),
            sort_by="Targeted",
        ),
        table(
            "Touchpoints per rep and channel (all time)",
            "Each rep's touchpoints by channel (call, email, web, ...): outreach (dials, "
            "deliveries) and responses (the lead answered, opened, clicked, visited), machine "
            "touches left out; touches with no rep are `_unassigned`.",
            {"rep": "Rep", "channel": "Channel"},
            [
                (
                    name,
                    f'sum by (rep, channel) (isales_reach_touchpoints_total{{kind="{kind}",'
                    f'team=~"$team"}})',
                )
                for kind, name in (("outreach", "Outreach"), ("response", "Responses"))
            ],
            height=8,
            width=12,
            overrides=[],
            sort_by="Responses",
        ),
        table(
            "Band at handoff: win rate (all time)",
            "Per band of the lead's score at the moment of handoff, all reps of the selected "
            "teams: handoffs, won, and won / handed over. If the score means anything, it rises "
            "from cold to hot. Decisions and outcomes are each opportunity's newest, as the CRM "
            "counts them.",
            {"band": "Band"},
            [
                ("Handoffs", 'sum by (band) (isales_reach_handoffs_total{team=~"$team"})'),
                ("Won", 'sum by (band) (isales_reach_handoffs_won_total{team=~"$team"})'),
                (
                    "Won / handed over",
                    'sum by (band) (isales_reach_handoffs_won_total{team=~"$team"}) / '
                    '(sum by (band) (isales_reach_handoffs_total{team=~"$team"}) > 0)',
                ),
            ],
            height=8,
            width=12,
            overrides=rate_overrides(["Won / handed over"]),
            sort_by="Handoffs",
        ),
    ]


def _fit_overrides() -> list[Json]:
    return [
        {
            "matcher": {"id": "byName", "options": "Fit index"},
            "properties": [{"id": "decimals", "value": 2}, {"id": "noValue", "value": "no wins"}],
        },
        {
            "matcher": {"id": "byName", "options": "Engages, not winning"},
            "properties": [
                {
                    "id": "mappings",
                    "value": [
                        {
                            "type": "value",
                            "options": {"0": {"text": "no"}, "1": {"text": "YES", "color": "red"}},
                        }
                    ],
                }
            ],
        },
    ]


def boards() -> list[Json]:
    return [
        dashboard(
            "isales-reach",
            "Inside sales: relationship and reach",
            "Touchpoints per channel, the engagement score at handoff against outcomes, leads "
            "per band now and whether each target segment wins in proportion.",
            panels(),
            [variable("team", "Team", REACH_TEAMS)],
        )
    ]
