"""`template.yaml` as data: read it, and translate its SAM resources to plain CloudFormation offline.

The translation is aws-sam-translator's own (what `sam deploy` runs in CloudFormation). Local
`CodeUri`s become an S3 location first, as `sam validate` does; nothing here touches AWS.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from shotgun_events_tools.stack import cfn_yaml

ARTIFACT_BUCKET = "shotgun-events-artifacts"
ARTIFACT_KEY = "lambda.zip"


def load_template(path: str | Path) -> dict[str, Any]:
    return cfn_yaml.load(Path(path).read_text())


def parameter_values(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    """Every parameter's value: the override, else its default; a missing required one is an error."""
    values: dict[str, str] = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in overrides:
            values[name] = str(overrides[name])
        elif "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            raise ValueError(f"template parameter {name} has no default: give it a value")
    if unknown := set(overrides) - set(values):
        raise ValueError(f"unknown template parameter(s): {', '.join(sorted(unknown))}")
    return values


def with_s3_code(template: dict[str, Any]) -> dict[str, Any]:
    """A copy whose functions' local `CodeUri` points at `s3://ARTIFACT_BUCKET/ARTIFACT_KEY`."""
    template = copy.deepcopy(template)
    location = f"s3://{ARTIFACT_BUCKET}/{ARTIFACT_KEY}"
    function_globals = template.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = location
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            properties["CodeUri"] = location
    return template


def translate(
    template: dict[str, Any],
    parameters: dict[str, str],
    region: str = "us-east-1",
    account: str = "123456789012",
) -> dict[str, Any]:
    """The plain CloudFormation template that CloudFormation's SAM transform would produce."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # The session only tells the translator its region; it makes no calls. It asks for AWS managed
    # policy ARNs only when a function names one, and ours do not.
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws"}
    result: dict[str, Any] = translator.translate(
        with_s3_code(template), parameter_values={**parameters, **pseudo}, get_managed_policy_map=dict
    )
    return result
