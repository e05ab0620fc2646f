// pianogan's page: sliders -> /api/piece -> a roll on a canvas and a synthesiser in the page.
// One request is in flight at a time; a slider moved meanwhile sends its latest values
// when the answer arrives, so the roll follows the hand without a queue of stale pieces.
"use strict";

const COLUMN_PX = 3, ROW_PX = 3, LOW = 21, HIGH = 108; // the piano's 88 keys, high notes on top
const BLACK = new Set([1, 3, 6, 8, 10]);
const $ = (id) => document.getElementById(id);

const state = {
  info: null, seed: 0, latent: [], key: "", bpm: 120, length: 300, threshold: 0.5, velocity: 90,
  towards: null, t: 0, piece: null, kept: [], nearest: null,
};
// What tests and the latency benchmark read: every input time and what followed it.
const probe = window.pianogan = { timings: [], soundStarts: [], draws: 0, level: () => 0 };

// --- the server -----------------------------------------------------------------------

function query(extra = {}) {
  const q = new URLSearchParams({
    seed: state.seed, latent: state.latent.map((v) => v.toFixed(6)).join(","), length: state.length,
    threshold: state.threshold, bpm: state.bpm, velocity: state.velocity, ...extra,
  });
  if (state.key) q.set("key", state.key);
  if (state.towards) { q.set("towards", state.towards.join(",")); q.set("t", state.t); }
  return q.toString();
}

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `${response.status}`);
  return body;
}

let inFlight = false, pending = false, inputAt = 0, busy = 0;

function work(delta) { // requests under way, on the page for tests: 0 once the roll shows the latest input
  busy += delta;
  document.body.dataset.busy = busy;
}

function changed() { // an input moved: ask for the piece, at most one request at a time
  inputAt = performance.now();
  if (inFlight) { pending = true; return; }
  requestPiece();
}

async function requestPiece() {
  inFlight = true; pending = false;
  work(1);
  const asked = inputAt;
  try {
    const piece = await getJSON(`/api/piece?${query()}`);
    showPiece(piece, asked);
    $("status").textContent = "";
  } catch (error) {
    $("status").textContent = error.message;
  } finally {
    inFlight = false;
    if (pending) requestPiece();
    work(-1);
  }
}

function showPiece(piece, asked) {
  state.piece = piece;
  drawRoll($("roll"), piece, COLUMN_PX);
  const drawn = performance.now();
  probe.draws += 1;
  $("roll").dataset.version = probe.draws;
  $("roll").dataset.notes = piece.notes.length;
  probe.timings.push({ input: asked, drawn, ms: piece.ms });
  $("facts").textContent = `${piece.seconds.toFixed(1)} s at ${piece.bpm} BPM · ${piece.notes.length} notes · ${piece.key}` +
    (piece.transposition ? ` (moved ${piece.transposition > 0 ? "+" : ""}${piece.transposition})` : "") + ` · written in ${piece.ms} ms`;
  const q = query();
  $("dl-midi").href = `/api/piece.mid?${q}`;
  $("dl-wav").href = `/api/piece.wav?${q}`;
  $("dl-png").href = `/api/piece.png?${q}`;
  if (document.body.dataset.sound === "playing") play(true);
  clearTimeout(nearestTimer);
  nearestTimer = setTimeout(showNearest, 400, q);
}

let nearestTimer = 0;

async function showNearest(q) { // the nearest training window, once the sliders rest
  try {
    const { nearest } = await getJSON(`/api/nearest?${q}`);
    if (!nearest || q !== query()) return;
    $("nearest").textContent = `Nearest training window: ${nearest.source} #${nearest.window}, IoU ${nearest.iou.toFixed(2)}` +
      (nearest.shift ? ` (moved ${nearest.shift} semitones)` : "") + (nearest.near_copy ? ": a near copy" : "");
  } catch (error) {
    $("nearest").textContent = "";
  }
}

// --- drawing ----------------------------------------------------------------------------

