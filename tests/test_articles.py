"""Parsing articles: metadata, main text and the videos a reader would find."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.intake.articles import article_id_for, parse_article

NEWS_URL = "https://news.example.org/world/2026/11/20/harbour-reopens"

NEWS_PAGE = """<!doctype html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Harbour reopens | Example News</title>
<meta property="og:title" content="Harbour reopens after the storm">
<meta name="author" content="Jane Reporter">
<meta property="og:site_name" content="Example News">
<meta property="article:published_time" content="2026-11-20T08:00:00+01:00">
<meta property="og:video" content="/media/lead.mp4">
<meta property="og:video:secure_url" content="https://news.example.org/media/lead.mp4#t=5">
<script>var promo = "https://ads.example.com/script-promo.mp4";</script>
<style>.x { background: url(https://cdn.example.com/style.mp4) }</style>
</head>
<body>
<div id="cookie-banner" class="consent">We use cookies to improve your experience.
  <a href="/privacy">Privacy</a></div>
<header class="site-header">
  <a href="/">Example News</a> <a href="/subscribe">Subscribe today</a>
</header>
<nav><a href="/">Home</a> <a href="/world">World</a>
  <a href="/promo/sizzle-reel.mp4">Our best videos</a></nav>
<main>
<article>
  <h1>Harbour reopens after the storm</h1>
  <div class="share-bar"><a href="https://social.example/share">Share on Social</a></div>
  <p>Ships   moved again on
     Thursday after a long closure.</p>
  <video controls poster="/img/lead.jpg" src="/media/lead.mp4"></video>
  <p>Officials gave a <a href="downloads/briefing.MP4?download=1">press briefing</a>
     and published <a href="downloads/briefing.MP4?download=1#t=30">the same briefing</a>
     again later.</p>
  <video controls>
    <source src="clips/aerial.webm" type="video/webm">
    <source src="clips/aerial-hd.mp4">
    <source src="clips/aerial.m3u8" type="application/x-mpegURL">
  </video>
  <audio controls><source src="podcast/episode.mp4" type="audio/mp4"></audio>
  <p>The full recording is at https://media.example.org/full-briefing.mp4. Older footage
     (see https://media.example.org/archive/storm_(day_1).mp4) is kept too.</p>
  <ul>
    <li><a href="javascript:play('evil.mp4')">Play</a></li>
    <li><a href="mailto:desk@example.org?subject=clip.mp4">Email the desk</a></li>
    <li><a href="ftp://files.example.org/raw.mp4">Raw footage</a></li>
    <li><a href="https://user:secret@media.example.org/private.mp4">Private cut</a></li>
    <li><a href="/player?file=interview.mp4">Interview player</a></li>
    <li><a href="  \n /media/spaced\u200b.mp4  ">Spaced link</a></li>
  </ul>
  <video src="data:video/mp4;base64,AAAAIGZ0eXBpc29t"></video>
  <blockquote><p>"We are open for business," the harbour master said.</p></blockquote>
  <aside class="pull-out"><p>Fact box: the harbour is 200 years old.</p></aside>
  <section class="related-links"><h2>Related stories</h2>
    <a href="/world/other">Storm damage survey begins</a></section>
  <form><label>Your email</label><input name="email"></form>
</article>
</main>
<section id="comments">
  <p>Reader comment: look at my video https://spam.example/comment.mp4</p>
</section>
<footer><p>Copyright Example News. All rights reserved.</p>
  <a href="/about/company-video.mp4">About us</a></footer>
</body></html>
"""


def test_news_page_metadata_comes_from_the_meta_tags() -> None:
    article = parse_article(NEWS_PAGE, NEWS_URL)
    assert article.title == "Harbour reopens after the storm"
    assert article.author == "Jane Reporter"
    assert article.source == "Example News"
    # The publisher's calendar date, not the UTC one.
    assert article.published == "2026-11-20"
    assert article.url == NEWS_URL
    assert article.id == article_id_for(NEWS_URL)


def test_news_page_text_is_the_story_without_the_page_furniture() -> None:
    text = parse_article(NEWS_PAGE, NEWS_URL).text
    paragraphs = text.split("\n\n")
    assert paragraphs[0] == "Harbour reopens after the storm"
    assert "Ships moved again on Thursday after a long closure." in paragraphs
    assert "Officials gave a press briefing and published the same briefing again later." in (
        paragraphs
    )
    assert '"We are open for business," the harbour master said.' in paragraphs
    for furniture in (
        "cookies",
        "Subscribe today",
        "Home",
        "Share on Social",
        "Related stories",
        "Storm damage survey",
        "Reader comment",
        "Copyright",
        "Your email",
        "Fact box",
        "var promo",
        "background",
    ):
        assert furniture not in text


def test_news_page_videos_in_order_resolved_and_deduplicated() -> None:
    videos = parse_article(NEWS_PAGE, NEWS_URL).video_urls
    assert videos == (
        "https://news.example.org/media/lead.mp4",
        "https://news.example.org/world/2026/11/20/downloads/briefing.MP4?download=1",
        "https://news.example.org/world/2026/11/20/clips/aerial.webm",
        "https://news.example.org/world/2026/11/20/clips/aerial-hd.mp4",
        "https://media.example.org/full-briefing.mp4",
        "https://media.example.org/archive/storm_(day_1).mp4",
        "https://news.example.org/media/spaced.mp4",
    )


def test_base_href_moves_relative_links_on_web_pages() -> None:
    page = """<html><head><base href="https://cdn.example.net/assets/"></head><body>
    <p>Watch <a href="clip.mp4">the clip</a> or <a href="/root.mp4">this one</a>.</p>
    </body></html>"""
    article = parse_article(page, "https://news.example.org/story")
    assert article.video_urls == (
        "https://cdn.example.net/assets/clip.mp4",
        "https://cdn.example.net/root.mp4",
    )


@pytest.mark.parametrize(
    "base", ["javascript:alert(1)", "file:///etc/", "data:text/html,x", "ftp://x.example/"]
)
def test_base_href_with_another_scheme_is_ignored(base: str) -> None:
    page = f'<html><head><base href="{base}"></head><body><a href="clip.mp4">c</a></body></html>'
    article = parse_article(page, "https://news.example.org/world/story")
    assert article.video_urls == ("https://news.example.org/world/clip.mp4",)


def test_og_video_that_is_a_player_page_is_not_a_video() -> None:
    page = """<html><head>
    <meta property="og:video" content="https://www.youtube.com/embed/abc123">
    <meta property="og:video:type" content="text/html">
    </head><body><p>Story.</p></body></html>"""
    assert parse_article(page, "https://news.example.org/a").video_urls == ()


def test_og_video_with_a_video_type_is_kept_without_an_extension() -> None:
    page = """<html><head>
    <meta property="og:video:url" content="https://cdn.example.net/stream?id=42">
    <meta property="og:video:type" content="video/mp4">
    <meta name="twitter:player:stream" content="https://cdn.example.net/stream?id=43">
    </head><body><p>Story.</p></body></html>"""
    assert parse_article(page, "https://news.example.org/a").video_urls == (
        "https://cdn.example.net/stream?id=42",
        "https://cdn.example.net/stream?id=43",
    )


def test_file_article_keeps_relative_local_videos_and_web_videos() -> None:
    page = """<html><body><article>
    <p>Offline copy.</p>
    <video><source src="clips/my report.mp4" type="video/mp4"></video>
    <a href="../shared/other.mp4">other</a>
    <a href="https://media.example.org/web.mp4">web</a>
    <base href="https://cdn.example.net/">
    </article></body></html>"""
    article = parse_article(page, "file:///home/ana/briefings/article.html")
    assert article.video_urls == (
        "file:///home/ana/briefings/clips/my%20report.mp4",
        "file:///home/ana/shared/other.mp4",
        "https://media.example.org/web.mp4",
    )
    assert article.source == ""
    assert article.url == "file:///home/ana/briefings/article.html"


def test_web_article_drops_links_to_local_files() -> None:
    page = '<p><a href="file:///etc/secret.mp4">x</a> <a href="ok.mp4">ok</a></p>'
    article = parse_article(page, "https://news.example.org/a.html")
    assert article.video_urls == ("https://news.example.org/ok.mp4",)


def test_title_falls_back_to_title_tag_then_first_heading() -> None:
    with_title = "<html><head><title> Plain  title </title></head><body><h1>H</h1></body></html>"
    only_h1 = "<html><body><h1>Heading only</h1><p>Body.</p></body></html>"
    assert parse_article(with_title, "https://a.example/x.html").title == "Plain title"
    assert parse_article(only_h1, "https://a.example/x.html").title == "Heading only"


def test_author_skips_profile_urls_and_reads_the_byline() -> None:
    page = """<html><head>
    <meta property="article:author" content="https://www.facebook.com/janereporter">
    </head><body><article><p class="byline">By   Jane Reporter</p>
    <p>Story text.</p></article></body></html>"""
    article = parse_article(page, "https://news.example.org/story.html")
    assert article.author == "Jane Reporter"
    assert article.source == "news.example.org"


def test_text_without_block_elements_is_the_containers_text() -> None:
    page = "<html><body><main><div>First line</div><div>Second <b>bold</b> line</div></main>"
    text = parse_article(page, "https://a.example/x.html").text
    assert text == "First line\n\nSecond bold line"


def test_longest_article_wins_over_teaser_cards() -> None:
    page = """<html><body>
    <article><p>Teaser: another story.</p></article>
    <article><p>The real story has much more text than the teaser card does.</p>
    <p>And a second paragraph.</p></article></body></html>"""
    text = parse_article(page, "https://a.example/x.html").text
    assert text.startswith("The real story")
    assert "Teaser" not in text


def test_page_wide_form_wrapper_does_not_hide_the_story() -> None:
    # ASP.NET WebForms wraps the whole page in one <form>.
    page = """<html><body><form id="aspnetForm"><div class="menu">Menu items</div>
    <h1>Council budget approved</h1><p>The council approved the budget.</p>
    </form></body></html>"""
    article = parse_article(page, "https://a.example/x.aspx")
    assert article.text == "Council budget approved\n\nThe council approved the budget."


def test_deeply_nested_page_still_yields_its_text() -> None:
    page = "<div>" * 100_000 + "<p>Deep paragraph.</p>" + "</div>" * 100_000
    article = parse_article(page, "https://a.example/deep.html")
    assert article.text == "Deep paragraph."


def test_article_without_videos() -> None:
    page = """<html><head><title>Quiet day</title></head><body><article>
    <p>Astronomers catalogued a comet with a green tail.</p>
    <p><a href="/science/comets">More on comets</a>, <img src="comet.jpg"></p>
    </article></body></html>"""
    article = parse_article(page, "https://news.example.org/quiet.html")
    assert article.video_urls == ()
    assert article.text.startswith("Astronomers catalogued a comet")


def test_thousands_of_links_are_capped_in_page_order() -> None:
    links = "".join(f'<li><a href="/v/{i}.mp4">clip {i}</a></li>' for i in range(5000))
    page = f"<html><body><article><ul>{links}</ul></article></body></html>"
    default = parse_article(page, "https://a.example/list.html")
    small = parse_article(page, "https://a.example/list.html", max_videos=3)
    assert len(default.video_urls) == 100
    assert default.video_urls[-1] == "https://a.example/v/99.mp4"
    assert small.video_urls == tuple(f"https://a.example/v/{i}.mp4" for i in range(3))


def test_text_is_truncated_at_max_text_chars() -> None:
    page = "<p>" + "word " * 10_000 + "</p>"
    article = parse_article(page, "https://a.example/long.html", max_text_chars=1000)
    assert len(article.text) == 1000
    assert article.text.startswith("word word")


def test_input_beyond_max_input_chars_is_not_read() -> None:
    page = "<p>Kept.</p>" + " " * 1000 + '<p><a href="late.mp4">late</a> Dropped.</p>'
    article = parse_article(page, "https://a.example/a.html", max_input_chars=500)
    assert article.text == "Kept."
    assert article.video_urls == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20T08:00:00Z", "2026-11-20"),
        ("2026-11-20T23:30:00-05:00", "2026-11-20"),
        ("2026-11-20T08:00:00.123456+00:00", "2026-11-20"),
        ("2026-11-20 08:00", "2026-11-20"),
        ("2026-11-20", "2026-11-20"),
        ("2026/11/20", "2026-11-20"),
        ("2026-1-5", "2026-01-05"),
        ("20261120", "2026-11-20"),
        ("20261120T080000Z", "2026-11-20"),
        ("Fri, 20 Nov 2026 08:00:00 GMT", "2026-11-20"),
        ("November 20, 2026", "2026-11-20"),
        ("20 Nov 2026", "2026-11-20"),
        ("2026-02-30", ""),
        ("2026-13-01", ""),
        ("0000-01-01", ""),
        ("1795132800", ""),
        ("yesterday", ""),
        ("", ""),
    ],
)
def test_published_date_formats(value: str, expected: str) -> None:
    page = f'<html><head><meta property="article:published_time" content="{value}"></head>'
    assert parse_article(page, "https://a.example/a.html").published == expected


@pytest.mark.parametrize(
    "markup",
    [
        '<meta name="date" content="2026-11-20">',
        '<meta name="DC.date" content="2026-11-20">',
        '<meta itemprop="datePublished" content="2026-11-20T10:00">',
        '<span itemprop="datePublished">2026-11-20</span>',
        '<time datetime="2026-11-20T10:00:00Z">Friday</time>',
        '<meta property="article:published_time" content="soon">'
        '<time datetime="2026-11-20">Friday</time>',
    ],
)
def test_published_date_sources(markup: str) -> None:
    page = f"<html><head></head><body>{markup}<p>Story.</p></body></html>"
    assert parse_article(page, "https://a.example/a.html").published == "2026-11-20"


MARKDOWN = """---
title: "Storm briefing, day two"
author: Jane Reporter
date: 2026-11-21T09:00:00Z
source: Example Wire
tags: [storm, harbour]
---

# Harbour update

Officials spoke [at the quay](https://example.org/quay "the quay") this morning.

![Poster frame](https://media.example.org/poster.jpg)

[![Watch the briefing](thumb.jpg)](videos/briefing.mp4)

<video controls><source src="videos/aerial.mp4" type="video/mp4"></video>

Full recording: https://media.example.org/full.mp4.

See also [the archive][archive] and <https://media.example.org/autolink.mp4>.

[archive]: https://media.example.org/archive.mp4

## Next steps ##

Repairs continue.
"""


def test_markdown_front_matter_gives_the_metadata() -> None:
    article = parse_article(MARKDOWN, "file:///notes/briefing.md")
    assert article.title == "Storm briefing, day two"
    assert article.author == "Jane Reporter"
    assert article.published == "2026-11-21"
    assert article.source == "Example Wire"


def test_markdown_text_reads_like_prose() -> None:
    text = parse_article(MARKDOWN, "file:///notes/briefing.md").text
    assert text.startswith("Harbour update\n\nOfficials spoke at the quay this morning.")
    assert "Next steps\n\nRepairs continue." in text
    assert "See also the archive and https://media.example.org/autolink.mp4." in text
    for syntax in ("](", "![", "#", "title:", "<video", "[archive]:", "poster.jpg"):
        assert syntax not in text


def test_markdown_videos_in_order() -> None:
    article = parse_article(MARKDOWN, "file:///notes/briefing.md")
    assert article.video_urls == (
        "file:///notes/videos/briefing.mp4",
        "file:///notes/videos/aerial.mp4",
        "https://media.example.org/full.mp4",
        "https://media.example.org/autolink.mp4",
        "https://media.example.org/archive.mp4",
    )


def test_markdown_title_without_front_matter_is_the_first_heading() -> None:
    md = "Intro line\n\n## Minor\n\n# Main heading #\n\nBody."
    assert parse_article(md, "https://a.example/n.md").title == "Main heading"
    assert parse_article("\n\nJust text\nmore", "https://a.example/n.md").title == "Just text"


def test_plain_text_bare_urls_and_local_paths() -> None:
    text = """Evening bulletin

The minister spoke at noon.
https://media.example.org/noon.mp4
Earlier footage (https://media.example.org/morning.mp4), and more.
clips/local-report.mp4
I watched clip.mp4 twice.
"""
    local = parse_article(text, "file:///home/ana/bulletin.txt")
    assert local.title == "Evening bulletin"
    assert local.text == text.strip()
    assert local.video_urls == (
        "https://media.example.org/noon.mp4",
        "https://media.example.org/morning.mp4",
        "file:///home/ana/clips/local-report.mp4",
    )
    web = parse_article(text, "https://news.example.org/bulletin.txt")
    assert web.video_urls == (
        "https://media.example.org/noon.mp4",
        "https://media.example.org/morning.mp4",
    )
    assert web.source == "news.example.org"


@pytest.mark.parametrize(
    ("location", "content", "title"),
    [
        ("https://a.example/story", "<!DOCTYPE html><title>Web page</title>", "Web page"),
        ("https://a.example/story", "Intro\n<p>Para</p><h1>Heading</h1>", "Heading"),
        ("https://a.example/story", "Plain words\n1 < 2 but 3 > 2", "Plain words"),
        ("https://a.example/notes.txt", "<html><title>No</title>", "<html><title>No</title>"),
        ("file:///n/notes.markdown", "# From markdown", "From markdown"),
        ("file:///n/page.HTM", "<title>From html</title>", "From html"),
        ("file:///n/readme", "<title>Read as text</title>", "<title>Read as text</title>"),
    ],
)
def test_kind_is_guessed_from_extension_then_content(
    location: str, content: str, title: str
) -> None:
    assert parse_article(content, location).title == title


def test_article_id_ignores_fragment_and_case_of_host() -> None:
    assert article_id_for("https://News.Example.org/a?x=1#top") == article_id_for(
        "https://news.example.org/a?x=1"
    )
    assert article_id_for("https://example.org") == article_id_for("https://example.org/")
    assert article_id_for("https://example.org/a") != article_id_for("https://example.org/b")
    identifier = article_id_for("file:///home/ana/a.html")
    assert len(identifier) == 16
    assert int(identifier, 16) >= 0


@pytest.mark.parametrize(
    "location", ["article.html", "/home/ana/a.html", "ftp://x/a", "https:///a"]
)
def test_unsupported_location_is_refused(location: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        parse_article("<p>x</p>", location)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown article kind 'pdf'"):
        parse_article("x", "https://a.example/a", "pdf")


NASTY_HREFS = [
    "clip.mp4",
    "/v/clip.MP4?x=1#t=3",
    "//cdn.example.net/a.mp4",
    "https://user:pw@evil.example/a.mp4",
    "https://evil.example@good.example/a.mp4",
    "http://a.example\\@evil.example/a.mp4",
    "http:\\\\evil.example\\a.mp4",
    "javascript:alert('a.mp4')",
    "data:video/mp4;base64,AAAA",
    "file:///etc/passwd.mp4",
    "ftp://x.example/a.mp4",
    "gopher://x.example/a.mp4",
    "http://[::1/a.mp4",
    "http://x.example:99999/a.mp4",
    "http://x.example:0/a.mp4",
    "http://exa mple.com/a.mp4",
    "https:///a.mp4",
    "http:a.mp4",
    " \t\u200bspace d.mp4\ufeff ",
    "vidéo/ünïcode.mp4",
    "%zz.mp4",
    "../../../../a.mp4",
    "?q=.mp4",
    "",
]

_HTML_PIECES = st.one_of(
    st.sampled_from(NASTY_HREFS).map(lambda h: f'<a href="{h}">x</a>'),
    st.sampled_from(NASTY_HREFS).map(lambda h: f"<video src='{h}'><source src={h}></video>"),
    st.sampled_from(NASTY_HREFS).map(lambda h: f'<meta property="og:video" content="{h}">'),
    st.sampled_from(NASTY_HREFS).map(lambda h: f"[t]({h}) ![i]({h}) https://x.example/{h}"),
    st.sampled_from(NASTY_HREFS).map(lambda h: f'<base href="{h}">'),
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<div class='menu'>",
            "</div>",
            "<article>",
            "<nav>",
            "<!--",
            "-->",
            "<script>",
            "</script>",
            "<h1>",
            "# ",
            "---\n",
            "title: x\n",
            "\n",
            "<br/>",
            "<svg/>",
            "<meta name=date content='2026-99-99'>",
            "<time datetime='x'>",
            "&amp;",
            "\x00",
        ]
    ),
    st.text(max_size=20),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=st.one_of(st.text(max_size=300), st.lists(_HTML_PIECES, max_size=40).map("".join)),
    location=st.sampled_from(
        ["https://news.example.org/a/b.html", "http://127.0.0.1:8000/x", "file:///home/a/b.md"]
    ),
    kind=st.sampled_from([None, "html", "markdown", "text"]),
)
def test_any_input_gives_clean_absolute_video_urls(
    content: str, location: str, kind: str | None
) -> None:
    article = parse_article(content, location, kind, max_videos=50)
    allowed = {"http", "https", "file"} if location.startswith("file:") else {"http", "https"}
    assert len(set(article.video_urls)) == len(article.video_urls)
    assert len(article.video_urls) <= 50
    for url in article.video_urls:
        parts = urlsplit(url)
        assert parts.scheme in allowed
        assert "@" not in parts.netloc
        assert parts.fragment == "" and "#" not in url
        assert not any(char.isspace() for char in url)
        if parts.scheme != "file":
            assert parts.hostname
        assert parts.port is None or parts.port > 0
    assert isinstance(article.title, str) and len(article.title) <= 300
    assert article.published == "" or len(article.published) == 10


def test_kicker_and_byline_stay_out_of_the_text_but_give_the_metadata() -> None:
    page = """<html><head><title>Port reopens</title></head><body><article><header>
    <p class="kicker">Region</p><h1>Coastal port back in business</h1>
    <p class="article-byline">By <a rel="author" href="/authors/me/">Maria Ellis</a>,
      <time datetime="2026-11-20T08:00:00Z">20 November 2026</time></p></header>
    <p>Ships are moving again along the coast after a long closure.</p></article></body></html>"""
    article = parse_article(page, NEWS_URL)
    assert article.text.split("\n\n") == ["Coastal port back in business",
                                          "Ships are moving again along the coast after a long "
                                          "closure."]
    assert article.author == "Maria Ellis" and article.published == "2026-11-20"


def test_the_example_articles_text_opens_with_its_story() -> None:
    from pathlib import Path

    html = (Path(__file__).parents[1] / "examples" / "situation-report.html").read_text()
    article = parse_article(html, "https://news.example.org/region/2026/11/20/coastal-port")
    title, first = article.text.split("\n\n")[:2]
    assert title == article.title
    assert first.startswith("Ships are moving again along the coast")


def test_video_objects_in_json_ld_are_videos() -> None:
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "NewsArticle", "headline": "Port reopens",
         "video": {"@type": "VideoObject", "name": "Briefing",
                   "contentUrl": "/media/ld-briefing.mp4",
                   "embedUrl": "https://player.example.com/embed/123"}},
        {"@type": ["VideoObject"], "contentUrl": "https://cdn.example.org/stream?id=9",
         "encodingFormat": "video/mp4"},
        {"@type": "VideoObject", "contentUrl": "https://cdn.example.org/untyped?id=10",
         "embedUrl": "https://cdn.example.org/embed/clip.webm"},
        {"@type": "ImageObject", "contentUrl": "/img/photo.mp4"},
    ]}
    page = f"""<html><head><title>Port reopens</title>
    <script type="application/ld+json">{json.dumps(graph)}</script>
    <script type="application/ld+json">{{"@type": "VideoObject", "contentUrl": </script>
    </head><body><article><p>Ships are moving again.</p>
    <a href="/media/inline.mp4">watch</a></article></body></html>"""
    article = parse_article(page, NEWS_URL)
    assert article.video_urls == (
        "https://news.example.org/media/inline.mp4",
        "https://news.example.org/media/ld-briefing.mp4",  # contentUrl, resolved
        "https://cdn.example.org/stream?id=9",  # typed as video: any path
        "https://cdn.example.org/embed/clip.webm",  # an embedUrl only when it is a file
    )
    assert "Ships are moving again." in article.text and "VideoObject" not in article.text


def test_json_ld_is_read_within_bounds() -> None:
    deep = "[" * 100_000 + "]" * 100_000  # too deep for json: skipped, not raised
    many = json.dumps([{"@type": "VideoObject", "contentUrl": f"/v/{i}.mp4"}
                       for i in range(500)])
    page = (f'<html><head><script type="application/ld+json">{deep}</script>'
            f'<script type="application/ld+json">{many}</script></head><p>text</p></html>')
    article = parse_article(page, NEWS_URL, max_videos=50)
    assert len(article.video_urls) == 50
    assert article.video_urls[0] == "https://news.example.org/v/0.mp4"
