"""The sidebar panel (View3D > N > PartVerse): task status, segment list, edit buttons."""
from __future__ import annotations

import bpy
from bpy.props import IntProperty, StringProperty

from .state import STATE


class PV_Segment(bpy.types.PropertyGroup):
    segment: IntProperty(name="Segment")
    faces: IntProperty(name="Faces")
    label: StringProperty(name="Name")


def _select_clicked(wm, context) -> None:  # noqa: ANN001
    """Clicking a segment in the list selects its faces."""
    # a direct call: running operators from a property update callback can crash Blender
    from . import tasks
    from .core.errors import AnnotatorError

    if STATE.session is not None and 0 <= wm.pv_segment_index < len(wm.pv_segments):
        try:
            tasks.select_segment(wm.pv_segments[wm.pv_segment_index].segment)
        except AnnotatorError as exc:
            STATE.message, STATE.level = str(exc), "ERROR"


class PV_UL_segments(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):  # noqa: ANN001
        row = layout.row()
        row.label(text=f"{item.segment}: {item.label or '(unnamed)'}")
        row.label(text=f"{item.faces} faces")


class PV_PT_annotator(bpy.types.Panel):
    bl_label = "PartVerse Annotator"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "PartVerse"

    def draw(self, context):  # noqa: ANN001
        layout, session = self.layout, STATE.session
        if STATE.message:
            box = layout.box()
            box.alert = STATE.level == "ERROR"
            for line in _wrap(STATE.message, 48):
                box.label(text=line, icon="ERROR" if STATE.level == "ERROR" else "INFO")
        if STATE.stale:
            row = layout.row()
            row.operator("partverse.reload", text="Reload (discard mine)").keep_mine = False
            row.operator("partverse.reload", text="Keep Mine").keep_mine = True
        if STATE.worker is not None and STATE.worker.busy():
            layout.label(text="Talking to the server...", icon="SORTTIME")
        if session is None:
            layout.operator("partverse.claim_next", icon="IMPORT")
            return
        layout.label(text=f"Task {session.task_id} · revision {session.revision} · {session.verdict}")
        wm = context.window_manager
        layout.template_list("PV_UL_segments", "", wm, "pv_segments", wm, "pv_segment_index", rows=8)
        row = layout.row(align=True)
        row.operator("partverse.merge")
        row.operator("partverse.split")
        row = layout.row(align=True)
        row.operator("partverse.rename")
        row.operator("partverse.mirror_select")
        row = layout.row(align=True)
        row.operator("partverse.undo", icon="LOOP_BACK")
        row.operator("partverse.redo", icon="LOOP_FORWARDS")
        row = layout.row(align=True)
        row.operator("partverse.reject", icon="CANCEL")
        row.operator("partverse.submit", icon="CHECKMARK")
        layout.operator("partverse.release")


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


CLASSES = (PV_Segment, PV_UL_segments, PV_PT_annotator)
