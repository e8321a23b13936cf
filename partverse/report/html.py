"""The report's HTML page: inline CSS, every image a data: URI, no external resource."""
from __future__ import annotations

import html

CSS = """
body { font: 14px system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: .2em; } section { margin: 2em 0; }
img.plot { margin: .3em; border: 1px solid #eee; }
table.counts th { text-align: left; padding-right: 2em; font-weight: normal; color: #555; }
.grid { display: flex; flex-wrap: wrap; gap: .6em; }
figure.thumb { margin: 0; text-align: center; font-size: .85em; }
.captions { display: grid; grid-template-columns: 1fr 1fr; gap: 0 2em; }
.caption { display: flex; gap: 1em; align-items: flex-start; margin: 1em 0; }
.caption h3 { margin: 0 0 .3em; font-size: 1em; } .brief { font-weight: bold; } .status { color: #777; }
.missing { width: 192px; height: 192px; background: #eee; display: flex; align-items: center; justify-content: center; }
.notes { color: #a33; }
"""


def page(title: str, sections: list[tuple[str, str]], notes: list[str]) -> str:
    """sections: (heading, inner HTML); notes: problems met while building (shown at the end)."""
    body = "".join(
        f'<section id="{html.escape(_anchor(h))}"><h2>{html.escape(h)}</h2>{inner}</section>' for h, inner in sections)
    toc = " · ".join(f'<a href="#{_anchor(h)}">{html.escape(h)}</a>' for h, _ in sections)
    if notes:
        body += '<section id="notes"><h2>Problems</h2><ul class="notes">' + "".join(
            f"<li>{html.escape(n)}</li>" for n in notes) + "</ul></section>"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1><nav>{toc}</nav>{body}</body></html>")


def _anchor(heading: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in heading.lower())
