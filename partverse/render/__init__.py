"""Renders: cameras, embree face-id / normal / shaded renders, best views, highlight composites."""
