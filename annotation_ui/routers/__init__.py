"""One router per resource, all mounted under /api/v1 by `annotation_ui.app.create_app`."""
