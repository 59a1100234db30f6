"""CloudFormation YAML: short-form intrinsics (`!Ref`, `!Sub`, ...) read as their long form and written back.

PyYAML's safe loader refuses CloudFormation's tags; here each `!Name` becomes `{"Fn::Name": value}`
(`!Ref` -> `{"Ref": value}`, `!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`), and `dump` writes the long
forms back as tags, so the generated part of the template reads like the hand-written part.
"""

from __future__ import annotations

from typing import Any

import yaml

_FUNCTIONS = (
    "Ref",
    "Sub",
    "GetAtt",
    "Join",
    "If",
    "FindInMap",
    "Equals",
    "Not",
    "And",
    "Or",
    "Select",
    "Split",
)


class _Loader(yaml.SafeLoader):
    pass


def _construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _construct)


def load(text: str) -> dict[str, Any]:
    data = yaml.load(text, Loader=_Loader)
    if not isinstance(data, dict):
        raise ValueError("a CloudFormation template must be a mapping")
    return data


class _Dumper(yaml.SafeDumper):
    def choose_scalar_style(self) -> str:
        # A tagged scalar is quoted by default (`!Ref 'X'`); plain reads as CloudFormation is written.
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and (event.tag or "").startswith("!") and event.style is None:
            if self.analysis is None:
                self.analysis = self.analyze_scalar(event.value)
            if self.analysis.allow_block_plain and self.analysis.allow_flow_plain and event.value:
                return ""
        return str(super().choose_scalar_style())


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    if len(data) == 1:
        ((key, value),) = data.items()
        name = "Ref" if key == "Ref" else key.removeprefix("Fn::")
        if (key == "Ref" or key.startswith("Fn::")) and name in _FUNCTIONS:
            if name == "GetAtt" and isinstance(value, list):
                value = ".".join(value)
            tag = f"!{name}"
            if isinstance(value, str):
                return dumper.represent_scalar(tag, value)
            if isinstance(value, list):
                return dumper.represent_sequence(tag, value)
            return dumper.represent_mapping(tag, value)
    return dumper.represent_dict(data.items())  # keep insertion order


_Dumper.add_representer(dict, _represent_dict)


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=110)
