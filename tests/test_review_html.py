"""The HTML review page (`plan -o html`) from the recorded nested change sets the review tests use
(tests/fixtures/changesets, through botocore's Stubber): its structure with html.parser always,
and in headless Chromium when the machine has it (the rendered DOM and a screenshot in dist/)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from deployer.drift import DriftedResource
from deployer.review import Risk, to_json
from deployer.review_html import to_html
from tests.test_deployer_review import recorded_review

SCREENSHOT = Path(__file__).resolve().parents[1] / "dist" / "review-page.png"


@pytest.fixture(scope="module")
def review():
    result = recorded_review()
    drifted = (
        DriftedResource("security", "DatabaseSecret", "AWS::SecretsManager::Secret", "MODIFIED", ("/Description",)),
    )
    return replace(result, drifted=drifted)


class Page(HTMLParser):
    """Rows of every table by id (cells as text), <details> by layer, tags that load something."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[dict]] = {}
        self.details: dict[str, bool] = {}
        self.loads: list[str] = []
        self._table = self._row = self._cell = None
        self._tables_stack: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("link", "img", "iframe", "object", "embed") or (tag == "script" and "src" in attrs):
            self.loads.append(tag)
        if tag == "table":
            self._table = attrs.get("id", f"table{len(self.tables)}")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = {"attrs": attrs, "cells": []}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "details":
            self.details[attrs["data-layer"]] = "open" in attrs

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def body_rows(rows):
    return [r for r in rows if r["attrs"].get("class")]


def test_page_structure_data_loss_first_counts_match_the_json_view(review):
    html = to_html(review)
    page = Page(html)
    assert page.loads == [], "the page loads something from outside"
    assert "http://" not in html and "https://" not in html and "@import" not in html and "url(" not in html

    attention = body_rows(page.tables["attention"])
    assert [(r["cells"][0], r["cells"][2]) for r in attention] == [
        ("DATA LOSS", "FlowLogsLogGroup"),
        ("HIGH", "FlowLogsKey"),
        ("HIGH", "DatabaseSecret"),
    ]
    first = attention[0]["cells"]
    assert first[4:8] == ["Modify", "True", "ReplaceAndDelete", "LogGroupName (Always, DirectModification)"]

    summary = json.loads(to_json(review))["summary"]
    rows = body_rows(page.tables["summary"])
    assert [[r["cells"][0], *map(int, r["cells"][1:5])] for r in rows] == [
        [s["layer"], s["adds"], s["modifies"], s["replaces"], s["removes"]] for s in summary
    ]
    assert [r["cells"][5] for r in rows] == [Risk[s["highest"]].label for s in summary] == ["DATA LOSS", "HIGH"]

    # one collapsible section per nested stack, open where something is HIGH or worse; every change once
    assert page.details == {"network": True, "security": True}
    per_layer = [r for layer in page.details for r in body_rows(page.tables[f"layer-{layer}"])]
    assert len(per_layer) == len(review.changes) == len(json.loads(to_json(review))["changes"])

    drift = page.tables["drifted"][1:]  # under its header row
    assert [r["cells"] for r in drift] == [
        ["security", "DatabaseSecret", "AWS::SecretsManager::Secret", "MODIFIED", "/Description"]
    ]


def test_page_without_risky_changes_or_drift_says_so(review):
    calm = replace(review, changes=tuple(c for c in review.changes if c.risk.name in ("LOW", "MEDIUM")), drifted=())
    html = to_html(calm)
    assert '<p id="attention">None: no stateful resource is replaced or removed.</p>' in html
    assert 'id="drift"' not in html
    assert to_html(calm) == html  # deterministic


def _chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    return subprocess.run([shutil.which("chromium"), *flags, *args], capture_output=True, text=True, timeout=60)


def test_page_in_headless_chromium(review, tmp_path):
    if shutil.which("chromium") is None:
        # CI (.ci/run) installs chromium and sets CFN_STRATA_REQUIRE_CHROMIUM: there a missing browser fails.
        if os.environ.get("CFN_STRATA_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required here (CFN_STRATA_REQUIRE_CHROMIUM is set) but not installed")
        pytest.skip(
            "chromium is not installed here (Debian: apt-get install chromium); the html.parser test "
            "still checks the page"
        )
    path = tmp_path / "review.html"
    path.write_text(to_html(review))
    dumped = _chromium("--dump-dom", path.as_uri(), tmp_path=tmp_path)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = Page(dumped.stdout)
    attention = body_rows(dom.tables["attention"])
    assert attention[0]["cells"][0] == "DATA LOSS" and attention[0]["cells"][2] == "FlowLogsLogGroup"
    assert "hidden" not in attention[0]["attrs"]  # visible: the filter script ran and hid nothing
    assert '<div id="filter">' in dumped.stdout  # the script ran (it unhides the filter)
    summary = json.loads(to_json(review))["summary"]
    assert [[r["cells"][0], *map(int, r["cells"][1:5])] for r in body_rows(dom.tables["summary"])] == [
        [s["layer"], s["adds"], s["modifies"], s["replaces"], s["removes"]] for s in summary
    ]

    SCREENSHOT.parent.mkdir(exist_ok=True)
    shot = _chromium(
        f"--screenshot={SCREENSHOT}", "--window-size=1400,1100", "--hide-scrollbars", path.as_uri(), tmp_path=tmp_path
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and SCREENSHOT.stat().st_size > 20_000
