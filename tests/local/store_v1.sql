-- A store as shotgun-events wrote it at schema version 1 (before the pause flags), dumped
-- with sqlite3's iterdump: the tests load it to check that the current code opens it.
PRAGMA application_id = 1397179766;
PRAGMA user_version = 1;
BEGIN TRANSACTION;
CREATE TABLE dead_letters (
    plugin TEXT NOT NULL, event_id INTEGER NOT NULL, group_id TEXT NOT NULL,
    message_id TEXT NOT NULL, body TEXT NOT NULL, attributes TEXT NOT NULL,
    enqueued_at REAL NOT NULL, attempts INTEGER NOT NULL, reason TEXT NOT NULL, dead_at REAL NOT NULL,
    PRIMARY KEY (plugin, event_id)
);
INSERT INTO "dead_letters" VALUES('b',7,'Shot:2','0404f207-bb22-4bf6-9b42-5107e059fa73','{"id":7,"event_type":"Shotgun_Shot_Change","attribute_name":"sg_status_list","meta":{"type":"attribute_change","attribute_name":"sg_status_list","entity_type":"Shot","entity_id":2,"old_value":"ip","new_value":"fin"},"entity":{"type":"Shot","id":2,"name":"Shot_2"},"user":{"type":"ApiUser","id":1,"name":"shotgun_events"},"project":{"type":"Project","id":70,"name":"Demo"},"session_uuid":"0c6b2d3e-1111-2222-3333-444455556666","created_at":"2026-11-27T12:00:00Z","type":"EventLogEntry"}','{"attribute_name": "sg_status_list", "entity_type": "Shot", "event_type": "Shotgun_Shot_Change", "project_id": "70"}',1800000000.0,1,'RuntimeError: broken',1800000002.0);
CREATE TABLE deliveries (
    plugin TEXT NOT NULL, event_id INTEGER NOT NULL, group_id TEXT NOT NULL,
    message_id TEXT NOT NULL, body TEXT NOT NULL, attributes TEXT NOT NULL,
    enqueued_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, not_before REAL NOT NULL,
    started_at REAL, last_error TEXT,
    PRIMARY KEY (plugin, event_id)
);
INSERT INTO "deliveries" VALUES('a',7,'Shot:2','acce19a8-7cbb-4426-9f0f-b2186e1d8cb8','{"id":7,"event_type":"Shotgun_Shot_Change","attribute_name":"sg_status_list","meta":{"type":"attribute_change","attribute_name":"sg_status_list","entity_type":"Shot","entity_id":2,"old_value":"ip","new_value":"fin"},"entity":{"type":"Shot","id":2,"name":"Shot_2"},"user":{"type":"ApiUser","id":1,"name":"shotgun_events"},"project":{"type":"Project","id":70,"name":"Demo"},"session_uuid":"0c6b2d3e-1111-2222-3333-444455556666","created_at":"2026-11-27T12:00:00Z","type":"EventLogEntry"}','{"attribute_name": "sg_status_list", "entity_type": "Shot", "event_type": "Shotgun_Shot_Change", "project_id": "70"}',1800000000.0,0,1800000000.0,NULL,NULL);
INSERT INTO "deliveries" VALUES('a',8,'Shot:1','df13ec57-6b8f-4a7a-946d-9a14bd40542d','{"id":8,"event_type":"Shotgun_Shot_Change","attribute_name":"sg_status_list","meta":{"type":"attribute_change","attribute_name":"sg_status_list","entity_type":"Shot","entity_id":1,"old_value":"ip","new_value":"fin"},"entity":{"type":"Shot","id":1,"name":"Shot_1"},"user":{"type":"ApiUser","id":1,"name":"shotgun_events"},"project":{"type":"Project","id":70,"name":"Demo"},"session_uuid":"0c6b2d3e-1111-2222-3333-444455556666","created_at":"2026-11-27T12:00:00Z","type":"EventLogEntry"}','{"attribute_name": "sg_status_list", "entity_type": "Shot", "event_type": "Shotgun_Shot_Change", "project_id": "70"}',1800000000.0,0,1800000000.0,NULL,NULL);
INSERT INTO "deliveries" VALUES('b',8,'Shot:1','cfac471c-f8bc-4c60-9c9d-3d10eeaf1b04','{"id":8,"event_type":"Shotgun_Shot_Change","attribute_name":"sg_status_list","meta":{"type":"attribute_change","attribute_name":"sg_status_list","entity_type":"Shot","entity_id":1,"old_value":"ip","new_value":"fin"},"entity":{"type":"Shot","id":1,"name":"Shot_1"},"user":{"type":"ApiUser","id":1,"name":"shotgun_events"},"project":{"type":"Project","id":70,"name":"Demo"},"session_uuid":"0c6b2d3e-1111-2222-3333-444455556666","created_at":"2026-11-27T12:00:00Z","type":"EventLogEntry"}','{"attribute_name": "sg_status_list", "entity_type": "Shot", "event_type": "Shotgun_Shot_Change", "project_id": "70"}',1800000000.0,0,1800000000.0,NULL,NULL);
INSERT INTO "deliveries" VALUES('a',9,'Shot:2','163e3bd5-add9-44ff-9c96-6736d648bc7f','{"id":9,"event_type":"Shotgun_Shot_Change","attribute_name":"sg_status_list","meta":{"type":"attribute_change","attribute_name":"sg_status_list","entity_type":"Shot","entity_id":2,"old_value":"ip","new_value":"fin"},"entity":{"type":"Shot","id":2,"name":"Shot_2"},"user":{"type":"ApiUser","id":1,"name":"shotgun_events"},"project":{"type":"Project","id":70,"name":"Demo"},"session_uuid":"0c6b2d3e-1111-2222-3333-444455556666","created_at":"2026-11-27T12:00:00Z","type":"EventLogEntry"}','{"attribute_name": "sg_status_list", "entity_type": "Shot", "event_type": "Shotgun_Shot_Change", "project_id": "70"}',1800000000.0,0,1800000000.0,NULL,NULL);
INSERT INTO "deliveries" VALUES('b',9,'Shot:2','1fc2e3f8-8cd8-4648-b0ba-705b4a74d104','{"id":9,"event_type":"Shotgun_Shot_Change","attribute_name":"sg_status_list","meta":{"type":"attribute_change","attribute_name":"sg_status_list","entity_type":"Shot","entity_id":2,"old_value":"ip","new_value":"fin"},"entity":{"type":"Shot","id":2,"name":"Shot_2"},"user":{"type":"ApiUser","id":1,"name":"shotgun_events"},"project":{"type":"Project","id":70,"name":"Demo"},"session_uuid":"0c6b2d3e-1111-2222-3333-444455556666","created_at":"2026-11-27T12:00:00Z","type":"EventLogEntry"}','{"attribute_name": "sg_status_list", "entity_type": "Shot", "event_type": "Shotgun_Shot_Change", "project_id": "70"}',1800000000.0,0,1800000000.0,NULL,NULL);
INSERT INTO "deliveries" VALUES('a',10,'Shot:1','8eb8a0c9-4ab4-4a03-99ff-6fd89b22dd86','{"id":10,"event_type":"Shotgun_Shot_Change","attribute_name":"sg_status_list","meta":{"type":"attribute_change","attribute_name":"sg_status_list","entity_type":"Shot","entity_id":1,"old_value":"ip","new_value":"fin"},"entity":{"type":"Shot","id":1,"name":"Shot_1"},"user":{"type":"ApiUser","id":1,"name":"shotgun_events"},"project":{"type":"Project","id":70,"name":"Demo"},"session_uuid":"0c6b2d3e-1111-2222-3333-444455556666","created_at":"2026-11-27T12:00:00Z","type":"EventLogEntry"}','{"attribute_name": "sg_status_list", "entity_type": "Shot", "event_type": "Shotgun_Shot_Change", "project_id": "70"}',1800000000.0,0,1800000000.0,NULL,NULL);
INSERT INTO "deliveries" VALUES('b',10,'Shot:1','3332e22a-5cc8-43bc-9cf6-96be819eb7c5','{"id":10,"event_type":"Shotgun_Shot_Change","attribute_name":"sg_status_list","meta":{"type":"attribute_change","attribute_name":"sg_status_list","entity_type":"Shot","entity_id":1,"old_value":"ip","new_value":"fin"},"entity":{"type":"Shot","id":1,"name":"Shot_1"},"user":{"type":"ApiUser","id":1,"name":"shotgun_events"},"project":{"type":"Project","id":70,"name":"Demo"},"session_uuid":"0c6b2d3e-1111-2222-3333-444455556666","created_at":"2026-11-27T12:00:00Z","type":"EventLogEntry"}','{"attribute_name": "sg_status_list", "entity_type": "Shot", "event_type": "Shotgun_Shot_Change", "project_id": "70"}',1800000000.0,0,1800000000.0,NULL,NULL);
CREATE TABLE effects (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, expiration INTEGER,
    in_progress_expiration INTEGER, data TEXT, validation TEXT
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('site','https://studio.example.com');
INSERT INTO "meta" VALUES('created_at','2026-12-03T08:55:01.577841+00:00');
CREATE TABLE poller_state (
    pk TEXT PRIMARY KEY, cursor INTEGER NOT NULL, backlog TEXT NOT NULL,
    version INTEGER NOT NULL, updated_at TEXT NOT NULL
);
INSERT INTO "poller_state" VALUES('poller#https://studio.example.com',12,'{"1800000000":[11,1]}',1,'2026-12-03T08:55:01.578797+00:00');
CREATE INDEX deliveries_by_group ON deliveries (plugin, group_id, event_id);
CREATE INDEX effects_by_expiration ON effects (expiration);
COMMIT;
