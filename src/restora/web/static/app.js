// restora web page: pick an image, a task, a method and its options (all from /api/methods),
// paint an inpainting mask, run a job, poll it, compare before/after and download the result.
// The mask is kept as a list of actions in image pixels (strokes, clears, uploaded masks), drawn
// scaled on the screen and at the image's full resolution when it is sent.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  tasks: [], limits: null, values: {},
  file: null, width: 0, height: 0, displayable: false, scale: 1,
  actions: [], undone: [], stroke: null, tool: "brush", maskFile: null,
  job: null, poller: null, resultUrl: null, resultBlob: null, view: "edit",
};

// ---------- methods and options ----------

async function loadMethods() {
  const r = await fetch("/api/methods");
  if (!r.ok) return showError(await errorText(r));
  const body = await r.json();
  state.tasks = body.tasks.filter((t) => t.methods.length);
  state.limits = body.limits;
  $("task").replaceChildren(...state.tasks.map((t) => new Option(t.name, t.name)));
  taskChanged();
}

const task = () => state.tasks.find((t) => t.name === $("task").value);
const method = () => task().methods.find((m) => m.name === $("method").value);

function taskChanged() {
  const t = task();
  $("method").replaceChildren(...t.methods.map((m) =>
    new Option(`${m.name} (${m.kind})${m.default ? " - default" : ""}`, m.name, m.default, m.default)));
  $("mask-tools").hidden = !t.needs_mask;
  methodChanged();
  setView("edit");
}

function methodChanged() {
  $("summary").textContent = method().summary;
  const fields = [...task().inputs, ...method().options].map(optionField);
  $("options").replaceChildren(...fields);
}

function optionField(o) {
  const key = `${task().name}/${o.name}`;
  const label = document.createElement("label");
  label.className = "option";
  label.title = o.help;
  const input = document.createElement("input");
  input.dataset.name = o.name;
  input.dataset.type = o.type;
  const value = key in state.values ? state.values[key] : o.default;
  if (o.type === "bool") {
    input.type = "checkbox";
    input.checked = Boolean(value);
  } else {
    input.type = o.type === "str" ? "text" : "number";
    if (o.type === "int") input.step = "1";
    if (o.type === "float") input.step = "any";
    if (o.low !== null) input.min = o.low;
    if (o.high !== null) input.max = o.high;
    input.value = value ?? "";
    if (value === null) input.placeholder = "auto";
  }
  input.addEventListener("change", () => { state.values[key] = input.type === "checkbox" ? input.checked : input.value; });
  const help = document.createElement("small");
  help.textContent = o.help + (o.low !== null && o.high !== null ? ` (${o.low} to ${o.high})` : "");
  label.append(o.name, input, help);
  return label;
}

function collectOptions() {
  const options = {};
  for (const input of $("options").querySelectorAll("input")) {
    const { name, type } = input.dataset;
    if (type === "bool") options[name] = input.checked;
    else if (input.value.trim() !== "") options[name] = type === "str" ? input.value.trim() : Number(input.value);
  }
  return options;
}

// ---------- the image ----------

function openFile(file) {
  if (!file) return;
  clearError();
  if (state.limits && file.size > state.limits.max_upload_bytes) {
    return showError(`${file.name} is ${(file.size / 1e6).toFixed(1)} MB, over the server's upload limit of ` +
      `${(state.limits.max_upload_bytes / 1e6).toFixed(0)} MB.`);
  }
  state.file = file;
  state.actions = []; state.undone = []; state.maskFile = null;
  dropResult();
  const url = URL.createObjectURL(file);
  const img = $("before");
  img.onload = () => {
    state.displayable = true;
    state.width = img.naturalWidth; state.height = img.naturalHeight;
    $("file-info").textContent = `${file.name}: ${state.width} x ${state.height}`;
    $("empty").hidden = true; $("stage").hidden = false;
    layout(); setView("edit");
  };
  img.onerror = () => {
    state.displayable = false;
    $("file-info").textContent = file.name;
    $("stage").hidden = true; $("empty").hidden = false;
    $("empty").textContent = "This browser cannot show this file type, but the server can still process it " +
      "(for inpainting, upload a mask).";
    updateButtons();
  };
  img.src = url;
}

