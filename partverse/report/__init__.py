"""`partverse report`: one self-contained HTML page describing a release (plots, thumbnails, captions)."""
from partverse.report.build import ReportConfig, build_report

__all__ = ["ReportConfig", "build_report"]
