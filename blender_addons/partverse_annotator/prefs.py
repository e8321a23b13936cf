"""Add-on preferences: server URL, token, project, local drafts folder, lease renewal interval."""
from __future__ import annotations

import bpy
from bpy.props import FloatProperty, StringProperty

ADDON_ID = __package__


class PV_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    server_url: StringProperty(name="Server URL", default="http://127.0.0.1:8000")
    token: StringProperty(name="Token", subtype="PASSWORD", description="Your annotator token (partverse users token)")
    project: StringProperty(name="Project", default="default")
    drafts_dir: StringProperty(name="Drafts folder", subtype="DIR_PATH",
                               description="Where local drafts are kept (empty: ~/.local/share/partverse_annotator)")
    renew_seconds: FloatProperty(name="Renew lease every (s)", default=120.0, min=0.0)

    def draw(self, context):  # noqa: ANN001
        for prop in ("server_url", "token", "project", "drafts_dir", "renew_seconds"):
            self.layout.prop(self, prop)


def get(context=None):  # noqa: ANN001, ANN201
    context = context or bpy.context
    return context.preferences.addons[ADDON_ID].preferences
