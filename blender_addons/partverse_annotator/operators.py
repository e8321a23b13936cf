"""Operators: thin wrappers that turn core errors into reports (STYLE.md: glTF add-on pattern)."""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from . import scene, tasks
from .core import labels as L
from .core.errors import AnnotatorError
from .state import STATE, say


def _run(op, fn) -> set[str]:  # noqa: ANN001
    try:
        message = fn()
    except AnnotatorError as exc:
        say(str(exc), "ERROR")
        op.report({"ERROR"}, str(exc))
        return {"CANCELLED"}
    if message:
        say(message)
        op.report({"INFO"}, message)
    return {"FINISHED"}


class PV_OT_claim_next(bpy.types.Operator):
    """Claim the next task, download its mesh and show its segments"""
    bl_idname = "partverse.claim_next"
    bl_label = "Claim Next Task"

    def execute(self, context):  # noqa: ANN001
        return _run(self, tasks.claim_next)


class PV_OT_merge(bpy.types.Operator):
    """Merge the segments touched by the selected faces into one"""
    bl_idname = "partverse.merge"
    bl_label = "Merge Segments"
    bl_options = {"REGISTER"}

    def execute(self, context):  # noqa: ANN001
        def do():  # noqa: ANN202
            faces, old = scene.selected_faces(tasks.task_object()), STATE.session.labels
            STATE.session.merge(faces)
            tasks.show(old)
            return f"Merged into segment {int(STATE.session.labels[faces[0]])}"
        return _run(self, do)


class PV_OT_split(bpy.types.Operator):
    """Move the selected faces into a new segment"""
    bl_idname = "partverse.split"
    bl_label = "Split Selection"
    bl_options = {"REGISTER"}

    name: StringProperty(name="Name", default="")

    def execute(self, context):  # noqa: ANN001
        def do():  # noqa: ANN202
            faces, old = scene.selected_faces(tasks.task_object()), STATE.session.labels
            STATE.session.split(faces, self.name or None)
            tasks.show(old)
            return f"{faces.size} faces moved to segment {int(STATE.session.labels[faces[0]])}"
        return _run(self, do)


class PV_OT_rename(bpy.types.Operator):
    """Name a segment"""
    bl_idname = "partverse.rename"
    bl_label = "Rename Segment"
    bl_options = {"REGISTER"}

    segment: IntProperty(name="Segment", default=-1)
    name: StringProperty(name="Name")

    def invoke(self, context, event):  # noqa: ANN001
        wm = context.window_manager
        if self.segment < 0 and 0 <= wm.pv_segment_index < len(wm.pv_segments):
            self.segment = wm.pv_segments[wm.pv_segment_index].segment
        return wm.invoke_props_dialog(self)

    def execute(self, context):  # noqa: ANN001
        def do():  # noqa: ANN202
            tasks.task_object()
            STATE.session.rename(self.segment, self.name)
            tasks.show(STATE.session.labels)
            return f"Segment {self.segment} is now {self.name.strip()!r}"
        return _run(self, do)


class PV_OT_undo(bpy.types.Operator):
    """Undo the last add-on edit (merge, split, rename)"""
    bl_idname = "partverse.undo"
    bl_label = "Undo Edit"

    def execute(self, context):  # noqa: ANN001
        def do():  # noqa: ANN202
            tasks.task_object()
            old = STATE.session.labels
            kind = STATE.session.undo()
            if kind is None:
                raise AnnotatorError("Nothing to undo")
            tasks.show(old)
            return f"Undid {kind}"
        return _run(self, do)


class PV_OT_redo(bpy.types.Operator):
    """Redo the last undone add-on edit"""
    bl_idname = "partverse.redo"
    bl_label = "Redo Edit"

    def execute(self, context):  # noqa: ANN001
        def do():  # noqa: ANN202
            tasks.task_object()
            old = STATE.session.labels
            kind = STATE.session.redo()
            if kind is None:
                raise AnnotatorError("Nothing to redo")
            tasks.show(old)
            return f"Redid {kind}"
        return _run(self, do)


