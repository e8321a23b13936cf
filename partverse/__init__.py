"""partverse: build part-level 3D datasets the way PartVerse was built, and train on them."""
from partverse.records import Annotation, ArtistPart, Asset, Material, Mesh, Part, PreparedMesh, Segmentation

__version__ = "0.1.0"
__all__ = ["Annotation", "ArtistPart", "Asset", "Material", "Mesh", "Part", "PreparedMesh", "Segmentation"]
