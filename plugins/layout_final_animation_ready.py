# shotgun-events: checked
"""When a Shot's Layout task goes final, make the Shot's Animation task ready to start.

Trigger: a Task's `sg_status_list` changes to `fin` (not while the Task is being created), the
Task's pipeline step is Layout and it is linked to a Shot. Effect: the Shot's Animation tasks
that are still waiting to start (`wtg`) are set to `rdy`. Tasks already under way are left
alone, so running the same event twice changes nothing the second time.

Script user: `SGDAEMON_LAYOUTFINAL_NAME` / `SGDAEMON_LAYOUTFINAL_KEY`.
"""

import logging
import os
from typing import Any

SETTINGS = {
    "final_step": "Layout",
    "final_status": "fin",
    "next_step": "Animation",
    "waiting_statuses": ["wtg"],
    "ready_status": "rdy",
}


def registerCallbacks(reg: Any) -> None:
    reg.registerCallback(
        os.environ.get("SGDAEMON_LAYOUTFINAL_NAME"),
        os.environ.get("SGDAEMON_LAYOUTFINAL_KEY"),
        layoutFinalAnimationReady,
        matchEvents={"Shotgun_Task_Change": ["sg_status_list"]},
        args=dict(SETTINGS),
    )


def layoutFinalAnimationReady(sg: Any, logger: logging.Logger, event: dict[str, Any], args: Any) -> None:
    meta = event.get("meta")
    if not isinstance(meta, dict) or meta.get("new_value") != args["final_status"] or meta.get("in_create"):
        return
    task_link = event.get("entity")
    if not isinstance(task_link, dict) or task_link.get("type") != "Task":
        return

    fields = ["step.Step.code", "entity", "sg_status_list"]
    task = sg.find_one("Task", [["id", "is", task_link["id"]]], fields)
    if task is None:
        logger.info("Task %s no longer exists; nothing to do", task_link["id"])
        return
    if task.get("step.Step.code") != args["final_step"]:
        return
    if task.get("sg_status_list") != args["final_status"]:
        logger.info("Task %s is no longer %s; nothing to do", task["id"], args["final_status"])
        return
    shot = task.get("entity")
    if not shot or shot.get("type") != "Shot":
        return

    shot_link = {"type": "Shot", "id": shot["id"]}
    next_tasks = sg.find(
        "Task",
        [["entity", "is", shot_link], ["step.Step.code", "is", args["next_step"]]],
        ["content", "sg_status_list"],
    )
    if not next_tasks:
        logger.info("Shot %s has no %s task", shot.get("name", shot["id"]), args["next_step"])
    for next_task in next_tasks:
        if next_task.get("sg_status_list") not in args["waiting_statuses"]:
            logger.info(
                "%s task %s is already %s; left alone",
                args["next_step"],
                next_task["id"],
                next_task.get("sg_status_list"),
            )
            continue
        sg.update("Task", next_task["id"], {"sg_status_list": args["ready_status"]})
        logger.info(
            "%s is final on Shot %s: %s task %s set to %s",
            args["final_step"],
            shot.get("name", shot["id"]),
            args["next_step"],
            next_task["id"],
            args["ready_status"],
        )