// Fit the image into the viewer (at most 4x enlarged); both images and the mask share this box.
function layout() {
  if (!state.displayable) return;
  const viewer = $("viewer");
  const room = { w: viewer.clientWidth - 32, h: viewer.clientHeight - 70 };
  state.scale = Math.min(room.w / state.width, room.h / state.height, 4);
  const w = Math.max(1, Math.round(state.width * state.scale));
  const h = Math.max(1, Math.round(state.height * state.scale));
  Object.assign($("stage").style, { width: `${w}px`, height: `${h}px` });
  const canvas = $("mask");
  canvas.width = Math.round(w * devicePixelRatio);
  canvas.height = Math.round(h * devicePixelRatio);
  drawMask();
  placeDivider();
}

// ---------- the mask ----------

// Replays the mask actions onto ctx at `scale` canvas pixels per image pixel, in white.
function renderMask(ctx, scale) {
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  for (const a of state.actions) {
    ctx.globalCompositeOperation = a.erase ? "destination-out" : "source-over";
    if (a.type === "clear") {
      ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
    } else if (a.type === "base") {
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(a.canvas, 0, 0, state.width * scale, state.height * scale);
    } else {
      ctx.strokeStyle = ctx.fillStyle = "#fff";
      ctx.lineWidth = a.size * scale;
      ctx.lineCap = ctx.lineJoin = "round";
      ctx.beginPath();
      const [x0, y0] = a.points[0];
      if (a.points.length === 1) {
        ctx.arc(x0 * scale, y0 * scale, (a.size * scale) / 2, 0, 2 * Math.PI);
        ctx.fill();
      } else {
        ctx.moveTo(x0 * scale, y0 * scale);
        for (const [x, y] of a.points.slice(1)) ctx.lineTo(x * scale, y * scale);
        ctx.stroke();
      }
    }
  }
  ctx.globalCompositeOperation = "source-over";
}

function drawMask() {
  const canvas = $("mask");
  const ctx = canvas.getContext("2d");
  renderMask(ctx, canvas.width / state.width);
  ctx.globalCompositeOperation = "source-in";  // tint what is painted
  ctx.fillStyle = "#ff2d55";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.globalCompositeOperation = "source-over";
  updateButtons();
}

function maskIsEmpty() {
  const canvas = $("mask");
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < data.length; i += 4) if (data[i]) return false;
  return true;
}

// The mask at the image's full resolution as a PNG: white = damaged, black = keep.
function maskBlob() {
  if (!state.displayable) return Promise.resolve(state.maskFile);
  const canvas = document.createElement("canvas");
  canvas.width = state.width; canvas.height = state.height;
  const ctx = canvas.getContext("2d");
  renderMask(ctx, 1);
  ctx.globalCompositeOperation = "destination-over";
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

function pushAction(action) {
  state.actions.push(action);
  state.undone = [];
  drawMask();
}

function toImage(event) {
  const rect = $("mask").getBoundingClientRect();
  return [(event.clientX - rect.left) / state.scale, (event.clientY - rect.top) / state.scale];
}

function brushSize() { return Number($("size").value); }

function startStroke(event) {
  if (state.view !== "edit" || !task().needs_mask || event.button !== 0) return;
  $("mask").setPointerCapture(event.pointerId);
  state.stroke = { type: "stroke", erase: state.tool === "eraser", size: brushSize() / state.scale,
    points: [toImage(event)] };
  pushAction(state.stroke);
}

function moveStroke(event) {
  const cursor = $("cursor");
  const rect = $("stage").getBoundingClientRect();
  Object.assign(cursor.style, { left: `${event.clientX - rect.left}px`, top: `${event.clientY - rect.top}px`,
    width: `${brushSize()}px`, height: `${brushSize()}px` });
  cursor.hidden = state.view !== "edit" || !task().needs_mask;
  if (!state.stroke) return;
  state.stroke.points.push(toImage(event));
  drawMask();
}

function endStroke() { state.stroke = null; }

function undo() { if (state.actions.length) { state.undone.push(state.actions.pop()); drawMask(); } }
function redo() { if (state.undone.length) { state.actions.push(state.undone.pop()); drawMask(); } }
function clearMask() { if (state.actions.length) pushAction({ type: "clear" }); }

function setTool(tool) {
  state.tool = tool;
  $("brush").setAttribute("aria-pressed", tool === "brush");
  $("eraser").setAttribute("aria-pressed", tool === "eraser");
}

// An uploaded mask becomes an action (undoable): pixels brighter than half are damaged.
function openMask(file) {
  if (!file) return;
  clearError();
  state.maskFile = file;
  if (!state.displayable) return updateButtons();
  const img = new Image();
  img.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const d = pixels.data;
    for (let i = 0; i < d.length; i += 4) {
      const on = (d[i] + d[i + 1] + d[i + 2]) / 3 * (d[i + 3] / 255) > 127;
      d[i] = d[i + 1] = d[i + 2] = 255;
      d[i + 3] = on ? 255 : 0;
    }
    ctx.putImageData(pixels, 0, 0);
    pushAction({ type: "base", canvas });
    if (img.naturalWidth !== state.width || img.naturalHeight !== state.height) {
      setStatus(`The mask is ${img.naturalWidth} x ${img.naturalHeight}; it was stretched to the image's ` +
        `${state.width} x ${state.height}.`);
    }
  };
  img.onerror = () => showError(`${file.name} is not an image this browser can read.`);
  img.src = URL.createObjectURL(file);
}

