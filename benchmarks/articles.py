"""Article parsing: our selectolax parser against trafilatura and extruct, same run.

Run:  python -m benchmarks.articles [--runs 200]

On the fixture articles (the offline example, the test suite's news pages), it scores each
parser on what an article record needs, against hand-written expectations:

* title, author and published date (exact);
* main text: the story's first sentence is there, the text *starts* with the story (no kicker,
  byline or date run into it: what the page's excerpt shows), and none of the page furniture
  (navigation, cookie banner, related links, comments, footer) is in it;

and times each per article (median of ``--runs``).  extruct reads only structured data
(JSON-LD, OpenGraph, microdata), so it is scored on the metadata it returns and timed for the
JSON-LD + OpenGraph syntaxes, and beside it a plain ``json.loads`` of the page's
``<script type="application/ld+json">`` blocks, which is what ``VideoObject`` discovery needs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.machine import describe
from tests.conftest import ARTICLE_A, ARTICLE_B
from tests.test_articles import NEWS_PAGE, NEWS_URL
from worker.intake.articles import parse_article

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    name: str
    html: str
    url: str
    title: str
    author: str
    published: str
    first: str  # the story's first words
    furniture: tuple[str, ...]


CASES = (
    Case("example (situation-report.html)",
         (REPO / "examples" / "situation-report.html").read_text(),
         "https://news.example.org/region/2026/11/20/coastal-port-reopens",
         "Coastal port back in business as repairs near completion", "Maria Ellis",
         "2026-11-20", "Ships are moving again along the coast",
         ("Subscribe", "Opinion", "By Maria Ellis", "Region")),
    Case("test news page", NEWS_PAGE, NEWS_URL, "Harbour reopens after the storm",
         "Jane Reporter", "2026-11-20", "Ships moved again on Thursday",
         ("cookies", "Subscribe today", "Share on Social", "Related stories", "Reader comment",
          "Copyright", "Your email", "Fact box")),
    Case("fixture site A", ARTICLE_A, "http://127.0.0.1:1/a.html",
         "Harbour reopens as the storm clean-up goes on", "Jane Reporter", "2026-11-20",
         "Officials gave their morning update", ("subscribe today", "Cookie settings", "Sport")),
    Case("fixture site B", ARTICLE_B, "http://127.0.0.1:1/b.html", "Convoy reaches the city",
         "", "2026-11-21", "Aid agencies welcomed the news", ()),
)


def _ours(case: Case) -> dict[str, str]:
    article = parse_article(case.html, case.url)
    # Our text starts with the headline as its own paragraph, by design (it is searched too);
    # what follows the headline is what the excerpt shows.
    text = article.text
    if text.startswith(article.title):
        text = text[len(article.title):].lstrip()
    return {"title": article.title, "author": article.author, "published": article.published,
            "text": text}


def _trafilatura(case: Case) -> dict[str, str]:
    import trafilatura

    doc = trafilatura.bare_extraction(case.html, url=case.url, with_metadata=True,
                                      include_comments=False, include_tables=False,
                                      as_dict=True)
    doc = doc or {}
    title, text = doc.get("title") or "", doc.get("text") or ""
    if title and text.startswith(title):  # as for ours: the excerpt starts after the headline
        text = text[len(title):].lstrip()
    return {"title": title, "author": doc.get("author") or "",
            "published": (doc.get("date") or "")[:10], "text": text}


def _extruct(case: Case) -> dict[str, str]:
    import extruct

    data = extruct.extract(case.html, base_url=case.url, syntaxes=["json-ld", "opengraph"],
                           uniform=True)
    og = (data.get("opengraph") or [{}])[0]
    ld = next((d for d in data.get("json-ld") or [] if "headline" in d), {})
    author = ld.get("author") or {}
    return {"title": ld.get("headline") or og.get("og:title") or "",
            "author": author.get("name", "") if isinstance(author, dict) else "",
            "published": (ld.get("datePublished") or og.get("article:published_time")
                          or "")[:10],
            "text": ""}


def _json_ld(case: Case) -> list[Any]:
    from selectolax.lexbor import LexborHTMLParser

    found = []
    for node in LexborHTMLParser(case.html).css('script[type="application/ld+json"]'):
        try:
            found.append(json.loads(node.text()))
        except ValueError:
            continue
    return found


def _score(case: Case, got: dict[str, str]) -> dict[str, bool]:
    text = got["text"]
    return {
        "title": got["title"] == case.title,
        "author": got["author"] == case.author,
        "date": got["published"] == case.published,
        "story": case.first in " ".join(text.split()),
        "starts clean": " ".join(text.split()).startswith(case.first),
        "no furniture": bool(text) and not any(f in text for f in case.furniture),
    }


def _time(fn: Callable[[Case], Any], case: Case, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(case)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(describe())
    parsers: dict[str, Callable[[Case], dict[str, str]]] = {
        "selectolax (ours)": _ours, "trafilatura": _trafilatura, "extruct": _extruct}
    for case in CASES:  # warm up imports and caches
        for fn in parsers.values():
            fn(case)
    checks = list(_score(CASES[0], _ours(CASES[0])))
    print(f"\n{'parser':<20}" + "".join(f"{c:>14}" for c in checks) + f"{'ms/article':>12}")
    for name, fn in parsers.items():
        scores = [_score(case, fn(case)) for case in CASES]
        cells = "".join(f"{sum(s[c] for s in scores):>11}/{len(CASES)}" for c in checks)
        ms = statistics.mean(_time(fn, case, args.runs) for case in CASES)
        print(f"{name:<20}{cells}{ms:>12.2f}")
    ms = statistics.mean(_time(_json_ld, case, args.runs) for case in CASES)
    print(f"{'json.loads of ld+json':<20}{'':>{14 * len(checks)}}{ms:>12.2f}")
    print("\nPer case (title | author | date | text start):")
    for case in CASES:
        for name, fn in parsers.items():
            got = fn(case)
            print(f"  {case.name:<32} {name:<18} {got['title'][:34]!r:<38} "
                  f"{got['author']!r:<16} {got['published']!r:<13} "
                  f"{' '.join(got['text'].split())[:50]!r}")


if __name__ == "__main__":
    main()
