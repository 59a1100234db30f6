"""Scripted studio activity: shots and assets created, tasks moving wtg -> rdy -> ip -> rev -> fin,
versions submitted, notes written, custom Toolkit events.

Everything is drawn from a seeded RNG, so the same seed and the same number of steps give the
same rows and ids (when nothing else writes meanwhile). Writes are made in-process as the site's
artists would make them in a browser (HumanUser, with a session uuid), not as a script, so the
plugins under test see realistic traffic. ``step(n)`` runs synchronously; ``start(rate)`` runs in
a background thread. ``held_commit_rate`` holds some commits open to make natural id gaps.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .store import Site
from .studio import ARTISTS, STAFF, STAFF_DEPARTMENTS, STEPS, fit, person
from .transaction import Transaction

__all__ = ["ARTISTS", "ASSET_STEPS", "SHOT_STEPS", "STAFF", "STEPS", "Activity"]

SHOT_STEPS = ("Layout", "Animation", "Lighting", "Comp")
ASSET_STEPS = ("Model", "Rig", "Surfacing")
ASSET_TYPES = ("Character", "Prop", "Environment", "Vehicle")
ASSET_NAMES = ("hero", "robot", "lamp", "car", "forest", "tower", "dragon", "boat", "chair", "city")
TOOLKIT_APPS = ("tk-multi-workfiles2", "tk-multi-publish2", "tk-multi-loader2", "tk-multi-snapshot")
TOOLKIT_ENGINES = ("tk-nuke", "tk-maya", "tk-houdini", "tk-desktop")
NEXT_STATUS = {"wtg": "rdy", "rdy": "ip"}
#: How many background errors :attr:`Activity.errors` keeps.
MAX_ERRORS = 1000


#: Makes a transaction for one action: (acting user link, session uuid) -> tx.
TxFactory = Callable[[dict[str, Any], str | None], Transaction]


@dataclass
class _Model:
    """What the activity knows about the site (ids only; values are re-read when acted on)."""

    projects: list[int] = field(default_factory=list)
    sequences: dict[int, list[int]] = field(default_factory=dict)
    shots: list[tuple[int, int]] = field(default_factory=list)
    assets: list[tuple[int, int]] = field(default_factory=list)
    open_tasks: list[int] = field(default_factory=list)
    in_review: list[int] = field(default_factory=list)
    artists: list[int] = field(default_factory=list)
    staff: list[int] = field(default_factory=list)
    steps: dict[str, int] = field(default_factory=dict)
    sessions: dict[int, str] = field(default_factory=dict)
    latest_version: dict[int, int] = field(default_factory=dict)
    shots_in_sequence: dict[int, int] = field(default_factory=dict)
    counter: int = 0


class Activity:
    """A deterministic stream of studio work against a :class:`Site`."""

    def __init__(
        self,
        site: Site,
        seed: int | str = 1,
        *,
        held_commit_rate: float = 0.0,
        held_commit_seconds: float = 1.0,
        tx_factory: TxFactory | None = None,
        discover: bool = True,
    ) -> None:
        self.site = site
        self.rng = random.Random(f"{seed}:activity")
        self.held_commit_rate = held_commit_rate
        self.held_commit_seconds = held_commit_seconds
        self._tx_factory = tx_factory
        self._discover = discover
        self._model: _Model | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        #: Actions performed so far.
        self.actions = 0
        self._errors: deque[BaseException] = deque(maxlen=MAX_ERRORS)

    # -- public -------------------------------------------------------------------------------

    def step(self, n: int = 1) -> list[int]:
        """Perform ``n`` actions now; returns the event ids they allocated."""
        ids: list[int] = []
        with self._lock:
            model = self._ensure_model()
            for _ in range(n):
                ids.extend(self._one(model))
                self.actions += 1
        return ids

    def start(self, rate: float) -> None:
        """Perform about ``rate`` actions per second in a background thread until :meth:`stop`."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.stop()
        self._stop.clear()
        interval = 1.0 / rate

        def run() -> None:
            # Actions are scheduled on a fixed grid, so the time an action takes does not lower
            # the rate; after a stall, at most a second's worth of actions is caught up.
            next_at = time.monotonic() + interval
            while not self._stop.wait(max(0.0, next_at - time.monotonic())):
                try:
                    self.step(1)
                except Exception as exc:  # keep the studio busy even if one action fails
                    self._errors.append(exc)
                next_at = max(next_at + interval, time.monotonic() - 1.0)

        self._thread = threading.Thread(target=run, name="fpt-emulator-activity", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    @property
    def errors(self) -> list[BaseException]:
        """Errors raised by background steps (the thread keeps going): the latest ``MAX_ERRORS``."""
        return list(self._errors)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def add_project(self, name: str, sequences: int = 3, assets: int = 4) -> int:
        """Create a project with sequences and assets (logged as ordinary creates)."""
        with self._lock:
            model = self._ensure_model()
            self._new_project(model, name, sequences, assets)
            return model.projects[-1]

    @property
    def project_ids(self) -> list[int]:
        """The projects the activity works in (the first :meth:`step` adds one if there is none)."""
        with self._lock:
            return list(self._ensure_model().projects)

    # -- setup ----------------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _tx(self, user_id: int) -> Transaction:
        user = {"type": "HumanUser", "id": user_id}
        model = self._model
        session = model.sessions.get(user_id) if model else None
        if self._tx_factory is not None:
            return self._tx_factory(user, session)
        return self.site.begin(user=user, session_uuid=session)

    def _finish(self, tx: Transaction) -> None:
        # Only changes that create nothing are held: a browser never links to an entity whose
        # create has not returned yet, so later actions must be able to see every new entity.
        holdable = not tx.direct and not tx.created
        if holdable and self.held_commit_rate and self.rng.random() < self.held_commit_rate:
            tx.commit_after(self.held_commit_seconds)
        else:
            tx.commit()

    def _run(self, user_id: int, work: Callable[[Transaction], Any]) -> list[int]:
        """One action in its own transaction; returns the event ids it allocated."""
        with self._tx(user_id).scope(self._finish) as tx:
            work(tx)
        return list(tx.event_ids)

    def _ensure_model(self) -> _Model:
        if self._model is None:
            self._model = self._build_model()
        return self._model

    def _build_model(self) -> _Model:
        model = _Model()
        site = self.site
        for user in site.find("HumanUser", [["sg_status_list", "is", "act"]], ["department.Department.name"]):
            dept = user.get("department.Department.name")
            if dept in STAFF_DEPARTMENTS:
                model.staff.append(user["id"])
            elif dept:
                model.artists.append(user["id"])
        for step in site.find("Step", [], ["code"]):
            model.steps.setdefault(step["code"], step["id"])
        if self._discover:
            self._discover_production(model)
        self._model = model
        # A site without people or steps gets them, quietly, so there is someone to do the work.
        if not model.artists or len(model.staff) < 2:
            for first, last, dept in ARTISTS + STAFF:
                user = site.create("HumanUser", person(site, first, last, dept), events=False)
                pool = model.staff if dept in STAFF_DEPARTMENTS else model.artists
                pool.append(user["id"])
        for code, (short, etype, color) in STEPS.items():
            if code not in model.steps:
                step = site.create(
                    "Step",
                    fit(
                        site,
                        "Step",
                        {"code": code, "short_name": short, "entity_type": etype, "color": color},
                    ),
                    events=False,
                )
                model.steps[code] = step["id"]
        for user_id in model.artists + model.staff:
            model.sessions[user_id] = self._uuid()
        return model

    def _discover_production(self, model: _Model) -> None:
        site = self.site
        for project in site.find("Project", [["is_template", "is", False], ["archived", "is", False]]):
            model.projects.append(project["id"])
            model.sequences[project["id"]] = []
        for seq in site.find("Sequence", [], ["project"]):
            if seq["project"] and seq["project"]["id"] in model.sequences:
                model.sequences[seq["project"]["id"]].append(seq["id"])
        for shot in site.find("Shot", [], ["project", "sg_sequence"]):
            if shot["project"] and shot["project"]["id"] in model.sequences:
                model.shots.append((shot["id"], shot["project"]["id"]))
            if shot["sg_sequence"]:
                seq_id = shot["sg_sequence"]["id"]
                model.shots_in_sequence[seq_id] = model.shots_in_sequence.get(seq_id, 0) + 1
        for asset in site.find("Asset", [], ["project"]):
            if asset["project"] and asset["project"]["id"] in model.sequences:
                model.assets.append((asset["id"], asset["project"]["id"]))
        for task in site.find("Task", [["sg_status_list", "not_in", ["fin", "na", "apr"]]]):
            model.open_tasks.append(task["id"])
        for version in site.find("Version", [["sg_status_list", "is", "rev"]], ["sg_task"]):
            model.in_review.append(version["id"])
            if version["sg_task"]:
                model.latest_version[version["sg_task"]["id"]] = version["id"]

    # -- actions --------------------------------------------------------------------------------

    def _one(self, model: _Model) -> list[int]:
        if not model.projects:  # a site with no production yet: the first action starts one
            return self._new_project(model, "Activity Project", 3, 4)
        roll = self.rng.random()
        if roll < 0.10 or not model.shots:
            return self._new_shot(model)
        if roll < 0.13:
            return self._new_asset(model)
        if roll < 0.28 and model.in_review:
            return self._note(model)
        if roll < 0.33:
            return self._toolkit_event(model)
        return self._advance_task(model)

    def _new_project(self, model: _Model, name: str, sequences: int, assets: int) -> list[int]:
        coordinator = model.staff[-1]
        result: dict[str, Any] = {}
        data = {
            "name": name,
            "tank_name": name.lower().replace(" ", "_"),
            "sg_type": self.rng.choice(("Feature Film", "Short Film", "Commercial")),
        }

        def work(tx: Transaction) -> None:
            result.update(tx.apply_create("Project", fit(self.site, "Project", data), []))

        ids = self._run(coordinator, work)
        project_id = int(result["id"])
        model.projects.append(project_id)
        model.sequences[project_id] = []
        for i in range(sequences):
            ids.extend(self._new_sequence(model, project_id, f"SQ{(i + 1) * 10:03d}"))
        for _ in range(assets):
            ids.extend(self._new_asset(model, project_id))
        return ids

    def _new_sequence(self, model: _Model, project_id: int, code: str) -> list[int]:
        created: dict[str, Any] = {}

        def work(tx: Transaction) -> None:
            created.update(
                tx.apply_create(
                    "Sequence",
                    {
                        "code": code,
                        "project": {"type": "Project", "id": project_id},
                        "description": f"Sequence {code}",
                    },
                    [],
                )
            )

        ids = self._run(model.staff[-1], work)
        model.sequences[project_id].append(int(created["id"]))
        return ids

    def _new_shot(self, model: _Model) -> list[int]:
        project_id = self.rng.choice(model.projects)
        if not model.sequences[project_id]:
            return self._new_sequence(
                model, project_id, f"SQ{len(model.sequences[project_id]) * 10 + 10:03d}"
            )
        seq_id = self.rng.choice(model.sequences[project_id])
        number = model.shots_in_sequence.get(seq_id, 0) + 1
        model.shots_in_sequence[seq_id] = number
        seq = self.site.view.active_record("Sequence", seq_id)
        seq_code = seq.get("code") if seq else f"SQ{seq_id}"
        code = f"{seq_code}_{number * 10:04d}"
        cut_in = 1001
        length = self.rng.randrange(24, 240)
        created: dict[str, Any] = {}
        project = {"type": "Project", "id": project_id}

        def work(tx: Transaction) -> None:
            created.update(
                tx.apply_create(
                    "Shot",
                    {
                        "code": code,
                        "project": project,
                        "sg_sequence": {"type": "Sequence", "id": seq_id},
                        "description": f"Shot {code}",
                        "sg_cut_in": cut_in,
                        "sg_cut_out": cut_in + length - 1,
                        "sg_cut_duration": length,
                    },
                    [],
                )
            )

        ids = self._run(model.staff[-1], work)
        shot_id = int(created["id"])
        model.shots.append((shot_id, project_id))
        ids.extend(self._tasks_for(model, "Shot", shot_id, project_id, SHOT_STEPS))
        return ids

    def _new_asset(self, model: _Model, project_id: int | None = None) -> list[int]:
        project_id = project_id if project_id is not None else self.rng.choice(model.projects)
        model.counter += 1
        code = f"{self.rng.choice(ASSET_NAMES)}{model.counter:03d}"
        shots = [s for s, p in model.shots if p == project_id]
        linked = self.rng.sample(shots, min(len(shots), self.rng.randrange(0, 3)))
        created: dict[str, Any] = {}

        def work(tx: Transaction) -> None:
            created.update(
                tx.apply_create(
                    "Asset",
                    {
                        "code": code,
                        "project": {"type": "Project", "id": project_id},
                        "sg_asset_type": self.rng.choice(ASSET_TYPES),
                        "description": f"Asset {code}",
                        "shots": [{"type": "Shot", "id": s} for s in linked],
                    },
                    [],
                )
            )

        ids = self._run(model.staff[-1], work)
        asset_id = int(created["id"])
        model.assets.append((asset_id, project_id))
        ids.extend(self._tasks_for(model, "Asset", asset_id, project_id, ASSET_STEPS))
        return ids

    def _tasks_for(
        self, model: _Model, entity_type: str, entity_id: int, project_id: int, steps: tuple[str, ...]
    ) -> list[int]:
        ids: list[int] = []
        previous: int | None = None
        for step in steps:
            assignee = self.rng.choice(model.artists)
            created: dict[str, Any] = {}
            data: dict[str, Any] = {
                "content": step,
                "project": {"type": "Project", "id": project_id},
                "entity": {"type": entity_type, "id": entity_id},
                "step": {"type": "Step", "id": model.steps[step]},
                "task_assignees": [{"type": "HumanUser", "id": assignee}],
                "est_in_mins": self.rng.choice((240, 480, 960, 1920)),
            }
            if previous is not None:
                data["upstream_tasks"] = [{"type": "Task", "id": previous}]

            def work(tx: Transaction, data: dict[str, Any] = data, created: dict[str, Any] = created) -> None:
                created.update(tx.apply_create("Task", data, []))

            ids.extend(self._run(model.staff[-1], work))
            previous = int(created["id"])
            model.open_tasks.append(previous)
        return ids

    def _pick_open_task(self, model: _Model) -> tuple[int, dict[str, Any]] | None:
        while model.open_tasks:
            index = self.rng.randrange(len(model.open_tasks))
            task_id = model.open_tasks[index]
            rec = self.site.view.active_record("Task", task_id)
            if rec is None or rec.get("sg_status_list") == "fin":
                model.open_tasks[index] = model.open_tasks[-1]
                model.open_tasks.pop()
                continue
            return task_id, rec
        return None

    def _assignee(self, model: _Model, task: dict[str, Any]) -> int:
        assignees = task.get("task_assignees") or []
        if assignees and assignees[0]["type"] == "HumanUser":
            return int(assignees[0]["id"])
        return self.rng.choice(model.artists)

    def _advance_task(self, model: _Model) -> list[int]:
        picked = self._pick_open_task(model)
        if picked is None:
            return self._new_shot(model)
        task_id, task = picked
        status = task.get("sg_status_list") or "wtg"
        if status == "ip":
            return self._submit_version(model, task_id, task)
        if status == "rev":
            return self._approve(model, task_id, task)
        new_status = NEXT_STATUS.get(status, "ip")
        artist = self._assignee(model, task)
        return self._run(artist, lambda tx: tx.apply_update("Task", task_id, {"sg_status_list": new_status}))

    def _submit_version(self, model: _Model, task_id: int, task: dict[str, Any]) -> list[int]:
        artist = self._assignee(model, task)
        entity = task.get("entity")
        entity_name = self.site.view.link_name(entity["type"], entity["id"]) if entity else "task"
        model.counter += 1
        code = f"{entity_name}_{task.get('content') or 'task'}_v{model.counter:03d}".replace(" ", "_")
        first = 1001
        last = first + self.rng.randrange(24, 240)
        created: dict[str, Any] = {}

        def work(tx: Transaction) -> None:
            created.update(
                tx.apply_create(
                    "Version",
                    {
                        "code": code,
                        "project": task.get("project"),
                        "entity": entity,
                        "sg_task": {"type": "Task", "id": task_id},
                        "user": {"type": "HumanUser", "id": artist},
                        "description": self.rng.choice(
                            (
                                "First pass",
                                "Addressed notes",
                                "Timing tweaks",
                                "Final polish",
                                "WIP for review",
                            )
                        ),
                        "sg_path_to_frames": f"/jobs/{code}/{code}.%04d.exr",
                        "sg_first_frame": first,
                        "sg_last_frame": last,
                        "frame_count": last - first + 1,
                        "frame_range": f"{first}-{last}",
                    },
                    [],
                )
            )
            tx.apply_update("Task", task_id, {"sg_status_list": "rev"})

        ids = self._run(artist, work)
        model.in_review.append(int(created["id"]))
        model.latest_version[task_id] = int(created["id"])
        return ids

    def _approve(self, model: _Model, task_id: int, task: dict[str, Any]) -> list[int]:
        supervisor = model.staff[0]
        version_id = model.latest_version.get(task_id)
        version = self.site.view.active_record("Version", version_id) if version_id else None

        def work(tx: Transaction) -> None:
            tx.apply_update("Task", task_id, {"sg_status_list": "fin"})
            if version is not None and version.get("sg_status_list") == "rev":
                tx.apply_update("Version", version["id"], {"sg_status_list": "apr"})

        return self._run(supervisor, work)

    def _note(self, model: _Model) -> list[int]:
        index = self.rng.randrange(len(model.in_review))
        version_id = model.in_review[index]
        model.in_review[index] = model.in_review[-1]
        model.in_review.pop()
        version = self.site.view.active_record("Version", version_id)
        if version is None:
            return []
        supervisor = model.staff[0]
        links = [{"type": "Version", "id": version_id}]
        if version.get("entity"):
            links.append(dict(version["entity"]))
        task = version.get("sg_task")
        to = [dict(version["user"])] if version.get("user") and version["user"]["type"] == "HumanUser" else []
        retake = self.rng.random() < 0.5
        subject = f"{'Retake' if retake else 'Comments'}: {version.get('code')}"
        body = self.rng.choice(
            (
                "Nice progress, push the silhouette a bit more.",
                "Timing feels late on the hit, try 4 frames earlier.",
                "Edges are crunchy, check the matte.",
                "Looks great, approved pending final.",
                "Please match the key light to the plate.",
            )
        )

        def work(tx: Transaction) -> None:
            tx.apply_create(
                "Note",
                {
                    "subject": subject,
                    "content": body,
                    "project": version.get("project"),
                    "user": {"type": "HumanUser", "id": supervisor},
                    "addressings_to": to,
                    "note_links": links,
                    "tasks": [dict(task)] if task else [],
                    "sg_note_type": "Internal",
                },
                [],
            )
            if retake and task:
                tx.apply_update("Version", version_id, {"sg_status_list": "na"})
                tx.apply_update("Task", task["id"], {"sg_status_list": "ip"})

        ids = self._run(supervisor, work)
        if not retake:
            model.in_review.append(version_id)
        return ids

    def _toolkit_event(self, model: _Model) -> list[int]:
        artist = self.rng.choice(model.artists)
        project = {"type": "Project", "id": self.rng.choice(model.projects)} if model.projects else None
        app = self.rng.choice(TOOLKIT_APPS)
        engine = self.rng.choice(TOOLKIT_ENGINES)

        def work(tx: Transaction) -> None:
            tx.apply_create(
                "EventLogEntry",
                {
                    "event_type": "Toolkit_App_Startup",
                    "description": f"Toolkit v0.20.28: {app} started in {engine}",
                    "project": project,
                    "entity": project,
                    "meta": {"core": "v0.20.28", "engine": engine, "app": app, "version": "v2.1.3"},
                },
                [],
            )

        return self._run(artist, work)

    def touch_shot(self) -> list[int]:
        """An action that logs exactly one event (used to top up preloads): edit a random shot's
        description, or, on a site with no shots yet, a Toolkit event."""
        with self._lock:
            model = self._ensure_model()
            if not model.shots:
                return self._toolkit_event(model)
            shot_id, _ = self.rng.choice(model.shots)
            model.counter += 1
            text = f"Updated brief #{model.counter}"
            return self._run(
                model.staff[-1], lambda tx: tx.apply_update("Shot", shot_id, {"description": text})
            )
