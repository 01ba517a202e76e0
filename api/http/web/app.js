// The search page: results grouped by article, a player that plays a clip and stops at its
// end, a transcript that follows playback, and links that reopen a clip.
//
// Everything that came from an article or a transcript is inserted as text (textContent),
// never as HTML.  The one exception is a result's `highlight`, which the server HTML-escapes
// and marks with <mark>: it is split on <mark> here and its pieces are inserted as text too,
// so not even a mistake on the server could turn it into markup.  Links are used only when
// they are http(s) (or relative); anything else shows as plain text.  Each such string sits in
// its own <bdi>, so a bidirectional control in it (U+202E) reorders that string alone, never
// the date, separator or label beside it.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("search-form");
  const input = $("q");
  const statusLine = $("status");
  const results = $("results");
  const pager = $("pager");
  const pane = $("player-pane");
  const player = $("player");
  const playingClip = $("playing-clip");
  const playingArticle = $("playing-article");
  const playingVideo = $("playing-video");
  const transcriptList = $("transcript");
  const transcriptToggle = $("transcript-toggle");
  const home = $("home");
  const FILTERS = ["type", "source", "published_from", "published_to", "language"];
  const PAGE_SIZE = 10;
  const VIDEO_ID = /^[0-9a-f]{16}$/;

  // What is playing: the video, the clip's end (null once the clip is over or left), and
  // the transcript segments when loaded.
  const state = { videoId: null, clipStart: 0, stopAt: null, segments: [], current: -1, query: "" };

  // -- small DOM helpers ------------------------------------------------------------------

  function el(tag, className, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  // An outside string (or a highlight's nodes) isolated from the text around it.
  function outside(...children) {
    return el("bdi", "", ...children);
  }

  function safeHref(url) {
    if (typeof url !== "string" || url === "") return null;
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  function link(url, text, external) {
    const href = safeHref(url);
    if (href === null) return el("span", "", outside(text));
    const a = el("a", "", outside(text));
    a.href = href;
    if (external) {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    }
    return a;
  }

  const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

  function unescapeHtml(text) {
    return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name) => {
      if (name[0] === "#") {
        const code = name[1] === "x" || name[1] === "X"
          ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return Number.isFinite(code) && code > 0 && code <= 0x10ffff
          ? String.fromCodePoint(code) : whole;
      }
      return Object.prototype.hasOwnProperty.call(ENTITIES, name.toLowerCase())
        ? ENTITIES[name.toLowerCase()] : whole;
    });
  }

  // An escaped highlight as text nodes and <mark> elements (never parsed as HTML).
  function highlightNodes(highlight) {
    const nodes = [];
    const marks = /<mark>([\s\S]*?)<\/mark>/g;
    let pos = 0;
    let match;
    while ((match = marks.exec(highlight)) !== null) {
      if (match.index > pos) nodes.push(document.createTextNode(unescapeHtml(highlight.slice(pos, match.index))));
      nodes.push(el("mark", "", unescapeHtml(match[1])));
      pos = marks.lastIndex;
    }
    if (pos < highlight.length) nodes.push(document.createTextNode(unescapeHtml(highlight.slice(pos))));
    return nodes;
  }

  function formatTime(seconds) {
    const tenths = Math.round(Math.max(0, seconds) * 10);
    const totalMinutes = Math.floor(tenths / 600);
    const secs = ((tenths % 600) / 10).toFixed(1).padStart(4, "0");
    const hours = Math.floor(totalMinutes / 60);
    const minutes = String(totalMinutes % 60).padStart(2, "0");
    return hours ? `${hours}:${minutes}:${secs}` : `${minutes}:${secs}`;
  }

  // `quoted` (the query, or a server message that may quote outside text) is isolated.
  function say(text, isError, quoted) {
    statusLine.replaceChildren(text);
    if (quoted) statusLine.append(outside(quoted));
    statusLine.classList.toggle("error", Boolean(isError));
  }

  // -- the URL: ?q=…&type=…&offset=…#clip=<video_id>,<start>,<end> -------------------------

  function paramsFromForm(offset) {
    const params = new URLSearchParams();
    params.set("q", input.value.trim());
    for (const name of FILTERS) {
      const value = $(name).value.trim();
      if (value) params.set(name, value);
    }
    if (offset) params.set("offset", String(offset));
    return params;
  }

  function formFromParams(params) {
    input.value = params.get("q") || "";
    for (const name of FILTERS) {
      const value = params.get(name) || "";
      const field = $(name);
      // A language the list does not name (from a shared link) gets an option of its own.
      if (field.tagName === "SELECT" && value
          && ![...field.options].some((option) => option.value === value)) {
        field.append(new Option(value, value));
      }
      field.value = value;
    }
    if (FILTERS.some((name) => params.get(name))) document.querySelector(".filters").open = true;
  }

  function clipFromHash() {
    const match = /^#clip=([^,]+),([^,]+),([^,]+)$/.exec(window.location.hash);
    if (!match) return null;
    const [videoId, start, end] = [match[1], Number(match[2]), Number(match[3])];
    if (!VIDEO_ID.test(videoId) || !Number.isFinite(start) || !Number.isFinite(end)) return null;
    return { videoId, start: Math.max(0, start), end: Math.max(start, end) };
  }

  function clipUrl(videoId, start, end) {
    const url = new URL("/", window.location.href);
    if (state.query) url.searchParams.set("q", state.query);
    url.hash = `clip=${videoId},${start.toFixed(2)},${end.toFixed(2)}`;
    return url.href;
  }

  // -- searching --------------------------------------------------------------------------

  async function search(params, push) {
    const query = params.get("q") || "";
    if (!query) return;
    state.query = query;
    // Searching leaves the home: its lists go, so a late answer cannot fill them again.
    home.hidden = true;
    $("latest").replaceChildren();
    $("jobs").replaceChildren();
    if (!params.has("limit")) params.set("limit", String(PAGE_SIZE));
    if (push) {
      const shown = new URLSearchParams(params);
      shown.delete("limit");
      history.pushState(null, "", `/?${shown.toString()}`);
    }
    say("Searching…");
    loadTimeline(params);
    let response;
    let body;
    try {
      response = await fetch(`/search?${params.toString()}`, { headers: { Accept: "application/json" } });
      body = await response.json();
    } catch (_) {
      say("The server could not be reached.", true);
      return;
    }
    if (!response.ok) {
      results.replaceChildren();
      pager.hidden = true;
      if (body && body.detail) say("", true, body.detail);
      else say(`Search failed (${response.status}).`, true);
      return;
    }
    render(body);
  }

  function groupResults(body) {
    const info = new Map(body.articles.map((a) => [a.url, a]));
    const groups = new Map();
    for (const result of body.results) {
      let key;
      let article = null;
      if (result.type === "article") {
        key = result.url;
        article = info.get(result.url) || result;
      } else if (result.articles.length) {
        key = result.articles[0].url;
        article = info.get(key) || result.articles[0];
      } else {
        key = `video:${result.video_id}`;
      }
      if (!groups.has(key)) groups.set(key, { article, hit: null, clips: [], video: result });
      const group = groups.get(key);
      if (result.type === "article") group.hit = result;
      else group.clips.push(result);
    }
    return [...groups.values()];
  }

  function render(body) {
    const groups = groupResults(body);
    const first = body.total ? body.offset + 1 : 0;
    const last = body.offset + body.results.length;
    // A total the index stopped counting at reads "1000+".
    const total = `${body.total}${body.total_exact === false ? "+" : ""}`;
    say(body.total ? `Results ${first}–${last} of ${total} for ` : "Nothing found for ",
        false, body.query);
    if (body.notice) statusLine.append(el("span", "notice", ` (${body.notice})`));
    results.replaceChildren(...groups.map(renderGroup));
    pager.hidden = !(body.offset > 0 || body.next_offset !== null);
    $("prev").disabled = body.offset === 0;
    $("next").disabled = body.next_offset === null;
    $("prev").dataset.offset = String(Math.max(0, body.offset - body.limit));
    $("next").dataset.offset = String(body.next_offset ?? 0);
    $("page-info").textContent = body.total ? `${first}–${last} of ${total}` : "";
    markActiveClip();
  }

  function renderGroup(group) {
    const item = el("li", "group");
    const article = group.article;
    if (article) {
      const title = article.title || article.url;
      item.append(el("h2", "title", link(article.url, title, true)));
      const meta = [article.source, article.published].filter(Boolean);
      if (meta.length) {
        const line = el("p", "meta");
        meta.forEach((value, index) => line.append(index ? " · " : "", outside(value)));
        item.append(line);
      }
      if (group.hit) {
        item.append(el("p", "snippet", outside(...highlightNodes(group.hit.highlight))));
      } else if (article.excerpt) item.append(el("p", "snippet", outside(article.excerpt)));
    } else {
      item.append(el("h2", "title", "Video not linked from a stored article"));
      item.append(el("p", "meta", link(group.video.video_url, group.video.video_url, true)));
    }
    if (group.clips.length) item.append(el("ol", "clips", ...group.clips.map(renderClip)));
    return item;
  }

  function renderClip(clip) {
    const item = el("li", "clip");
    item.dataset.videoId = clip.video_id;
    item.dataset.start = String(clip.start);
    item.dataset.end = String(clip.end);
    const play = el("button", "play",
      el("span", "range", `${formatTime(clip.start)}–${formatTime(clip.end)}`),
      el("span", "said", outside(...highlightNodes(clip.highlight))));
    play.type = "button";
    play.title = "Play this clip";
    const article = clip.articles[0] || null;
    play.addEventListener("click", () => playClip(clip.video_id, clip.start, clip.end, true, article));

    const copy = el("a", "copy-link", "Copy link");
    copy.href = clipUrl(clip.video_id, clip.start, clip.end);
    copy.addEventListener("click", (event) => {
      event.preventDefault();
      copyLink(copy);
    });
    const transcript = el("button", "show-transcript", "Transcript");
    transcript.type = "button";
    transcript.addEventListener("click", () => {
      playClip(clip.video_id, clip.start, clip.end, false, article);
      openTranscript();
    });
    const download = el("a", "download-clip", "Download clip");
    download.href = `/videos/${clip.video_id}/clip?start=${clip.start.toFixed(2)}&end=${clip.end.toFixed(2)}`;
    download.setAttribute("download", "");
    const cite = el("button", "cite", "Cite");
    cite.type = "button";
    cite.title = "Copy a one-line citation of this clip";
    cite.addEventListener("click", () => copyCitation(cite, clip));
    const actions = el("div", "clip-actions", copy, transcript, download, cite);
    if (clip.articles.length > 1) {
      const others = clip.articles.slice(1).map((a) => link(a.url, a.title || a.url, true));
      const also = el("span", "also", "Also linked from ");
      others.forEach((node, index) => also.append(index ? ", " : "", node));
      actions.append(also);
    }
    if (clip.match === "phonetic" && clip.sounds_like !== null && clip.sounds_like !== undefined) {
      // What was actually heard, as text, and how alike it sounds to the query.
      const alike = el("p", "sounds-like", `Sounds like (${Math.round(clip.sounds_like * 100)} %): heard `);
      alike.append(outside(`“${clip.heard}”`));
      item.append(play, alike, actions);
    } else {
      item.append(play, actions);
    }
    return item;
  }

  async function copyLink(anchor) {
    const url = anchor.href;
    try {
      await navigator.clipboard.writeText(url);
      flash(anchor, "Link copied");
    } catch (_) {
      // No clipboard (e.g. plain http on another host): offer the link to copy by hand.
      window.prompt("Copy this link:", url);
    }
  }

  // One line naming what was said, who published it, and the video, its time and its hash,
  // so a reader can find and check the quote without this server.
  async function citation(clip) {
    let video = null;
    try {
      const response = await fetch(`/videos/${clip.video_id}`, { headers: { Accept: "application/json" } });
      if (response.ok) video = await response.json();
    } catch (_) {
      video = null;
    }
    const article = (video && video.articles[0]) || clip.articles[0] || null;
    const parts = [`“${clip.text.trim()}”`];
    if (article) {
      parts.push(`— ${[article.title, article.source, article.published].filter(Boolean).join(", ")}`);
    }
    const origin = (video && video.urls[0]) || clip.video_url;
    let where = `video ${origin} at ${formatTime(clip.start)}–${formatTime(clip.end)}`;
    if (video) where += ` (SHA-256 ${video.sha256})`;
    parts.push(`; ${where}.`);
    // One line: the outside text's own line breaks and controls become spaces.
    return parts.join(" ").replace(/ ;/, ";").replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ");
  }

  async function copyCitation(button, clip) {
    const line = await citation(clip);
    try {
      await navigator.clipboard.writeText(line);
      flash(button, "Citation copied");
    } catch (_) {
      window.prompt("Copy this citation:", line);
    }
  }

  function flash(anchor, text) {
    const label = anchor.textContent;
    anchor.textContent = text;
    setTimeout(() => { anchor.textContent = label; }, 1500);
  }

  // -- playing ----------------------------------------------------------------------------

  function loadVideo(videoId, article) {
    if (state.videoId === videoId) {
      if (article) showArticle(article);
      return;
    }
    state.videoId = videoId;
    state.segments = [];
    state.current = -1;
    player.src = `/videos/${videoId}/media`;
    playingArticle.replaceChildren();
    playingVideo.replaceChildren();
    if (article) showArticle(article);
    describeVideo(videoId, article);
    for (const fmt of ["srt", "vtt", "txt"]) $(`dl-${fmt}`).href = `/videos/${videoId}/transcript?format=${fmt}`;
    transcriptList.replaceChildren();
    if (!transcriptList.hidden) loadTranscript();
  }

  // Which article the clip came from, and which video this is (where it was found).
  function showArticle(article) {
    playingArticle.replaceChildren("From ", link(article.url, article.title || article.url, true));
  }

  async function describeVideo(videoId, article) {
    let body;
    try {
      const response = await fetch(`/videos/${videoId}`, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      body = await response.json();
    } catch (_) {
      return;
    }
    if (state.videoId !== videoId) return; // another video was opened meanwhile
    const origin = body.urls[0] || "";
    playingVideo.replaceChildren("Video ", link(origin, videoName(origin), true));
    if (!article && body.articles.length) showArticle(body.articles[0]);
    if (body.articles.length > 1) {
      playingVideo.append(` · linked from ${body.articles.length} articles`);
    }
  }

  // The last part of the video's path ("briefing-a.mp4"), or the whole URL.
  function videoName(url) {
    try {
      const name = new URL(url).pathname.split("/").filter(Boolean).pop();
      return name ? decodeURIComponent(name) : url;
    } catch (_) {
      return url;
    }
  }

  function whenReady(action) {
    if (player.readyState >= 1) action();
    else player.addEventListener("loadedmetadata", action, { once: true });
  }

  function seek(seconds, andPlay) {
    whenReady(() => {
      player.currentTime = seconds;
      if (andPlay) {
        const started = player.play();
        // A browser may refuse to start without a click (e.g. a link opened in a new tab);
        // the clip is cued and the play button starts it.
        if (started) started.catch(() => say("Press play to start the clip."));
      }
    });
  }

  function playClip(videoId, start, end, andPlay, article) {
    if (!VIDEO_ID.test(videoId)) return;
    pane.hidden = false;
    loadVideo(videoId, article || null);
    state.clipStart = start;
    state.stopAt = end;
    playingClip.textContent = `Clip ${formatTime(start)}–${formatTime(end)}`;
    // The address bar follows the clip, so it can be bookmarked or shared as it is.
    history.replaceState(null, "", `${window.location.pathname}${window.location.search}`
      + `#clip=${videoId},${start.toFixed(2)},${end.toFixed(2)}`);
    markActiveClip();
    seek(start, andPlay);
  }

  function markActiveClip() {
    const hash = clipFromHash();
    for (const item of results.querySelectorAll(".clip")) {
      const active = hash !== null && item.dataset.videoId === hash.videoId
        && Math.abs(Number(item.dataset.start) - hash.start) < 0.01;
      item.classList.toggle("active", active);
    }
  }

  // Stop at the clip's end: checked every frame while playing (timeupdate alone fires only
  // about four times a second).
  function watchEnd() {
    if (state.stopAt === null || player.paused) return;
    if (player.currentTime >= state.stopAt) {
      player.pause();
      state.stopAt = null;
      return;
    }
    requestAnimationFrame(watchEnd);
  }

  player.addEventListener("play", () => requestAnimationFrame(watchEnd));
  player.addEventListener("timeupdate", () => {
    if (state.stopAt !== null && player.currentTime >= state.stopAt) {
      player.pause();
      state.stopAt = null;
    }
    followTranscript();
  });
  player.addEventListener("seeked", () => {
    // Leaving the clip by hand ends the clip: playback then goes on freely.
    if (state.stopAt !== null
        && (player.currentTime < state.clipStart - 0.25 || player.currentTime > state.stopAt)) {
      state.stopAt = null;
    }
    followTranscript();
  });
  player.addEventListener("error", () => {
    if (player.getAttribute("src")) say("This video cannot be played.", true);
  });

  // -- the transcript ---------------------------------------------------------------------

  // Beside the results (a sticky pane) the transcript ends at the window's bottom edge, so the
  // playing line is never below the fold; the stylesheet's 50vh cap would let it run past
  // the window under the header.  Stacked on a phone the stylesheet alone decides.
  function fitTranscript() {
    if (transcriptList.hidden || getComputedStyle(pane).position !== "sticky") {
      transcriptList.style.maxHeight = "";
      return;
    }
    const top = Math.max(0, transcriptList.getBoundingClientRect().top);
    transcriptList.style.maxHeight = `${Math.max(96, window.innerHeight - top - 16)}px`;
  }

  window.addEventListener("resize", fitTranscript);
  window.addEventListener("scroll", fitTranscript, { passive: true });

  function openTranscript() {
    transcriptList.hidden = false;
    transcriptToggle.setAttribute("aria-expanded", "true");
    fitTranscript();
    if (!state.segments.length) loadTranscript();
  }

  transcriptToggle.addEventListener("click", () => {
    if (transcriptList.hidden) openTranscript();
    else {
      transcriptList.hidden = true;
      transcriptToggle.setAttribute("aria-expanded", "false");
    }
  });

  async function loadTranscript() {
    const videoId = state.videoId;
    if (!videoId) return;
    transcriptList.replaceChildren(el("li", "loading", "Loading the transcript…"));
    let body;
    try {
      const response = await fetch(`/videos/${videoId}/transcript?format=json`);
      body = await response.json();
      if (!response.ok) throw new Error(body.detail || "no transcript");
    } catch (error) {
      if (state.videoId === videoId) {
        transcriptList.replaceChildren(el("li", "loading", outside(String(error.message || error))));
      }
      return;
    }
    if (state.videoId !== videoId) return; // another video was opened meanwhile
    state.segments = body.segments;
    state.current = -1;
    const terms = queryTerms(state.query);
    transcriptList.replaceChildren(...body.segments.map((segment, index) => {
      const line = el("button", "line", el("span", "at", formatTime(segment.start)),
                      el("span", "words", outside(...markTerms(segment.text.trim(), terms))));
      line.type = "button";
      line.addEventListener("click", () => {
        state.stopAt = null;
        seek(segment.start, true);
      });
      const item = el("li", "segment", line);
      item.dataset.index = String(index);
      return item;
    }));
    followTranscript();
  }

  // The words of the query, lower-cased, without quotes and operators.
  function queryTerms(query) {
    const words = (query.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu) || []);
    return new Set(words.filter((w) => !["and", "or", "not"].includes(w)).map(wordKey));
  }

  // A word as the search matches it, roughly: case, possessive and plural "s" aside.
  function wordKey(word) {
    const w = word.toLowerCase().replace(/['’]s$/, "");
    return w.length > 3 && w.endsWith("s") && !w.endsWith("ss") ? w.slice(0, -1) : w;
  }

  // A transcript line as text nodes, with the query's words in <mark> (never parsed as HTML).
  function markTerms(text, terms) {
    if (!terms.size) return [text];
    const nodes = [];
    const word = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu;
    let pos = 0;
    let match;
    while ((match = word.exec(text)) !== null) {
      if (!terms.has(wordKey(match[0]))) continue;
      if (match.index > pos) nodes.push(text.slice(pos, match.index));
      nodes.push(el("mark", "", match[0]));
      pos = word.lastIndex;
    }
    if (pos < text.length) nodes.push(text.slice(pos));
    return nodes;
  }

  function followTranscript() {
    if (!state.segments.length) return;
    const t = player.currentTime;
    let index = -1;
    for (let i = 0; i < state.segments.length; i += 1) {
      if (state.segments[i].start <= t + 0.05) index = i;
      else break;
    }
    if (index === state.current) return;
    const items = transcriptList.children;
    if (state.current >= 0 && items[state.current]) {
      items[state.current].classList.remove("current");
      items[state.current].removeAttribute("aria-current");
    }
    state.current = index;
    const item = items[index];
    if (!item) return;
    item.classList.add("current");
    item.setAttribute("aria-current", "true");
    fitTranscript();
    keepInView(item);
  }

  // Scroll the list (not the page) so the playing line shows, a third of the way down.
  // Positions come from the layout boxes: offsetTop is relative to the nearest positioned
  // ancestor, which is not the list, and put the line below the visible part.
  function keepInView(item) {
    const list = transcriptList.getBoundingClientRect();
    const box = item.getBoundingClientRect();
    if (box.top >= list.top && box.bottom <= list.bottom) return;
    const top = box.top - list.top + transcriptList.scrollTop;
    transcriptList.scrollTop = Math.max(0, top - transcriptList.clientHeight / 3);
  }

  // -- the home page: latest briefings, running jobs, adding an article ---------------------

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${response.status}`);
    return response.json();
  }

  async function showHome() {
    home.hidden = false;
    let videos;
    try {
      videos = await getJson("/videos?limit=10");
    } catch (_) {
      if (!home.hidden) $("latest").replaceChildren(el("li", "empty", "The briefings could not be loaded."));
      return;
    }
    if (home.hidden) return; // a search started meanwhile
    $("latest").replaceChildren(...(videos.items.length ? videos.items.map(renderLatest)
      : [el("li", "empty", "Nothing stored yet: add an article below.")]));
    loadJobs();
  }

  function renderLatest(video) {
    const item = el("li", "briefing");
    item.dataset.videoId = video.video_id;
    const title = el("button", "play-video", outside(video.title));
    title.type = "button";
    title.addEventListener("click", () => {
      playClip(video.video_id, 0, video.duration || 0, true, video.articles[0] || null);
      state.stopAt = null; // the whole video
    });
    const meta = el("p", "meta");
    const values = [video.source, video.published].filter(Boolean).map((v) => outside(v));
    if (video.duration !== null) values.push(formatTime(video.duration));
    values.push(el("span", `state state-${video.state}`, video.state));
    values.forEach((value, index) => meta.append(index ? " · " : "", value));
    item.append(el("h3", "title", title), meta);
    return item;
  }

  async function loadJobs() {
    let jobs;
    try {
      jobs = await getJson("/jobs?active=true&limit=10");
    } catch (_) {
      return;
    }
    if (home.hidden) return;
    $("jobs").replaceChildren(...(jobs.length ? jobs.map((job) => {
      const done = job.videos.filter((v) => v.state === "done").length;
      const line = el("li", "job", outside(job.title || job.source), ` — ${job.state}`);
      if (job.videos.length) line.append(`, ${done} of ${job.videos.length} videos done`);
      return line;
    }) : [el("li", "empty", "No jobs running.")]));
  }

  $("add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = $("add-status");
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    const token = $("add-token").value.trim();
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    let body;
    try {
      response = await fetch("/articles", {
        method: "POST", headers, body: JSON.stringify({ url: $("add-url").value.trim() }),
      });
      body = await response.json();
    } catch (_) {
      status.replaceChildren("The server could not be reached.");
      status.classList.add("error");
      return;
    }
    status.classList.toggle("error", !response.ok);
    if (response.ok) {
      status.replaceChildren(`Added: job ${body.job_id} is ${body.state}.`);
      $("add-url").value = "";
      loadJobs();
    } else if (response.status === 401) {
      status.replaceChildren("This server needs its API token to add articles.");
    } else {
      status.replaceChildren("Not added: ", outside(String(body.detail || response.status)));
    }
  });

  // -- the timeline: mentions over time, drawn as SVG above the results ---------------------

  const SVG_NS = "http://www.w3.org/2000/svg";
  const timelineBox = $("timeline");
  const timelineChart = $("timeline-chart");
  const timelineCaption = $("timeline-caption");
  const MAX_BARS = 62;
  const CHART = { width: 640, height: 140, axis: 18, top: 6 };
  let timelineRequest = 0;

  function svg(tag, attributes, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
    for (const child of children) node.append(child);
    return node;
  }

  function plural(count, word) {
    return `${count} ${word}${count === 1 ? "" : "s"}`;
  }

  // Days first; weeks or months when days would make too many bars.
  async function loadTimeline(params) {
    const request = ++timelineRequest;
    let body = null;
    for (const interval of ["day", "week", "month"]) {
      const asked = new URLSearchParams({ q: params.get("q") || "", interval });
      if (params.get("source")) asked.set("source", params.get("source"));
      try {
        const response = await fetch(`/timeline?${asked.toString()}`, { headers: { Accept: "application/json" } });
        body = response.ok ? await response.json() : null;
      } catch (_) {
        body = null;
      }
      if (!body || body.buckets.length <= MAX_BARS) break;
    }
    if (request !== timelineRequest) return; // a newer search has begun
    if (!body || !body.buckets.length) {
      timelineBox.hidden = true;
      timelineChart.replaceChildren();
      return;
    }
    drawTimeline(body);
  }

  function bucketLabel(bucket) {
    return bucket.start === bucket.end ? bucket.start : `${bucket.start} to ${bucket.end}`;
  }

  function drawTimeline(body) {
    const { width, height, axis, top } = CHART;
    const buckets = body.buckets;
    const tallest = Math.max(1, ...buckets.map((b) => b.clips + b.articles));
    // A few bars stay bar-shaped (left-aligned) rather than stretching over the whole width.
    const slot = width / Math.max(buckets.length, 10);
    const gap = Math.min(4, slot * 0.2);
    const room = height - axis - top;
    const from = $("published_from").value;
    const to = $("published_to").value;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "group",
                               preserveAspectRatio: "xMinYMid meet",
                               "aria-label": `Mentions per ${body.interval}` });
    buckets.forEach((bucket, index) => {
      const x = index * slot + gap / 2;
      const w = Math.max(1, slot - gap);
      const said = (bucket.clips / tallest) * room;
      const written = (bucket.articles / tallest) * room;
      const base = height - axis;
      const summary = `${bucketLabel(bucket)}: ${plural(bucket.clips, "clip")} said it, `
        + `${plural(bucket.articles, "article")} wrote it`;
      const bar = svg("g", { class: "bar", tabindex: 0, role: "button", "aria-label": summary,
                             "data-start": bucket.start, "data-end": bucket.end },
        svg("title", {}, summary),
        svg("rect", { class: "hitbox", x, y: top, width: w, height: room }),
        svg("rect", { class: "said", x, y: base - said, width: w, height: said }),
        svg("rect", { class: "written", x, y: base - said - written, width: w, height: written }));
      if (from === bucket.start && to === bucket.end) bar.classList.add("selected");
      const choose = () => filterToInterval(bucket, bar.classList.contains("selected"));
      bar.addEventListener("click", choose);
      bar.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          choose();
        }
      });
      chart.append(bar);
    });
    chart.append(svg("line", { class: "baseline", x1: 0, x2: width, y1: height - axis, y2: height - axis }));
    // A date under each of a few bars; under the first and the last of many.
    const labelled = buckets.length <= 10 ? buckets.map((_, i) => i) : [0, buckets.length - 1];
    for (const index of labelled) {
      const anchor = buckets.length <= 10 ? "middle" : (index ? "end" : "start");
      const x = buckets.length <= 10 ? (index + 0.5) * slot : (index ? (index + 1) * slot : 0);
      chart.append(svg("text", { class: "axis", x, y: height - 4, "text-anchor": anchor },
                       buckets[index].start.slice(buckets.length <= 10 ? 5 : 0)));
    }
    timelineChart.replaceChildren(chart);
    timelineCaption.replaceChildren(
      el("span", "key said"), ` ${plural(body.clips, "clip")} said it,`, " ",
      el("span", "key written"), ` ${plural(body.articles, "article")} wrote it, per `
      + `${body.interval}. Click a bar for that ${body.interval}'s results.`);
    timelineBox.hidden = false;
  }

  // A bar narrows the results to its interval; the chosen bar again lifts the narrowing.
  function filterToInterval(bucket, selected) {
    $("published_from").value = selected ? "" : bucket.start;
    $("published_to").value = selected ? "" : bucket.end;
    search(paramsFromForm(0), true);
  }

  // -- watches: saved searches and their unseen hits ------------------------------------------

  // What this reader has seen is kept in this browser (reads need no token, so the page
  // keeps no state on the server): a watermark per watch, and hits opened above it.
  const watchesBox = $("watches");
  const watchList = $("watch-list");
  const unseenBadge = $("watches-unseen");

  function readSeen(watchId) {
    try {
      const stored = JSON.parse(localStorage.getItem(`briefing.seen.${watchId}`) || "{}");
      return { upTo: Number(stored.upTo) || 0, opened: Array.isArray(stored.opened) ? stored.opened : [] };
    } catch (_) {
      return { upTo: 0, opened: [] };
    }
  }

  function writeSeen(watchId, seen) {
    try {
      localStorage.setItem(`briefing.seen.${watchId}`,
                           JSON.stringify({ upTo: seen.upTo, opened: seen.opened.slice(-500) }));
    } catch (_) {
      // No storage (a private window): hits simply stay unseen.
    }
  }

  async function loadWatches() {
    let watches;
    try {
      const response = await fetch("/watches", { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      watches = await response.json();
    } catch (_) {
      return;
    }
    if (!watches.length) {
      watchesBox.hidden = true;
      return;
    }
    const rendered = await Promise.all(watches.map(async (watch) => {
      const seen = readSeen(watch.id);
      let hits = [];
      if (watch.last_hit > seen.upTo) {
        try {
          const response = await fetch(`/watches/${encodeURIComponent(watch.id)}/hits?after=${seen.upTo}`);
          if (response.ok) hits = await response.json();
        } catch (_) {
          hits = [];
        }
      }
      const unseen = hits.filter((hit) => !seen.opened.includes(hit.id));
      return { node: renderWatch(watch, unseen), unseen: unseen.length };
    }));
    watchList.replaceChildren(...rendered.map((r) => r.node));
    const total = rendered.reduce((sum, r) => sum + r.unseen, 0);
    unseenBadge.textContent = total ? String(total) : "";
    unseenBadge.title = total ? `${plural(total, "unseen hit")}` : "";
    watchesBox.hidden = false;
  }

  function renderWatch(watch, unseen) {
    const item = el("li", "watch");
    item.dataset.watchId = watch.id;
    const feed = el("a", "feed", "Atom feed");
    feed.href = `/watches/${encodeURIComponent(watch.id)}/feed.atom`;
    item.append(el("span", "watch-name", outside(watch.name)),
                el("span", "watch-query", outside(watch.query)), " ",
                el("span", "new", unseen.length ? `${unseen.length} new` : "no new hits"), " ", feed);
    if (unseen.length) {
      const list = el("ol", "watch-hits");
      for (const hit of unseen) {
        const where = hit.type === "clip" ? `${formatTime(hit.start)}–${formatTime(hit.end)}` : "article";
        // The highlight is escaped HTML with <mark>s; the title is plain outside text.
        const said = hit.highlight ? highlightNodes(hit.highlight) : [hit.title];
        const open = el("button", "open-hit", el("span", "range", where), outside(...said));
        open.type = "button";
        open.title = hit.title || "";
        open.addEventListener("click", () => openHit(watch, hit));
        list.append(el("li", "", open));
      }
      const all = el("button", "mark-seen", "Mark all seen");
      all.type = "button";
      all.addEventListener("click", () => {
        writeSeen(watch.id, { upTo: watch.last_hit, opened: [] });
        loadWatches();
      });
      item.append(list, all);
    }
    return item;
  }

  // Open a hit where it was said (the clip, under a search for the watch's query).
  function openHit(watch, hit) {
    const seen = readSeen(watch.id);
    if (!seen.opened.includes(hit.id)) seen.opened.push(hit.id);
    writeSeen(watch.id, seen);
    input.value = watch.query;
    for (const name of FILTERS) $(name).value = "";
    search(paramsFromForm(0), true);
    if (hit.type === "clip") {
      const article = hit.articles[0] || null;
      playClip(hit.video_id, hit.start, hit.end, true, article);
    }
    loadWatches();
  }

  // -- wiring -----------------------------------------------------------------------------

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!input.value.trim()) return;
    search(paramsFromForm(0), true);
  });
  $("prev").addEventListener("click", (event) => search(paramsFromForm(Number(event.target.dataset.offset)), true));
  $("next").addEventListener("click", (event) => search(paramsFromForm(Number(event.target.dataset.offset)), true));

  function fromLocation() {
    const params = new URLSearchParams(window.location.search);
    formFromParams(params);
    const offset = Number(params.get("offset") || 0);
    if (params.get("q")) search(paramsFromForm(Number.isFinite(offset) ? offset : 0), false);
    else showHome();
    const clip = clipFromHash();
    if (clip) playClip(clip.videoId, clip.start, clip.end, true);
  }

  window.addEventListener("popstate", fromLocation);
  fromLocation();
  loadWatches();
})();