function drawRoll(canvas, piece, columnPx) {
  const width = piece.columns * columnPx, rows = HIGH - LOW + 1, rowPx = columnPx === COLUMN_PX ? ROW_PX : 1;
  canvas.width = width; canvas.height = rows * rowPx;
  const g = canvas.getContext("2d");
  for (let pitch = LOW; pitch <= HIGH; pitch++) {
    g.fillStyle = BLACK.has(pitch % 12) ? "#eceff4" : "#fafbfd";
    g.fillRect(0, (HIGH - pitch) * rowPx, width, rowPx);
    if (pitch % 12 === 0) { g.fillStyle = "#c4ccda"; g.fillRect(0, (HIGH - pitch + 1) * rowPx - 1, width, 1); }
  }
  g.fillStyle = "#dee3ec";
  for (let column = 0; column < piece.columns; column += 16) g.fillRect(column * columnPx, 0, 1, rows * rowPx);
  g.fillStyle = "#1f5fa8";
  for (const [pitch, first, length] of piece.notes) {
    if (pitch < LOW || pitch > HIGH) continue;
    g.fillRect(first * columnPx, (HIGH - pitch) * rowPx, Math.max(1, length * columnPx - (columnPx > 1 ? 1 : 0)), rowPx);
  }
}

// --- sound --------------------------------------------------------------------------------

let context = null, master = null, analyser = null, voice = null, serverAudio = null, playheadFrame = 0;

function audioContext() {
  if (!context) {
    context = new AudioContext();
    analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    const limiter = context.createDynamicsCompressor();
    master = context.createGain();
    master.gain.value = 0.5;
    master.connect(limiter).connect(analyser).connect(context.destination);
    const samples = new Float32Array(analyser.fftSize);
    probe.level = () => { analyser.getFloatTimeDomainData(samples); return Math.sqrt(samples.reduce((s, v) => s + v * v, 0) / samples.length); };
  }
  if (context.state === "suspended") context.resume();
  return context;
}

function position() { // seconds into the piece now playing, for a restart in the same place
  if (voice) return (context.currentTime - voice.startedAt) % voice.duration;
  if (serverAudio && !serverAudio.paused) return serverAudio.currentTime;
  return 0;
}

function play(resume = false) {
  const offset = resume ? Math.max(0, position()) : 0;
  stopSound();
  if (!state.piece) return;
  document.body.dataset.sound = "playing";
  $("play").textContent = "Stop";
  if ($("sound").value === "server") playServer(offset); else playSynth(state.piece, offset);
  animatePlayhead();
}

function playSynth(piece, offset) {
  const ctx = audioContext();
  const start = ctx.currentTime + 0.02, spc = 15 / piece.bpm, loud = state.velocity / 127;
  const bus = ctx.createGain();
  bus.gain.value = 0.16;
  bus.connect(master);
  for (const [pitch, first, length] of piece.notes) {
    let at = first * spc - offset, duration = length * spc;
    if (at + duration <= 0) continue;
    if (at < 0) { duration += at; at = 0; }
    const when = start + at, frequency = 440 * 2 ** ((pitch - 69) / 12), peak = loud * (pitch < 48 ? 1 : 0.75);
    const envelope = ctx.createGain();
    envelope.gain.setValueAtTime(0, when);
    envelope.gain.linearRampToValueAtTime(peak, when + 0.006);
    envelope.gain.exponentialRampToValueAtTime(peak * 0.3, when + Math.max(0.02, duration));
    envelope.gain.exponentialRampToValueAtTime(0.0001, when + duration + 0.15);
    envelope.connect(bus);
    for (const [type, ratio, level] of [["triangle", 1, 1], ["sine", 2, 0.3]]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = type; osc.frequency.value = frequency * ratio; gain.gain.value = level;
      osc.connect(gain).connect(envelope);
      osc.start(when); osc.stop(when + duration + 0.2);
    }
  }
  voice = { bus, startedAt: start - offset, duration: piece.columns * spc };
  const latency = (ctx.outputLatency || ctx.baseLatency || 0) * 1000;
  probe.soundStarts.push({ kind: "synth", at: performance.now() + (start - ctx.currentTime) * 1000 + latency, input: inputAt });
}

