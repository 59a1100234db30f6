# shotgun-events: checked
"""When a Shot goes on hold, tell the artists assigned to its tasks with a Note.

Trigger: a Shot's `sg_status_list` changes to `hld` (not while the Shot is being created).
Effect: one Note on the Shot's project, linked to the Shot, addressed (`addressings_to`) to every
active person assigned to one of the Shot's tasks. No assignees: no Note.

Script user: `SGDAEMON_ONHOLD_NAME` / `SGDAEMON_ONHOLD_KEY`.
"""

import logging
import os
from typing import Any


def registerCallbacks(reg: Any) -> None:
    reg.registerCallback(
        os.environ.get("SGDAEMON_ONHOLD_NAME"),
        os.environ.get("SGDAEMON_ONHOLD_KEY"),
        notifyOnHold,
        matchEvents={"Shotgun_Shot_Change": ["sg_status_list"]},
        args={"hold_status": "hld"},
    )


def notifyOnHold(sg: Any, logger: logging.Logger, event: dict[str, Any], args: Any) -> None:
    meta = event.get("meta")
    if not isinstance(meta, dict) or meta.get("new_value") != args["hold_status"] or meta.get("in_create"):
        return
    shot_link = event.get("entity")
    if not isinstance(shot_link, dict) or shot_link.get("type") != "Shot":
        return

    shot = sg.find_one("Shot", [["id", "is", shot_link["id"]]], ["code", "project", "sg_status_list"])
    if shot is None or shot.get("sg_status_list") != args["hold_status"]:
        logger.info("Shot %s is no longer on hold; no Note", shot_link["id"])
        return
    tasks = sg.find(
        "Task",
        [["entity", "is", {"type": "Shot", "id": shot["id"]}]],
        ["content", "task_assignees"],
    )
    people: dict[int, dict[str, Any]] = {}
    for task in tasks:
        for assignee in task.get("task_assignees") or []:
            if assignee.get("type") == "HumanUser":
                people.setdefault(assignee["id"], assignee)
    if people:
        active = sg.find(
            "HumanUser", [["id", "in", sorted(people)], ["sg_status_list", "is", "act"]], ["name"]
        )
        people = {p["id"]: p for p in active}
    if not people:
        logger.info("Shot %s is on hold but nobody is assigned to its tasks; no Note", shot.get("code"))
        return

    who = (event.get("user") or {}).get("name") or "Someone"
    note = sg.create(
        "Note",
        {
            "project": shot["project"],
            "subject": f"Shot {shot['code']} is on hold",
            "content": (
                f"{who} put Shot {shot['code']} on hold. Please stop work on its tasks "
                f"({', '.join(sorted(t['content'] for t in tasks))}) until it is released."
            ),
            "note_links": [{"type": "Shot", "id": shot["id"]}],
            "addressings_to": [{"type": "HumanUser", "id": pid} for pid in sorted(people)],
        },
    )
    logger.info("Note %s sent to %d people about Shot %s on hold", note["id"], len(people), shot["code"])
