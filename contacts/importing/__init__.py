"""Importing leads (PRODUCT 5): files in, mapped, previewed, written in checkpointed batches.

sources.py   read CSV / XLSX / vCard files into a header and rows of text
targets.py   what a column can be mapped to (standard fields, custom fields, new ones)
mapping.py   guessing the mapping from headers (aliases of common exports + rapidfuzz)
rows.py      one raw row → the values it will store, or its problems
writer.py    a batch of clean rows → created / updated / skipped, set-based
jobs.py      the whole run: dry run, background import, checkpoints, resume
undo.py      undoing a finished import
"""
