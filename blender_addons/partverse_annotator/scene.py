"""Moving task data in and out of Blender: one mesh object, an INT FACE attribute with the segment
id, a CORNER BYTE_COLOR attribute with the segment colour, selections as numpy arrays. All bulk
transfers use foreach_get / foreach_set (no Python loop over faces)."""
from __future__ import annotations

import contextlib

import bpy
import numpy as np

from .core.colors import corner_colors, segment_palette

SEGMENT_ATTR = "pv_segment"
COLOR_ATTR = "pv_segment_color"


def build_object(name: str, vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray) -> bpy.types.Object:
    """A new object `name` (replacing an old one) from (V, 3) glTF Y-up vertices, (F, 3) faces, (F,) labels."""
    old = bpy.data.objects.get(name)
    if old is not None:
        mesh = old.data
        bpy.data.objects.remove(old, do_unlink=True)
        if mesh.users == 0:
            bpy.data.meshes.remove(mesh)
    me = bpy.data.meshes.new(name)
    v = np.ascontiguousarray(vertices[:, [0, 2, 1]] * np.array([1, -1, 1], np.float32), np.float32)  # Y-up -> Z-up
    me.vertices.add(len(v))
    me.vertices.foreach_set("co", v.ravel())
    me.loops.add(faces.size)
    me.loops.foreach_set("vertex_index", faces.astype(np.int32).ravel())
    me.polygons.add(len(faces))
    me.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    me.update(calc_edges=True)
    me.attributes.new(SEGMENT_ATTR, "INT", "FACE")
    color = me.color_attributes.new(COLOR_ATTR, "BYTE_COLOR", "CORNER")
    me.color_attributes.active_color = color
    me.color_attributes.render_color_index = me.color_attributes.active_color_index
    obj = bpy.data.objects.new(name, me)
    bpy.context.scene.collection.objects.link(obj)
    for other in bpy.context.scene.objects:
        other.select_set(False)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    write_labels(obj, labels)
    show_attribute_colors()
    return obj


@contextlib.contextmanager
def object_mode(obj: bpy.types.Object):
    """Edit-mode changes flushed to the mesh inside; the previous mode restored after."""
    was_edit = obj.mode == "EDIT"
    if was_edit:
        bpy.ops.object.mode_set(mode="OBJECT")
    try:
        yield obj.data
    finally:
        if was_edit:
            bpy.ops.object.mode_set(mode="EDIT")


def write_labels(obj: bpy.types.Object, labels: np.ndarray) -> None:
    """Store (F,) labels in the INT face attribute and recolour every corner."""
    with object_mode(obj) as me:
        me.attributes[SEGMENT_ATTR].data.foreach_set("value", np.ascontiguousarray(labels, np.int32))
        # sRGB floats: the byte attribute stores sRGB, so no per-value linear->sRGB conversion (2x faster)
        me.attributes[COLOR_ATTR].data.foreach_set("color_srgb", corner_colors(labels, *_corner_layout(me)))
        me.update_tag()  # a full update() recomputes normals etc.: seconds at 1M faces


EDIT_IN_PLACE_LIMIT = 300_000  # changed faces (~5 us each) up to which edit mode is kept (BMesh write) instead of a mode round trip


def update_labels(obj: bpy.types.Object, old: np.ndarray, new: np.ndarray) -> None:
    """Show (F,) labels `new` where the object shows `old`. In edit mode, few changed faces are
    written into the BMesh in place: an edit -> object -> edit round trip costs seconds at 1M faces
    (benchmarks/addon_ops.py), a per-changed-face write ~5 us per face."""
    changed = np.flatnonzero(old != new)
    if obj.mode != "EDIT" or changed.size > EDIT_IN_PLACE_LIMIT:
        write_labels(obj, new)
        return
    import bmesh

    me = obj.data
    bm = bmesh.from_edit_mesh(me)
    seg, col = bm.faces.layers.int.get(SEGMENT_ATTR), bm.loops.layers.color.get(COLOR_ATTR)
    if seg is None or col is None:
        raise RuntimeError(f"{obj.name}: the segment attributes are missing; reload the task")
    bm.faces.ensure_lookup_table()
    palette = [tuple(c) for c in segment_palette(int(new.max(initial=0)) + 1).tolist()]  # sRGB, as write_labels
    faces = bm.faces
    for face_index, segment in zip(changed.tolist(), new[changed].tolist()):
        face = faces[face_index]
        face[seg] = segment
        rgba = palette[segment]  # a tuple: converting a numpy row per corner costs 10x more
        for loop in face.loops:
            loop[col] = rgba
    bmesh.update_edit_mesh(me, loop_triangles=False, destructive=False)


