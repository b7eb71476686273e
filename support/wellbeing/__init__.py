"""The Django side of the support-need index: signals in, scores, alerts and milestones out.

The index itself is the pure core in `support.risk` (docs/risk-model.md). This package records
the signals (`signals`), loads them for many placements at once (`loading`, `derived`), scores
and stores them (`scoring`), tells the responsible consultant (`alerts`), generates statutory
and long-term deadlines (`rules`, `milestones`) and measures agreed goals (`goals`). Tasks in
`tasks` are thin django-q2 shells around these services. docs/wellbeing.md is the overview.

Purpose limitation: the carers' check-ins exist to offer them support. They are never to be
used for approval, oversight (tilsyn), sanctions or pay (vederlag) decisions about the carers.
"""
