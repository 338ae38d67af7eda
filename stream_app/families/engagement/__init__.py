"""Relationship, reach and target fit (issue 13): the engagement score per lead, touchpoints per
channel, score at handoff against outcomes, and the target-segment check."""