class PV_OT_reject(bpy.types.Operator):
    """Reject this object (it is submitted as rejected, with the reason)"""
    bl_idname = "partverse.reject"
    bl_label = "Reject Object"

    reason: EnumProperty(name="Reason", items=[(r, r.capitalize(), "") for r in L.REJECT_REASONS])
    text: StringProperty(name="Details", description="Required for 'other'")
    submit: BoolProperty(name="Submit now", default=True)

    def invoke(self, context, event):  # noqa: ANN001
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):  # noqa: ANN001
        def do():  # noqa: ANN202
            tasks.task_object()
            if self.reason == "other" and not self.text.strip():
                raise AnnotatorError("Reject: describe the problem when the reason is 'other'")
            reason = f"{self.reason}: {self.text.strip()}" if self.text.strip() else self.reason
            STATE.session.set_rejected(reason)
            if self.submit:
                tasks.submit()
            return f"Rejected ({reason})"
        return _run(self, do)


class PV_OT_submit(bpy.types.Operator):
    """Submit the labels and names; the next task can be claimed at once"""
    bl_idname = "partverse.submit"
    bl_label = "Submit"

    def execute(self, context):  # noqa: ANN001
        return _run(self, tasks.submit)


class PV_OT_release(bpy.types.Operator):
    """Give the task back to the queue (the local draft is kept)"""
    bl_idname = "partverse.release"
    bl_label = "Release Task"

    def execute(self, context):  # noqa: ANN001
        return _run(self, tasks.release)


class PV_OT_reload(bpy.types.Operator):
    """Fetch the server's latest version of the task"""
    bl_idname = "partverse.reload"
    bl_label = "Reload Task"

    keep_mine: BoolProperty(name="Keep my edits", default=False,
                            description="Rebase your local edits onto the server's latest revision instead of discarding them")

    def execute(self, context):  # noqa: ANN001
        return _run(self, lambda: tasks.reload(self.keep_mine))


class PV_OT_select_segment(bpy.types.Operator):
    """Select the faces of a segment"""
    bl_idname = "partverse.select_segment"
    bl_label = "Select Segment"

    segment: IntProperty(name="Segment")

    def execute(self, context):  # noqa: ANN001
        def do():  # noqa: ANN202
            return f"Selected {tasks.select_segment(self.segment)} faces of segment {self.segment}"
        return _run(self, do)


class PV_OT_mirror_select(bpy.types.Operator):
    """Also select the faces mirrored across an axis (the symmetry guideline)"""
    bl_idname = "partverse.mirror_select"
    bl_label = "Mirror Selection"

    axis: EnumProperty(name="Axis", items=[("0", "X", ""), ("1", "Y", ""), ("2", "Z", "")])
    extend: BoolProperty(name="Extend", default=True, description="Keep the current selection")

    def execute(self, context):  # noqa: ANN001
        def do():  # noqa: ANN202
            obj = tasks.task_object()
            if STATE.centroids is None:
                STATE.centroids = scene.face_centroids(obj)
            picked = scene.selected_faces(obj)
            mirrored = L.mirror_selection(STATE.centroids, picked, int(self.axis))
            faces = (picked if self.extend else picked[:0]).tolist() + mirrored.tolist()
            scene.select_faces(obj, sorted(set(faces)))
            return f"{mirrored.size} mirrored faces selected"
        return _run(self, do)


CLASSES = (PV_OT_claim_next, PV_OT_merge, PV_OT_split, PV_OT_rename, PV_OT_undo, PV_OT_redo, PV_OT_reject,
           PV_OT_submit, PV_OT_release, PV_OT_reload, PV_OT_select_segment, PV_OT_mirror_select)

# (operator, key, ctrl, shift, alt) on the add-on's own keymaps
HOTKEYS = (("partverse.claim_next", "N", True, True, True), ("partverse.merge", "M", False, True, True),
           ("partverse.split", "P", False, True, True), ("partverse.rename", "F2", False, True, False),
           ("partverse.undo", "Z", True, False, True), ("partverse.redo", "Z", True, True, True),
           ("partverse.reject", "R", False, True, True), ("partverse.submit", "RET", True, True, False),
           ("partverse.mirror_select", "X", False, True, True))
