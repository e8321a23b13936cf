"""Objaverse 1.0 and Objaverse-XL ingestion: indexes, selection, robust downloads, git sources.

Modules: `layout` (cache paths shared with the `objaverse` package, real URLs), `http`
(retrying, rate-limited, atomic, resumable fetches), `validate` (content checks), `v1`
(object paths, metadata shards, LVIS), `sources` (selection rows per source, XL annotation
Parquet files, download targets), `licenses` (licence codes), `git_source` (GitHub repos at
a pinned commit with LFS), `selection` (filters -> table with counts), `batch` (download a
selection; every object ends downloaded, cached or failed with a reason).
"""
