"""Runs inside a fresh process with the bpy module: installs the built add-on zip as an extension,
sets its preferences and plays one scenario, printing `RESULT <json>` lines for the test to check.

usage: python tests/addon_bpy_driver.py '<json config>'   (BLENDER_USER_RESOURCES set by the test)
"""
from __future__ import annotations

import importlib
import json
import sys
import time

import numpy as np

cfg = json.loads(sys.argv[1])
sys.path.insert(0, cfg["repo"])

import bpy  # noqa: E402

bpy.ops.extensions.package_install_files(filepath=cfg["zip"], repo="user_default", enable_on_install=True)
ADDON = "bl_ext.user_default.partverse_annotator"
mod = importlib.import_module(ADDON)
prefs = bpy.context.preferences.addons[ADDON].preferences
prefs.server_url, prefs.token, prefs.project, prefs.drafts_dir = cfg["server"], cfg["token"], cfg["project"], cfg["drafts"]
STATE = mod.state.STATE


def emit(name: str, **values: object) -> None:
    print("RESULT " + json.dumps({"step": name, **values}), flush=True)


def obj() -> bpy.types.Object:
    return bpy.data.objects[STATE.object_name]


def snapshot() -> dict:
    s = STATE.session
    with mod.scene.object_mode(obj()) as me:  # flushes edit-mode (BMesh) writes to the mesh
        colors = np.empty(len(me.loops) * 4, np.float32)
        me.attributes[mod.scene.COLOR_ATTR].data.foreach_get("color_srgb", colors)
    want = mod.core.colors.corner_colors(s.labels, None, 3)
    return {"task": s.task_id, "labels": s.labels.tolist(), "names": s.names, "mode": obj().mode,
            "mesh_labels": mod.scene.read_labels(obj()).tolist(),
            "colors_match": bool(np.abs(colors - want).max() <= 1 / 255 + 1e-6)}


def claim() -> None:
    assert bpy.ops.partverse.claim_next() == {"FINISHED"}
    mod.wait()
    assert STATE.session is not None, STATE.message


def edit_mode_select(faces) -> None:  # noqa: ANN001
    if obj().mode != "EDIT":
        bpy.ops.object.mode_set(mode="EDIT")
    mod.scene.select_faces(obj(), np.asarray(faces))


def merge_and_split() -> None:
    labels = STATE.session.labels
    old3 = np.flatnonzero(labels == 3)
    edit_mode_select([int(np.flatnonzero(labels == 0)[0]), int(np.flatnonzero(labels == 3)[0])])
    assert bpy.ops.partverse.merge() == {"FINISHED"}, STATE.message
    edit_mode_select(old3[:10])
    assert bpy.ops.partverse.split(name="bolt") == {"FINISHED"}, STATE.message


def bump(task_id: int, revision: int) -> None:
    """A second session of the same annotator stores a draft: the server's revision moves on."""
    client = mod.core.client.Client(cfg["server"], cfg["token"])
    task = client.task(task_id)
    client.draft(task_id, revision, mod.core.labels.unpack(task["labels"]), task["part_names"])


def scenario_full() -> None:
    claim()
    o = obj()
    me = o.data
    colors = np.empty(len(me.loops) * 4, np.float32)
    me.attributes[mod.scene.COLOR_ATTR].data.foreach_get("color", colors)
    wm = bpy.context.window_manager
    emit("claimed", **snapshot(), attr_domain=me.attributes[mod.scene.SEGMENT_ATTR].domain,
         attr_type=me.attributes[mod.scene.SEGMENT_ATTR].data_type,
         color_domain=me.attributes[mod.scene.COLOR_ATTR].domain, color_type=me.attributes[mod.scene.COLOR_ATTR].data_type,
         distinct_colors=len(np.unique(colors.reshape(-1, 4), axis=0)),
         shading=bpy.context.scene.display.shading.color_type,
         segments=[[i.segment, i.label, i.faces] for i in wm.pv_segments],
         keymap_items=len(mod._KEYMAPS))
    # the lease is renewed from drain() when due
    api = mod.core.client.Client(cfg["server"], cfg["token"])
    before = api.task(STATE.session.task_id)["lease"]["expires_at"]
    time.sleep(1.1)
    prefs.renew_seconds = 0.0
    mod.drain()
    mod.wait()
    prefs.renew_seconds = 120.0
    emit("renewed", before=before, after=api.task(STATE.session.task_id)["lease"]["expires_at"], message=STATE.message)
    # clicking a segment in the list selects its faces
    wm.pv_segment_index = 2
    emit("clicked", selected=mod.scene.selected_faces(o).tolist(), segment=wm.pv_segments[2].segment)
    # mirror: faces of segment 0 mirrored across X
    mod.scene.select_faces(o, np.flatnonzero(STATE.session.labels == 0))
    assert bpy.ops.partverse.mirror_select(axis="0", extend=False) == {"FINISHED"}, STATE.message
    emit("mirrored", selected=mod.scene.selected_faces(o).tolist())
    merge_and_split()
    assert bpy.ops.partverse.rename(segment=0, name="wheel and body") == {"FINISHED"}
    emit("edited", **snapshot())
    assert bpy.ops.partverse.undo() == {"FINISHED"}
    emit("undone", **snapshot())
    assert bpy.ops.partverse.undo() == {"FINISHED"}
    emit("undone2", **snapshot())
    assert bpy.ops.partverse.redo() == {"FINISHED"}
    assert bpy.ops.partverse.redo() == {"FINISHED"}
    emit("redone", **snapshot())
    bpy.ops.object.mode_set(mode="OBJECT")
    # another session of the same annotator writes a newer revision: our submit must not overwrite it
    bump(STATE.session.task_id, STATE.session.revision)
    assert bpy.ops.partverse.submit() == {"FINISHED"}
    mod.wait()
    emit("stale", message=STATE.message, level=STATE.level, stale=STATE.stale, open=STATE.session is not None)
    assert bpy.ops.partverse.reload(keep_mine=True) == {"FINISHED"}
    mod.wait()
    assert bpy.ops.partverse.submit() == {"FINISHED"}
    mod.wait()
    emit("submitted", message=STATE.message, open=STATE.session is not None)
    claim()
    try:  # an ERROR report surfaces as RuntimeError in the bpy module
        bpy.ops.partverse.reject(reason="other", text="", submit=True)
        raise AssertionError("reject 'other' without details was accepted")
    except RuntimeError as exc:
        assert "describe the problem" in str(exc)
    assert bpy.ops.partverse.reject(reason="broken geometry", text="holes in the cab", submit=True) == {"FINISHED"}
    mod.wait()
    emit("rejected", task=STATE.session.task_id if STATE.session else None, message=STATE.message)
    assert bpy.ops.partverse.claim_next() == {"FINISHED"}
    mod.wait()
    emit("empty", message=STATE.message)
    bpy.ops.preferences.addon_disable(module=ADDON)
    emit("disabled", keymap_items=len(mod._KEYMAPS), has_op=hasattr(bpy.types, "PARTVERSE_OT_merge"),
         timer=bpy.app.timers.is_registered(mod.drain))


def scenario_edit_then_hang() -> None:
    claim()
    merge_and_split()
    emit("edited", **snapshot())
    time.sleep(600)  # killed here with SIGKILL, before any submit


def scenario_restore_submit() -> None:
    claim()
    emit("restored", restored=STATE.session.restored, message=STATE.message, **snapshot())
    assert bpy.ops.partverse.submit() == {"FINISHED"}
    mod.wait()
    emit("submitted", message=STATE.message, open=STATE.session is not None)


globals()[f"scenario_{cfg['scenario']}"]()
