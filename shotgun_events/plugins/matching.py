"""`matchEvents` exactly as the daemon reads it, and the SNS filter policy derived from it.

Both are pure functions over plain data. The filter policy only saves deliveries: it may let
through more than a plugin matches (dispatch applies `matches` again), never less.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

WILDCARD = "*"

# SNS subscription filter policy limits (attribute-based filtering).
MAX_POLICY_KEYS = 5
MAX_POLICY_COMBINATIONS = 150

EVENT_TYPE_ATTRIBUTE = "event_type"
ATTRIBUTE_NAME_ATTRIBUTE = "attribute_name"


def validate_match_events(match_events: Any) -> None:
    """Raise `TypeError` for a `matchEvents` the daemon would crash on while matching.

    Accepted: anything falsy (matches everything), or a mapping whose values are `None`, a string
    (substring test, the daemon's quirk) or a collection of attribute names.
    """
    if not match_events:
        return
    if not isinstance(match_events, Mapping):
        raise TypeError(f"matchEvents must be a dict or None, not {type(match_events).__name__}")
    for key, value in match_events.items():
        if value is not None and not isinstance(value, str | Collection):
            raise TypeError(
                f"matchEvents[{key!r}] must be None, a list of attribute names or a string, "
                f"not {type(value).__name__}"
            )


def matches(match_events: Mapping[Any, Any] | None, event: Mapping[str, Any]) -> bool:
    """True when the daemon would hand `event` to a callback registered with `match_events`.

    - `None` or `{}`: every event.
    - key `"*"` present: only its value is used, for any event type.
    - otherwise `event_type` must equal a key exactly (no globs).
    - a value of `None`, or one holding `"*"`, matches any attribute; otherwise `attribute_name`
      must be truthy and `in` the value. A string value makes that a substring test (kept).
    """
    if not match_events:
        return True
    try:
        if WILDCARD in match_events:
            attributes = match_events[WILDCARD]
        else:
            event_type = event.get("event_type")
            if event_type not in match_events:
                return False
            attributes = match_events[event_type]
        if attributes is None or WILDCARD in attributes:
            return True
        attribute_name = event.get("attribute_name")
        return bool(attribute_name) and attribute_name in attributes
    except TypeError:
        # An event field of a type the test cannot apply to (e.g. a non-string attribute_name
        # against a string value) cannot match; the daemon would have crashed the callback.
        return False


# --- filter policy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clause:
    """Messages with an event type in `event_types` and an attribute name in `attributes`.

    `None` for either means "any value, present or absent".
    """

    event_types: frozenset[str] | None
    attributes: frozenset[str] | None


def _attribute_constraint(value: Any) -> frozenset[str] | bool | None:
    """The attribute names a matchEvents value admits: None (any), a set, or False (none at all)."""
    if value is None or isinstance(value, str):
        # A string is the daemon's substring test (or contains "*"): no SNS operator is both exact
        # and never narrower for it, so the attribute is left unfiltered.
        return None
    names: set[str] = set()
    for item in value:
        if item == WILDCARD:
            return None
        if isinstance(item, str):
            if item:  # an empty name never matches: attribute_name must be truthy
                names.add(item)
        elif item:
            return None  # a non-string name: SNS only sees strings, so do not filter on it
    return frozenset(names) if names else False


def _clauses(match_events: Any) -> list[_Clause] | None:
    """One callback's matchEvents as clauses; None when it matches every event."""
    if not match_events or not isinstance(match_events, Mapping):
        return None
    if WILDCARD in match_events:
        items: list[tuple[Any, Any]] = [(None, match_events[WILDCARD])]
    else:
        items = list(match_events.items())
    clauses = []
    for key, value in items:
        attributes = _attribute_constraint(value)
        if attributes is False:
            continue  # this entry matches nothing
        # A key that is not a non-empty string can only match events whose event_type carries no
        # (or no string) message attribute: leave the event type unfiltered for it.
        event_types = frozenset([key]) if isinstance(key, str) and key else None
        clauses.append(_Clause(event_types, attributes if isinstance(attributes, frozenset) else None))
    return clauses


def _merge_by_attributes(clauses: Iterable[_Clause]) -> list[_Clause]:
    """Clauses with the same attribute constraint share one event-type list (exact, no widening)."""
    by_attributes: dict[frozenset[str] | None, frozenset[str] | None] = {}
    for clause in clauses:
        if clause.attributes in by_attributes:
            known = by_attributes[clause.attributes]
            merged = None if known is None or clause.event_types is None else known | clause.event_types
            by_attributes[clause.attributes] = merged
        else:
            by_attributes[clause.attributes] = clause.event_types
    return [_Clause(types, attributes) for attributes, types in by_attributes.items()]


def _branch(clause: _Clause) -> dict[str, list[str]]:
    branch: dict[str, list[str]] = {}
    if clause.event_types is not None:
        branch[EVENT_TYPE_ATTRIBUTE] = sorted(clause.event_types)
    if clause.attributes is not None:
        branch[ATTRIBUTE_NAME_ATTRIBUTE] = sorted(clause.attributes)
    return branch


def _flatten(clauses: list[_Clause]) -> _Clause:
    """One clause admitting every (event type, attribute) pair of any clause: wider, never narrower."""
    return _Clause(
        _union(c.event_types for c in clauses),
        _union(c.attributes for c in clauses),
    )


def _union(sets: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
    """Union of value sets, where None (any value) absorbs everything."""
    result: frozenset[str] = frozenset()
    for values in sets:
        if values is None:
            return None
        result |= values
    return result


def policy_keys(policy: Mapping[str, Any]) -> int:
    """Attribute names in a policy, counting every branch of an `$or` (attribute filtering counts all)."""
    count = 0
    for key, value in policy.items():
        if key == "$or" and isinstance(value, list):
            count += sum(policy_keys(branch) for branch in value)
        else:
            count += 1
    return count


def policy_combinations(policy: Mapping[str, Any], depth: int = 1) -> int:
    """A conservative count of a policy's value combinations.

    AWS documents the product of the number of values in every array. For `$or`, implementations
    count more (moto also multiplies by the number of branches and by the nesting depth): this
    uses the stricter count, so a policy within it is accepted by both.
    """
    total = 1
    for key, value in policy.items():
        if key == "$or" and isinstance(value, list):
            for branch in value:
                total *= policy_combinations(branch, depth + 1)
            total *= len(value) * depth
        elif isinstance(value, list):
            total *= len(value) * depth
    return total


def within_limits(policy: Mapping[str, Any]) -> bool:
    return policy_keys(policy) <= MAX_POLICY_KEYS and policy_combinations(policy) <= MAX_POLICY_COMBINATIONS


def filter_policy(match_events_list: Iterable[Any]) -> dict[str, Any] | None:
    """An SNS filter policy (message attributes `event_type`, `attribute_name`) for one plugin.

    `match_events_list` holds the `matchEvents` of each of the plugin's callbacks. The policy admits
    every message any callback matches (it may admit more); `None` means no filter. It stays within
    SNS's limits of 5 keys and 150 value combinations, widening when the exact policy would not:
    first to one branch per distinct attribute list (`$or`), then to a single branch of all event
    types and attribute names, then to event types only, then to no filter.
    """
    clauses: list[_Clause] = []
    for match_events in match_events_list:
        callback_clauses = _clauses(match_events)
        if callback_clauses is None:
            return None
        clauses.extend(callback_clauses)
    if not clauses:
        return None  # no callback matches anything; no filter is the safe (wider) answer
    merged = _merge_by_attributes(clauses)
    if any(c.event_types is None and c.attributes is None for c in merged):
        return None
    if len(merged) > 1:
        branches = [_branch(c) for c in merged]
        # Order branches deterministically so the derived template does not churn.
        branches.sort(key=lambda b: (b.get(EVENT_TYPE_ATTRIBUTE, []), b.get(ATTRIBUTE_NAME_ATTRIBUTE, [])))
        policy: dict[str, Any] = {"$or": branches}
        if within_limits(policy):
            return policy
    flat = _flatten(merged)
    policy = _branch(flat)
    if policy and within_limits(policy):
        return policy
    if flat.event_types is not None:
        policy = _branch(_Clause(flat.event_types, None))
        if within_limits(policy):
            return policy
    if flat.attributes is not None:
        policy = _branch(_Clause(None, flat.attributes))
        if within_limits(policy):
            return policy
    return None
