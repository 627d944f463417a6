"""Scoring rules engine (issue #4): declarative, versioned rules stored in the database.

A rule (stable slug id) has immutable versions. A version names the event kind it matches,
conditions on the event's context, the dimension it awards points in, a formula over the
event's named inputs (``rewards.formula``) and an optional cap per calendar period. One
published version per rule is current; changing a rule writes a new draft version, which
staff preview against the recorded history and an admin publishes.

How an event is scored: every current, enabled rule for the event kind whose conditions
match gives one award (so two rules in different dimensions both pay). Formula results are
rounded half away from zero; a negative result awards nothing; a capped rule awards at most
what is left of its cap in the period (the sum of the member's ledger entries carrying that
rule id in the calendar period, UTC). When no rule matches, the feature's default applies.
A formula that fails on an event (division by zero, ...) awards nothing for that rule and
is logged; previews count such failures.

Modules: ``events`` (what rules can match, the Award), ``definitions`` (validation),
``engine`` (the scoring core shared by live scoring and replays), ``replay`` (previews),
``versions`` (rules and their versions in the database), ``access`` (who may do what),
``service`` (the use cases) and ``transfer`` (import and export).
"""