function playServer(offset) {
  const asked = inputAt;
  serverAudio = new Audio(`/api/piece.wav?${query({ play: 1 })}`);
  serverAudio.addEventListener("playing", () => probe.soundStarts.push({ kind: "server", at: performance.now(), input: asked }), { once: true });
  serverAudio.addEventListener("loadedmetadata", () => { serverAudio.currentTime = Math.min(offset, serverAudio.duration || 0); }, { once: true });
  serverAudio.addEventListener("ended", stopSound);
  serverAudio.play().catch((error) => { $("status").textContent = `cannot play: ${error.message}`; });
}

function stopSound() {
  if (voice) { voice.bus.disconnect(); voice = null; }
  if (serverAudio) { serverAudio.pause(); serverAudio = null; }
  document.body.dataset.sound = "stopped";
  $("play").textContent = "Play";
  cancelAnimationFrame(playheadFrame);
  $("playhead").hidden = true;
}

function animatePlayhead() {
  const head = $("playhead");
  head.hidden = false;
  const step = () => {
    if (!state.piece || document.body.dataset.sound !== "playing") return;
    const seconds = position(), spc = 15 / state.piece.bpm;
    if (voice && context.currentTime - voice.startedAt > voice.duration + 0.3) { stopSound(); return; }
    head.style.transform = `translateX(${(seconds / spc) * COLUMN_PX}px)`;
    playheadFrame = requestAnimationFrame(step);
  };
  step();
}

// --- kept pieces and morphing ---------------------------------------------------------------

function keep() {
  if (!state.piece) return;
  const item = { name: `${state.kept.length + 1}: seed ${state.seed}${state.piece.origin.inverted ? " (nearest)" : ""}`, latent: state.piece.latent.slice(), seed: state.seed };
  state.kept.push(item);
  const li = document.createElement("li");
  const thumbnail = document.createElement("canvas");
  drawRoll(thumbnail, state.piece, 1);
  li.append(thumbnail, item.name);
  li.title = "load this piece";
  li.addEventListener("click", () => loadLatent(item.latent, item.seed));
  $("list").append(li);
  for (const select of [$("morph-a"), $("morph-b")]) select.append(new Option(item.name, state.kept.length - 1));
  $("morph-b").value = state.kept.length - 1;
}

function morph() {
  const a = state.kept[$("morph-a").value], b = state.kept[$("morph-b").value];
  if (!a || !b) { $("status").textContent = "keep two pieces first, then morph between them"; return; }
  state.t = Number($("morph-t").value);
  $("morph-t").nextElementSibling.textContent = state.t.toFixed(2);
  setLatent(a.latent); state.seed = a.seed; state.towards = b.latent;
  changed();
}

// --- vary my music --------------------------------------------------------------------------

async function upload(file) {
  $("status").textContent = `searching for the piece nearest to ${file.name}…`;
  try {
    const found = await getJSON(`/api/invert?name=${encodeURIComponent(file.name)}&threshold=${state.threshold}`, { method: "POST", body: file });
    state.nearest = found.piece;
    document.querySelector(".compare").hidden = false;
    drawRoll($("upload-roll"), found.target, COLUMN_PX);
    drawRoll($("nearest-roll"), found.piece, COLUMN_PX);
    $("upload-caption").textContent = `${found.name}: its first window (${found.target.notes.length} notes)`;
    $("nearest-caption").textContent = `nearest piece: IoU ${found.iou.toFixed(3)} (${found.evaluations} latents tried in ${(found.ms / 1000).toFixed(1)} s)`;
    $("vary").dataset.iou = found.iou;
    $("vary").dataset.latent = found.piece.latent.join(",");
    $("status").textContent = "";
  } catch (error) {
    $("status").textContent = error.message;
  }
}

