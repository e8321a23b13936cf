"""The add-on's core: no `bpy` import. HTTP client (stdlib urllib), label operations on numpy
arrays, an undo/redo history, an atomic local draft store, a GLB reader and a background worker.
The Blender layer (the package's other modules) only moves data between these and the scene."""
