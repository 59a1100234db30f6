"""The deployable stack: `template.yaml` generated from `plugins/`, translated offline, created in moto."""
