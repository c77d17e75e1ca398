// imgsearch live page: camera frames -> POST /api/v1/search, with the LIVE_STREAM running
// mode's rules: one frame in flight at a time, frames that come meanwhile are dropped (never
// queued), and every result set is tagged with the (monotonic) time of the frame it answers.
// An ES module (format.js: scores written as the other pages write them).
import { cut, percent } from "./format.js";

(() => {
  "use strict";

  const root = document.getElementById("live");
  if (!root) return;

  const $ = (id) => document.getElementById(id);
  const video = $("live-video");
  const toggle = $("live-toggle");
  const message = $("live-message");
  const grid = $("live-grid");
  const tag = $("live-tag");
  const searchUrl = root.dataset.searchUrl;
  const k = root.dataset.k || "8";
  const maxSide = Number(root.dataset.maxSide) || 512;
  const JPEG_QUALITY = 0.85;
  const LATENCIES_KEPT = 50;
  const STOPPING = new Set(["empty_library", "no_library", "reindexing", "unauthorized"]);
  const canvas = document.createElement("canvas");

  const stats = { captured: 0, sent: 0, dropped: 0, answered: 0, inFlight: 0, maxInFlight: 0 };
  const latencies = [];
  let stream = null;
  let running = false;
  let pausedUntil = 0; // after a 503 "busy": frames are dropped until then
  let lastShown = -1;

  function say(state, text) {
    root.dataset.state = state;
    message.textContent = text || "";
    message.hidden = !text;
  }

  function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length ? sorted[Math.floor(sorted.length / 2)] : null;
  }

  function publish() {
    for (const [name, value] of Object.entries(stats)) {
      if (name !== "inFlight") root.dataset[name] = String(value);
    }
    $("live-captured").textContent = stats.captured;
    $("live-sent").textContent = stats.sent;
    $("live-dropped").textContent = stats.dropped;
    const mid = median(latencies);
    if (mid !== null) {
      root.dataset.latencyMs = String(Math.round(mid));
      $("live-latency").textContent = `${Math.round(mid)} ms`;
    }
  }

  function cameraError(error) {
    switch (error && error.name) {
      case "NotAllowedError":
      case "SecurityError":
        return ["refused", "Camera access was refused. Allow the camera for this site (the camera icon in the address bar, or the site settings), then press Start camera."];
      case "NotFoundError":
      case "OverconstrainedError":
        return ["absent", "No camera was found. Connect a camera, then press Start camera."];
      case "NotReadableError":
      case "AbortError":
        return ["busy-camera", "The camera could not be started: another program may be using it."];
      default:
        return ["failed", `The camera could not be started (${(error && error.name) || "unknown error"}).`];
    }
  }

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say("unsupported", "This browser offers no camera to this page. Browsers give cameras only to secure pages: open imgsearch over https, or on this machine at http://127.0.0.1.");
      return;
    }
    say("asking", "Asking for the camera…");
    toggle.disabled = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
      video.srcObject = stream;
      await video.play();
    } catch (error) {
      stop();
      const [state, text] = cameraError(error);
      say(state, text);
      return;
    }
    running = true;
    toggle.disabled = false;
    toggle.textContent = "Stop camera";
    say("live", "");
    nextFrame();
  }

  function stop() {
    running = false;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    toggle.disabled = false;
    toggle.textContent = "Start camera";
  }

  function nextFrame() {
    if (!running) return;
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onFrame);
    else requestAnimationFrame(onFrame);
  }

  // Called once per new camera frame; ``now`` is performance.now()'s clock (monotonic).
  function onFrame(now) {
    if (!running) return;
    stats.captured += 1;
    if (stats.inFlight > 0 || performance.now() < pausedUntil || !video.videoWidth) {
      stats.dropped += 1; // LIVE_STREAM: never queue behind the frame in flight
    } else {
      send(now);
    }
    publish();
    nextFrame();
  }

  async function send(frameMs) {
    stats.inFlight += 1;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    stats.sent += 1;
    const began = performance.now();
    try {
      const scale = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
      canvas.width = Math.max(1, Math.round(video.videoWidth * scale));
      canvas.height = Math.max(1, Math.round(video.videoHeight * scale));
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
      if (!blob) throw new Error("the frame could not be encoded");
      const body = new FormData();
      body.append("image", blob, `frame-${Math.round(frameMs)}.jpg`);
      body.append("k", k);
      const response = await fetch(searchUrl, {
        method: "POST",
        body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const payload = await response.json().catch(() => null);
      if (!response.ok) {
        refused(response, payload);
        return;
      }
      latencies.push(performance.now() - began);
      if (latencies.length > LATENCIES_KEPT) latencies.shift();
      stats.answered += 1;
      show(frameMs, payload);
      if (running && root.dataset.state !== "live") say("live", "");
    } catch (error) {
      if (!running) return;
      say("error", `The search failed: ${error.message || error}. Trying the next frame.`);
      pausedUntil = performance.now() + 1000;
    } finally {
      stats.inFlight -= 1;
      publish();
    }
  }

  function refused(response, payload) {
    const error = (payload && payload.error) || {};
    const text = error.message || `The server answered ${response.status}.`;
    if (STOPPING.has(error.code) || response.status === 401 || response.status === 403) {
      stop();
      say(error.code, text);
      return;
    }
    const retry = Number(response.headers.get("Retry-After")) || 1;
    pausedUntil = performance.now() + retry * 1000;
    say("waiting", `${text} (next frame in ${retry} s)`);
  }

  function show(frameMs, payload) {
    if (frameMs <= lastShown) return; // an older frame's answer never replaces a newer one
    lastShown = frameMs;
    root.dataset.resultMs = String(Math.round(frameMs));
    const results = payload.results || [];
    root.dataset.topId = results.length ? String(results[0].id) : "";
    tag.textContent = `frame at ${(frameMs / 1000).toFixed(3)} s · searched in ${Math.round(payload.took_ms)} ms`;
    tag.dataset.frameMs = String(Math.round(frameMs));
    if (!results.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "No library image is near this frame.";
      grid.replaceChildren(empty);
      return;
    }
    grid.replaceChildren(...results.map(card));
  }

  function span(className, text) {
    const node = document.createElement("span");
    node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // what a look-alike's vectors (or key points) said before the witnesses put it under the
  // decision, as SearchHit.lookalike_note says it
  function lookalikeVectors(hit) {
    if (hit.vector_score == null || hit.vector_z == null) return "";
    const raised = hit.key_points ? ` with ${hit.key_points} matching key points` : "";
    const source = raised ? "copy score" : "vectors' copy score";
    return `its ${source} ${cut(hit.vector_score, 3)}${raised}, z ${cut(hit.vector_z, 1)}, was past the decision, `;
  }

  // the search page's badges: the copy decision, and a look-alike's reason for not being one
  function badge(hit) {
    if (hit.exact) return span("badge badge-exact", "Exact copy");
    if (!hit.duplicate && !hit.lookalike) return null;
    let evidence = hit.copy_score == null ? "" : `copy score ${cut(hit.copy_score, 3)}`;
    // cut, never rounded (5.99 is "5.9", not "6.0"), as every other answer writes it
    if (hit.z != null) evidence += `, z ${cut(hit.z, 1)}`;
    if (hit.duplicate && hit.key_points != null) evidence += ` (confirmed by ${hit.key_points} matching key points)`;
    else if (hit.duplicate && hit.pixel_match != null) evidence += ` (confirmed by its pixels: correlation ${Number(hit.pixel_match).toFixed(3)})`;
    else if (hit.duplicate && hit.copy_of) evidence += ` (a copy of the query's copies ${hit.copy_of.map((i) => "#" + i).join(" and ")}, by key points)`;
    if (hit.part != null) {
      const [left, top, right, bottom] = hit.part.map((x) => Math.round(100 * x));
      evidence += `; found in a part of the query (${left}-${right} % across, ${top}-${bottom} % down)`;
    }
    const mark = hit.duplicate ? span("badge badge-copy", "Copy") : span("badge badge-lookalike", "Look-alike");
    mark.title = hit.duplicate
      ? `A copy (calibrated decision): ${evidence}`
      : `Not a copy: ${evidence}: a look-alike (${lookalikeVectors(hit)}but ${hit.lookalike_reason || "no copy of the better copies above it"})`;
    return mark;
  }

  function card(hit, index) {
    const item = document.createElement("li");
    item.className = hit.duplicate ? "card is-copy" : "card";
    item.dataset.id = String(hit.id);
    const link = document.createElement("a");
    link.className = "card-link";
    link.href = hit.page_url;
    const thumb = span("thumb");
    const img = document.createElement("img");
    const video = hit.media === "video" && hit.timestamp_ms != null;
    // thumbnail_url has its query already (?v=, the indexed content's version)
    const join = hit.thumbnail_url.includes("?") ? "&" : "?";
    img.src = video ? `${hit.thumbnail_url}${join}t=${hit.timestamp_ms}` : hit.thumbnail_url;
    const name = String(hit.path || "").split(/[\\/]/).pop();
    img.alt = ""; // the caption below (.name) names the image and the link: read once
    img.decoding = "async";
    thumb.append(img);
    const mark = badge(hit);
    if (mark) thumb.append(mark);
    const top = span("card-top");
    const score = span("score", percent(hit.score));
    score.title = `Score ${Number(hit.score).toFixed(4)} (orders the results)${hit.copy_score == null ? "" : ` · copy score ${cut(hit.copy_score, 3)}`}`;
    top.append(score, span("rank", `#${hit.rank || index + 1}`));
    const body = span("card-body");
    const at = video ? ` @ ${(hit.timestamp_ms / 1000).toFixed(1)} s` : "";
    const label = span("name", name + at);
    label.title = String(hit.path || "");
    body.append(top, label);
    link.append(thumb, body);
    item.append(link);
    return item;
  }

  toggle.addEventListener("click", () => (running || stream ? (stop(), say("stopped", "Camera stopped.")) : start()));
  if (root.dataset.enabled === "true") start();
})();