// ---------- jobs ----------

async function run() {
  clearError();
  const t = task();
  const form = new FormData();
  form.append("image", state.file, state.file.name);
  form.append("task", t.name);
  form.append("method", method().name);
  form.append("options", JSON.stringify(collectOptions()));
  if (t.needs_mask) {
    if (state.displayable ? maskIsEmpty() : !state.maskFile) {
      return showError("Paint over the part of the image to repair first (or upload a mask).");
    }
    form.append("mask", await maskBlob(), "mask.png");
  }
  dropResult();
  setBusy(true);
  setStatus("Uploading...");
  let r;
  try {
    r = await fetch("/api/jobs", { method: "POST", body: form });
  } catch {
    return fail("Could not reach the server. Is restora serve still running?");
  }
  if (!r.ok) return fail(await errorText(r));
  state.job = await r.json();
  poll();
}

async function poll() {
  const job = state.job;
  let r;
  try {
    r = await fetch(`/api/jobs/${job.id}`);
  } catch {
    return fail("Lost the connection to the server.");
  }
  if (!r.ok) return fail(await errorText(r));
  const status = await r.json();
  if (state.job !== job) return;
  showProgress(status);
  if (status.state === "done") return finish(status);
  if (status.state === "failed") return fail(`The job failed: ${status.error}`);
  if (status.state === "cancelled") { setBusy(false); return setStatus("Cancelled."); }
  state.poller = setTimeout(poll, 300);
}

function showProgress(s) {
  $("progress").value = s.progress;
  const warnings = s.warnings.length ? ` Note: ${s.warnings.join("; ")}.` : "";
  const seconds = (end) => ((end ?? Date.now() / 1000) - s.started).toFixed(1);
  const text = {
    queued: `Waiting in the queue${s.queue_position ? ` (${s.queue_position} ahead)` : ""}...`,
    running: `${s.cancel_requested ? "Stopping" : `Running ${s.method}`}... ${seconds()} s`,
    done: `Done in ${seconds(s.finished)} s.`,
  }[s.state];
  if (text) setStatus(text + warnings);
}

async function finish(status) {
  const r = await fetch(status.result_url);
  if (!r.ok) return fail(await errorText(r));
  state.resultBlob = await r.blob();
  if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
  state.resultUrl = URL.createObjectURL(state.resultBlob);
  const stem = state.file.name.replace(/\.[^.]*$/, "") || "image";
  Object.assign($("download"), { href: state.resultUrl, download: `${stem}_${status.task}.png` });
  $("after").onload = () => { setBusy(false); setView("compare"); };
  $("after").onerror = () => fail("The result arrived but this browser cannot show it; download it instead.");
  $("after").src = state.resultUrl;
}

async function cancel() {
  if (!state.job) return;
  const r = await fetch(`/api/jobs/${state.job.id}`, { method: "DELETE" });
  if (!r.ok) showError(await errorText(r));
}

// Forget the current job and result; a job still running is cancelled on the server.
function dropResult() {
  clearTimeout(state.poller);
  if (state.job && state.busy) fetch(`/api/jobs/${state.job.id}`, { method: "DELETE" });
  state.job = null; state.resultBlob = null;
  setBusy(false);
  setStatus("");
  setView("edit");
}

