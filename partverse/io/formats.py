"""Imports every format module so that each registers its loader with `partverse.io.register`.

glTF / GLB: `partverse.io.gltf`; OBJ: `partverse.io.obj`; PLY / OFF / STL: `partverse.io.simple`;
FBX (through Blender, in a subprocess): `partverse.io.fbx`.
"""
from partverse.io import fbx, gltf, obj, simple  # noqa: F401
