"""The operator's commands' logic: see and steer a deployment without the AWS console.

Each command is written once against `Deployment` (`deployment.py`), which a deployed stack
(`stack.StackDeployment`, its resources found from the stack's outputs) implements; the
`shotgun-events` command modules only parse arguments and print.
"""