async function variations() {
  if (!state.nearest) return;
  try {
    const q = new URLSearchParams({ latent: state.nearest.latent.join(","), n: 4, threshold: state.threshold, bpm: state.bpm });
    const { pieces } = await getJSON(`/api/variations?${q}`);
    $("variations").replaceChildren(...pieces.map((piece) => {
      const thumbnail = document.createElement("canvas");
      drawRoll(thumbnail, piece, 1);
      thumbnail.title = "edit this variation";
      thumbnail.addEventListener("click", () => loadLatent(piece.latent, 0));
      return thumbnail;
    }));
  } catch (error) {
    $("status").textContent = error.message;
  }
}

// --- controls ---------------------------------------------------------------------------------

function setLatent(latent) {
  state.latent = latent.slice();
  state.towards = null;
  document.querySelectorAll("#sliders input").forEach((input, i) => {
    input.value = latent[i];
    input.nextElementSibling.textContent = Number(latent[i]).toFixed(2);
  });
}

function loadLatent(latent, seed) {
  state.seed = seed;
  $("seed").value = seed;
  setLatent(latent);
  changed();
}

async function loadSeed(seed) {
  work(1);
  try {
    const { latent } = await getJSON(`/api/latent?seed=${seed}`);
    loadLatent(latent, seed);
  } catch (error) {
    $("status").textContent = error.message;
  } finally {
    work(-1);
  }
}

function bindRange(id, format, apply) {
  const input = $(id);
  input.addEventListener("input", () => {
    input.nextElementSibling.textContent = format(Number(input.value));
    apply(Number(input.value));
    changed();
  });
}

async function start() {
  state.info = await getJSON("/api/info");
  $("model").textContent = `Model ${state.info.model}, run with ${state.info.runtime}.`;
  for (const name of state.info.keys) $("key").append(new Option(name, name));
  for (const columns of [150, 300, 600, 900, 1200]) {
    $("length").append(new Option(`${columns} columns (${columns / 8} s at 120 BPM)`, columns));
  }
  $("length").value = state.info.width;
  state.length = state.info.width;
  if (!state.info.renderer) $("sound").options[1].disabled = true;
  const sliders = $("sliders");
  for (let i = 0; i < state.info.latent_dim; i++) {
    const row = document.createElement("div");
    row.className = "row";
    row.innerHTML = `<label for="z${i}">z${i + 1}</label><input id="z${i}" type="range" min="-4" max="4" step="0.01" value="0"><output>0.00</output>`;
    sliders.append(row);
    const input = row.querySelector("input");
    input.addEventListener("input", () => {
      input.nextElementSibling.textContent = Number(input.value).toFixed(2);
      state.latent[i] = Number(input.value);
      state.towards = null;
      changed();
    });
  }
  bindRange("bpm", (v) => `${v} BPM`, (v) => { state.bpm = v; });
  bindRange("threshold", (v) => v.toFixed(2), (v) => { state.threshold = v; });
  bindRange("velocity", (v) => `${v}`, (v) => { state.velocity = v; });
  $("key").addEventListener("change", () => { state.key = $("key").value; changed(); });
  $("length").addEventListener("change", () => { state.length = Number($("length").value); changed(); });
  $("seed").addEventListener("change", () => loadSeed(Math.max(0, Math.floor(Number($("seed").value) || 0))));
  $("new").addEventListener("click", () => loadSeed(Math.floor(Math.random() * 1000000)));
  $("play").addEventListener("click", () => (document.body.dataset.sound === "playing" ? stopSound() : play()));
  $("sound").addEventListener("change", () => { if (document.body.dataset.sound === "playing") play(true); });
  $("keep").addEventListener("click", keep);
  $("morph-t").addEventListener("input", morph);
  $("upload").addEventListener("change", () => { if ($("upload").files[0]) upload($("upload").files[0]); });
  $("use-nearest").addEventListener("click", () => state.nearest && loadLatent(state.nearest.latent, 0));
  $("vary-nearest").addEventListener("click", variations);
  await loadSeed(0);
}

start().catch((error) => { $("status").textContent = `cannot start: ${error.message}`; });
