#!/usr/bin/env python3
"""Reads CSV from stdin with Python's csv module; prints its rows as a JSON array of arrays.

Used by the render tests to check that `.mode csv` output reads back to the same cells.
"""
import csv
import io
import json
import sys

text = sys.stdin.buffer.read().decode("utf-8")
rows = list(csv.reader(io.StringIO(text, newline="")))
json.dump(rows, sys.stdout, ensure_ascii=False)