function reuseResult() {
  const stem = state.file.name.replace(/\.[^.]*$/, "");
  openFile(new File([state.resultBlob], `${stem}_${task().name}.png`, { type: "image/png" }));
}

// ---------- view: edit (mask on top) or compare (result right of the divider) ----------

function setView(view) {
  state.view = state.resultBlob ? view : "edit";
  const compare = state.view === "compare";
  $("after").hidden = !compare;
  $("mask").hidden = compare || !task()?.needs_mask;
  for (const id of ["divider", "tag-before", "tag-after", "compare"]) $(id).hidden = !compare;
  $("stage").classList.toggle("compare", compare);
  $("cursor").hidden = true;
  $("result-actions").hidden = !state.resultBlob;
  $("edit").hidden = !(compare && task()?.needs_mask);
  placeDivider();
}

function placeDivider() {
  const pct = Number($("compare").value);
  $("after").style.clipPath = `inset(0 0 0 ${pct}%)`;
  $("divider").style.left = `${pct}%`;
}

function dragDivider(event) {
  if (state.view !== "compare" || !(event.buttons & 1)) return;
  const rect = $("stage").getBoundingClientRect();
  $("compare").value = Math.min(100, Math.max(0, ((event.clientX - rect.left) / rect.width) * 100));
  placeDivider();
}

// ---------- status line, errors, buttons ----------

function setBusy(busy) {
  state.busy = busy;
  $("progress").hidden = !busy;
  if (busy) $("progress").value = 0;
  $("cancel").hidden = !busy;
  updateButtons();
}

function fail(message) { setBusy(false); setStatus(""); showError(message); }
function setStatus(text) { $("status").textContent = text; }
function showError(text) { $("error").textContent = text; $("error").hidden = false; }
function clearError() { $("error").hidden = true; $("error").textContent = ""; }

function updateButtons() {
  $("run").disabled = !state.file || state.busy;
  $("undo").disabled = !state.actions.length;
  $("redo").disabled = !state.undone.length;
  $("clear").disabled = !state.actions.length;
}

// The server's error in plain words: FastAPI's {"detail": "..."} or its list of field errors.
async function errorText(r) {
  try {
    const { detail } = await r.json();
    if (Array.isArray(detail)) return detail.map((d) => `${d.loc.at(-1)}: ${d.msg}`).join("; ");
    if (detail) return detail;
  } catch { /* not JSON */ }
  return `The server answered ${r.status} ${r.statusText}.`;
}

// ---------- wiring ----------

function wire() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => openFile(e.target.files[0]));
  for (const type of ["dragenter", "dragover"]) {
    document.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  document.addEventListener("dragleave", (e) => { if (!e.relatedTarget) drop.classList.remove("over"); });
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    openFile(e.dataTransfer.files[0]);
  });
  $("task").addEventListener("change", taskChanged);
  $("method").addEventListener("change", methodChanged);
  $("brush").addEventListener("click", () => setTool("brush"));
  $("eraser").addEventListener("click", () => setTool("eraser"));
  $("size").addEventListener("input", () => { $("size-out").value = $("size").value; });
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
  $("clear").addEventListener("click", clearMask);
  $("mask-file").addEventListener("change", (e) => { openMask(e.target.files[0]); e.target.value = ""; });
  $("run").addEventListener("click", run);
  $("cancel").addEventListener("click", cancel);
  $("edit").addEventListener("click", () => setView("edit"));
  $("reuse").addEventListener("click", reuseResult);
  $("compare").addEventListener("input", placeDivider);
  const canvas = $("mask");
  canvas.addEventListener("pointerdown", startStroke);
  canvas.addEventListener("pointermove", moveStroke);
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("pointerleave", () => { $("cursor").hidden = true; });
  $("stage").addEventListener("pointerdown", dragDivider);
  $("stage").addEventListener("pointermove", dragDivider);
  window.addEventListener("resize", layout);
  document.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.target.tagName === "INPUT") return;
    const key = e.key.toLowerCase();
    if (key === "z" && !e.shiftKey) { e.preventDefault(); undo(); }
    if ((key === "z" && e.shiftKey) || key === "y") { e.preventDefault(); redo(); }
  });
}

wire();
loadMethods();
updateButtons();
