"""Geometry on face arrays: adjacency, normalization, sampling, boxes."""