def _corner_layout(me: bpy.types.Mesh) -> tuple[np.ndarray, int | None]:
    """(corner_face or None, corners per face when all faces have the same count)."""
    if len(me.loops) == 3 * len(me.polygons):
        return None, 3
    return _corner_face(me), None


def _corner_face(me: bpy.types.Mesh) -> np.ndarray:
    """(C,) face index of each corner (from loop_start; faces are triangles here but need not be)."""
    starts = np.empty(len(me.polygons), np.int32)
    me.polygons.foreach_get("loop_start", starts)
    counts = np.diff(np.append(starts, len(me.loops)))
    return np.repeat(np.arange(len(starts), dtype=np.int32), counts)


def read_labels(obj: bpy.types.Object) -> np.ndarray:
    with object_mode(obj) as me:
        out = np.empty(len(me.polygons), np.int32)
        me.attributes[SEGMENT_ATTR].data.foreach_get("value", out)
        return out


def selected_faces(obj: bpy.types.Object) -> np.ndarray:
    """Sorted (n,) indices of the selected faces (edit-mode selection included).

    Edit mode reads the BMesh directly: 0.3 s at 1M faces against 1.5 s for update_from_editmode()
    + foreach_get (measured, benchmarks/addon_ops.py); it is the one per-face Python iteration here.
    """
    me = obj.data
    if obj.mode == "EDIT":
        import bmesh

        bm = bmesh.from_edit_mesh(me)
        return np.flatnonzero(np.fromiter((f.select for f in bm.faces), bool, len(bm.faces)))
    attr = me.attributes.get(".select_poly")  # absent when nothing is selected
    if attr is None:
        return np.zeros(0, np.int64)
    sel = np.empty(len(me.polygons), bool)
    attr.data.foreach_get("value", sel)
    return np.flatnonzero(sel)


def select_faces(obj: bpy.types.Object, faces: np.ndarray) -> None:
    """Select exactly `faces` ((n,) indices), in face select mode; stays in the current mode."""
    bpy.context.tool_settings.mesh_select_mode = (False, False, True)
    with object_mode(obj) as me:
        sel = np.zeros(len(me.polygons), bool)
        sel[faces] = True
        me.polygons.foreach_set("select", sel)
        vsel = np.zeros(len(me.vertices), bool)
        corner_vertex = np.empty(len(me.loops), np.int32)
        me.loops.foreach_get("vertex_index", corner_vertex)
        vsel[corner_vertex[sel[_corner_face(me)]]] = True
        me.vertices.foreach_set("select", vsel)
        # edges are left alone: edges.foreach_set("select") crashes bpy 5.0; face select mode ignores them
        me.update()


def face_centroids(obj: bpy.types.Object) -> np.ndarray:
    """(F, 3) float32 face centres in object space."""
    me = obj.data
    out = np.empty(len(me.polygons) * 3, np.float32)
    me.polygons.foreach_get("center", out)
    return out.reshape(-1, 3)


def show_attribute_colors() -> None:
    """Solid shading with attribute colours, in every 3D view and the scene's Workbench settings."""
    scene = bpy.context.scene
    with contextlib.suppress(AttributeError, TypeError):
        scene.display.shading.color_type = "VERTEX"
    for screen in bpy.data.screens:
        for area in screen.areas:
            if area.type == "VIEW_3D":
                for space in area.spaces:
                    if space.type == "VIEW_3D":
                        space.shading.type = "SOLID"
                        space.shading.color_type = "VERTEX"
