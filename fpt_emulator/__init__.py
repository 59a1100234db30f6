"""An FPT (ShotGrid) site emulator speaking the api3 JSON protocol.

The unmodified ``shotgun_api3.Shotgun`` client and plugins written for a real site work against
it: same requests, same answers, same errors, the event log written the way FPT writes it, and
transactions that leave (and later fill) id gaps. Knobs add latency, HTTP errors, dropped or
hanging connections and auth failures, deterministically under a seed.

Typical use in a test::

    from fpt_emulator import FptEmulator

    with FptEmulator(seed=1) as emu:
        sg = emu.connect()
        shot = sg.create("Shot", {"code": "SH010", "project": {"type": "Project", "id": 1}})
        with emu.transaction(commit_after=2.0) as tx:
            tx.update("Shot", shot["id"], {"sg_status_list": "ip"})
        emu.faults.fail_next(1, "503", method="read")
"""

from .activity import Activity
from .emulator import DEFAULT_SCRIPT_KEY, DEFAULT_SCRIPT_NAME, FptEmulator
from .errors import ERR_AUTH, ERR_CRUD, ERR_READ, ApiError
from .faults import FaultKind, Faults
from .schema import FieldDef, Schema, default_schema
from .site_schema import SchemaFileError, load_site_schema
from .store import ReadResult, Site, Write
from .transaction import Transaction

__all__ = [
    "DEFAULT_SCRIPT_KEY",
    "DEFAULT_SCRIPT_NAME",
    "ERR_AUTH",
    "ERR_CRUD",
    "ERR_READ",
    "Activity",
    "ApiError",
    "FaultKind",
    "Faults",
    "FieldDef",
    "FptEmulator",
    "ReadResult",
    "Schema",
    "SchemaFileError",
    "Site",
    "Transaction",
    "Write",
    "default_schema",
    "load_site_schema",
]
