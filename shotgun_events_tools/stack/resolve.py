"""CloudFormation's intrinsic functions, evaluated against a created stack's parameters and resources.

Used where CloudFormation itself did not evaluate them: the resources moto's CloudFormation skips
(created here with boto3 from the same template data) and the functions' environments (which the
tests and the demo hand to the real handlers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class NoValue:
    """`AWS::NoValue`: the property or list item is dropped."""


NO_VALUE = NoValue()

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass
class Resolver:
    """Evaluates `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::If` and friends.

    `refs` maps a parameter, pseudo parameter or resource logical id to its `Ref` value; `attribute`
    answers `Fn::GetAtt` for a resource.
    """

    template: Mapping[str, Any]
    refs: dict[str, str]
    attribute: Callable[[str, str], str]
    _conditions: dict[str, bool] = field(default_factory=dict)

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        try:
            return self.refs[name]
        except KeyError:
            raise KeyError(f"Ref {name}: no such parameter or resource in the stack") from None

    def sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                resource, attribute = name.split(".", 1)
                return str(self.attribute(resource, attribute))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(value, text)


def _get_att(resolver: Resolver, arg: Any) -> str:
    resource, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
    return resolver.attribute(resource, attribute)


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, a: r.ref(a),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda r, a: r.sub(a),
    "Fn::Join": lambda r, a: str(a[0]).join(str(v) for v in r.resolve(a[1])),
    "Fn::Select": lambda r, a: r.resolve(a[1])[int(r.resolve(a[0]))],
    "Fn::Split": lambda r, a: str(r.resolve(a[1])).split(a[0]),
    "Fn::FindInMap": lambda r, a: r.template["Mappings"][r.resolve(a[0])][str(r.resolve(a[1]))][
        r.resolve(a[2])
    ],
    "Fn::If": lambda r, a: r.resolve(a[1] if r.condition(a[0]) else a[2]),
    "Fn::Equals": lambda r, a: str(r.resolve(a[0])) == str(r.resolve(a[1])),
    "Fn::Not": lambda r, a: not r.resolve(a[0]),
    "Fn::And": lambda r, a: all(r.resolve(v) for v in a),
    "Fn::Or": lambda r, a: any(r.resolve(v) for v in a),
    "Condition": lambda r, a: r.condition(a),
}
