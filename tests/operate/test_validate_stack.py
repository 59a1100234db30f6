"""`validate-plugins --stack`: each plugin loaded with its deployed secret, against the site's schema."""

from __future__ import annotations

import json

import boto3

from tests.operate.conftest import PLUGIN_SECRETS, Studio


def test_the_deployed_secrets_and_the_site_schema_are_checked(studio: Studio) -> None:
    secrets = boto3.client("secretsmanager")
    name = "shotgun-events/plugins/layout_final_animation_ready"
    only_name = {"SGDAEMON_LAYOUTFINAL_NAME": "layout_final"}
    secrets.put_secret_value(SecretId=name, SecretString=json.dumps(only_name))
    try:
        result = studio.cli("validate-plugins", "plugins", "--json")
    finally:
        secrets.put_secret_value(
            SecretId=name, SecretString=json.dumps(PLUGIN_SECRETS["layout_final_animation_ready"])
        )
    assert result.code == 1
    document = json.loads(result.out)
    assert document["schema"] == f"the schema of {studio.emulator.url}"
    reports = {r["name"]: r for r in document["plugins"]}
    assert reports["init_entity"]["problems"] == []
    assert reports["layout_final_animation_ready"]["problems"] == [
        "reads SGDAEMON_LAYOUTFINAL_KEY, which its secret does not set",
        "callback layoutFinalAnimationReady has no script name and key: its events would fail",
    ]
    # No secret was created for datestamp in this studio: found before its events fail.
    assert "its secret cannot be read" in reports["datestamp"]["problems"][0]
    assert reports["logArgs"]["warnings"][0].startswith("the deployment does not run it")
    assert reports["logArgs"]["problems"] == []
