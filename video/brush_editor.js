// The motion-brush editor of the image-to-video tab (the js_on_load of a gr.HTML).
// Runs with `element` (the component's root), `props` (props.value: the brush JSON string;
// props.photo: {src, w, h} of the photo), `trigger`, `upload` and `watch`. Everything
// happens here, in the browser: painting, paths, undo/redo. props.value is rewritten after
// each change, in the brush JSON the CLI and job files take (in the photo's own pixels):
//   {"strokes": [{"mask": [[x, y], ...], "trajectory": [[x, y], ...], "strength": s}],
//    "static": [[[x, y], ...], ...]}
// A painted region is sent as the outer outlines of what was painted (one polygon per
// connected blob, each carrying its stroke's trajectory and strength).
(() => {
  const COLOURS = ["#ff5028", "#28a0ff", "#3cdc5a", "#f0c81e", "#c846ff", "#ff8cc8"];
  const STATIC = "#8090a8";
  const GRID_MAX = 640;               // the mask grid's long side (px)
  // the automatic soft edge of a stroke, as video/brush.py's stroke_edge computes it
  const EDGE_PER_SIZE = 0.06, EDGE_MIN = 2, EDGE_MAX = 12;

  const canvas = element.querySelector(".bk-canvas");
  const ctx = canvas.getContext("2d");
  const status = element.querySelector(".bk-status");
  const list = element.querySelector(".bk-list");
  const sizeIn = element.querySelector(".bk-size");
  const strengthIn = element.querySelector(".bk-strength");
  const strengthOut = element.querySelector(".bk-sv");
  const empty = element.querySelector(".bk-empty");

  let photo = null, W = 0, H = 0, scale = 1, gw = 0, gh = 0;   // grid = photo * scale
  let state = fresh(), cur = -1, mode = "paint";
  let undoStack = [], redoStack = [], lastSent = null;
  const cache = new Map();                 // stroke object -> {key, mask, polys, edge}

  function fresh() { return {strokes: [], static: {dabs: [], polys: []}}; }
  function snapshot() { return JSON.stringify({state, cur}); }
  function restore(s) { const o = JSON.parse(s); state = o.state; cur = o.cur; cache.clear(); }
  function remember() { undoStack.push(snapshot()); if (undoStack.length > 200) undoStack.shift(); redoStack = []; }

  // -- masks: painted dabs and loaded polygons on the grid, their outlines --------------
  function raster(layer) {
    const c = document.createElement("canvas");
    c.width = gw; c.height = gh;
    const g = c.getContext("2d");
    g.fillStyle = "#fff";
    for (const poly of layer.polys) {
      g.beginPath();
      poly.forEach(([x, y], i) => (i ? g.lineTo(x * scale, y * scale) : g.moveTo(x * scale, y * scale)));
      g.closePath(); g.fill();
    }
    for (const [x, y, r] of layer.dabs) {
      g.beginPath(); g.arc(x * scale, y * scale, Math.max(0.5, r * scale), 0, 2 * Math.PI); g.fill();
    }
    const px = g.getImageData(0, 0, gw, gh).data;
    const m = new Uint8Array(gw * gh);
    let n = 0;
    for (let i = 0; i < m.length; i++) if (px[4 * i + 3] >= 128) { m[i] = 1; n++; }
    return {mask: m, count: n};
  }

  // outer outlines of a binary grid as polygons in photo pixels: boundary edges between
  // inside and outside pixels are followed into loops (inside on the right); loops with a
  // positive area are outer outlines, negative ones are holes (filled: dropped).
  function outlines(m) {
    const next = new Map();
    const key = (x, y) => y * (gw + 1) + x;
    const add = (x0, y0, x1, y1) => {
      const k = key(x0, y0);
      if (!next.has(k)) next.set(k, []);
      next.get(k).push([x1, y1]);
    };
    const at = (x, y) => x >= 0 && y >= 0 && x < gw && y < gh && m[y * gw + x];
    for (let y = 0; y < gh; y++) for (let x = 0; x < gw; x++) {
      if (!m[y * gw + x]) continue;
      if (!at(x, y - 1)) add(x, y, x + 1, y);
      if (!at(x + 1, y)) add(x + 1, y, x + 1, y + 1);
      if (!at(x, y + 1)) add(x + 1, y + 1, x, y + 1);
      if (!at(x - 1, y)) add(x, y + 1, x, y);
    }
    const polys = [];
    for (const [k0, outs] of next) {
      while (outs.length) {
        let x = k0 % (gw + 1), y = Math.floor(k0 / (gw + 1));
        const loop = [[x, y]];
        let [nx, ny] = outs.pop(), dx = nx - x, dy = ny - y;
        while (!(nx === loop[0][0] && ny === loop[0][1])) {
          loop.push([nx, ny]);
          const cand = next.get(key(nx, ny));
          if (!cand || !cand.length) break;
          // at a corner touching two blobs, turn right (keeps blobs apart)
          let pick = 0;
          if (cand.length > 1) {
            const rx = -dy, ry = dx;
            pick = cand.findIndex(([ax, ay]) => ax - nx === rx && ay - ny === ry);
            if (pick < 0) pick = 0;
          }
          const [ax, ay] = cand.splice(pick, 1)[0];
          dx = ax - nx; dy = ay - ny; nx = ax; ny = ay;
        }
        let area = 0;
        for (let i = 0; i < loop.length; i++) {
          const [x1, y1] = loop[i], [x2, y2] = loop[(i + 1) % loop.length];
          area += x1 * y2 - x2 * y1;
        }
        // pixel corners -> the centres of the edge pixels (the JSON's polygons are filled
        // with their boundary), in photo pixels
        const fit = (v, n) => Math.round(Math.min(n - 1, Math.max(0, v / scale - 0.5)) * 10) / 10;
        if (area / 2 >= 4) polys.push(simplify(loop, 0.8).map(([px, py]) => [fit(px, W), fit(py, H)]));
      }
    }
    return polys.filter((p) => p.length >= 3);
  }

  // Douglas-Peucker: an open polyline, and a closed loop (split at its first point and the
  // point farthest from it)
  function dpOpen(pts, eps) {
    if (pts.length < 3) return pts;
    const [a, b] = [pts[0], pts[pts.length - 1]];
    let worst = 0, at = 0;
    for (let i = 1; i < pts.length - 1; i++) {
      const d = segDist(pts[i], a, b);
      if (d > worst) { worst = d; at = i; }
    }
    if (worst <= eps) return [a, b];
    return dpOpen(pts.slice(0, at + 1), eps).slice(0, -1).concat(dpOpen(pts.slice(at), eps));
  }
  function simplify(loop, eps) {
    const far = loop.reduce((b, p, i) => (dist2(p, loop[0]) > dist2(loop[b], loop[0]) ? i : b), 0);
    const first = dpOpen(loop.slice(0, far + 1), eps), second = dpOpen(loop.slice(far).concat([loop[0]]), eps);
    return first.slice(0, -1).concat(second.slice(0, -1));
  }
  function dist2(p, q) { return (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2; }
  function segDist(p, a, b) {
    const l2 = dist2(a, b);
    if (!l2) return Math.sqrt(dist2(p, a));
    const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * (b[0] - a[0]) + (p[1] - a[1]) * (b[1] - a[1])) / l2));
    return Math.sqrt(dist2(p, [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]));
  }

  function info(layer) {
    if (!gw) return {mask: new Uint8Array(0), count: 0, polys: [], edge: EDGE_MIN};
    const k = JSON.stringify([layer.dabs, layer.polys, gw]);
    const hit = cache.get(layer);
    if (hit && hit.key === k) return hit;
    const {mask, count} = raster(layer);
    const area = count / (scale * scale);                          // photo px
    const edge = Math.min(EDGE_MAX, Math.max(EDGE_MIN, EDGE_PER_SIZE * Math.sqrt(area)));
    const out = {key: k, mask, count, polys: count ? outlines(mask) : [], edge};
    cache.set(layer, out);
    return out;
  }

  function centroid(layer) {
    const {mask, count} = info(layer);
    let sx = 0, sy = 0;
    for (let i = 0; i < mask.length; i++) if (mask[i]) { sx += i % gw; sy += Math.floor(i / gw); }
    return [Math.round((sx / count + 0.5) / scale), Math.round((sy / count + 0.5) / scale)];
  }

  // -- the brush JSON -------------------------------------------------------------------
  function moves(s) {
    return s.path.length >= 2 && s.path.some((p) => p[0] !== s.path[0][0] || p[1] !== s.path[0][1]);
  }
  function brushJSON() {
    const strokes = [];
    for (const s of state.strokes) {
      if (!moves(s) || !info(s).count) continue;
      for (const poly of info(s).polys)
        strokes.push({mask: poly, trajectory: s.path, strength: s.strength});
    }
    const stat = (state.static.dabs.length || state.static.polys.length) ? info(state.static).polys : [];
    return strokes.length || stat.length ? JSON.stringify({strokes, static: stat}) : "";
  }
  function send() { lastSent = brushJSON(); props.value = lastSent; }

  // a brush JSON (an example, a loaded file) into editor strokes: polygons that share a
  // trajectory and strength are one stroke again
  function load(text) {
    let data;
    try { data = text ? JSON.parse(text) : {}; } catch (e) { say("that brush is not valid JSON"); return; }
    state = fresh(); cur = -1; cache.clear();
    const byPath = new Map();
    for (const s of data.strokes || []) {
      if (!Array.isArray(s.mask)) continue;
      const k = JSON.stringify([s.trajectory, s.strength ?? 1]);
      if (!byPath.has(k)) {
        byPath.set(k, {dabs: [], polys: [], path: s.trajectory, strength: s.strength ?? 1});
        state.strokes.push(byPath.get(k));
      }
      byPath.get(k).polys.push(s.mask);
    }
    state.static.polys = (data.static || []).filter(Array.isArray);
    cur = state.strokes.length - 1;
  }

  // -- drawing ----------------------------------------------------------------------------
  function draw() {
    ctx.clearRect(0, 0, gw, gh);
    if (!photo) return;
    ctx.drawImage(photo, 0, 0, gw, gh);
    const tint = (layer, colour, alpha, hatch) => {
      const {mask, count} = info(layer);
      if (!count) return;
      const c = document.createElement("canvas");
      c.width = gw; c.height = gh;
      const g = c.getContext("2d");
      const img = g.createImageData(gw, gh);
      const [r, gg, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
      for (let i = 0; i < mask.length; i++) if (mask[i]) {
        const x = i % gw, y = Math.floor(i / gw);
        const on = !hatch || ((x + y) % 8 < 3);
        img.data.set([r, gg, b, on ? alpha : alpha / 3], 4 * i);
      }
      g.putImageData(img, 0, 0);
      ctx.drawImage(c, 0, 0);
    };
    const outline = (polys, colour, width, alpha) => {
      ctx.save(); ctx.globalAlpha = alpha; ctx.strokeStyle = colour; ctx.lineWidth = width;
      ctx.lineJoin = "round";
      for (const poly of polys) {
        ctx.beginPath();
        poly.forEach(([x, y], i) => (i ? ctx.lineTo(x * scale, y * scale) : ctx.moveTo(x * scale, y * scale)));
        ctx.closePath(); ctx.stroke();
      }
      ctx.restore();
    };
    tint(state.static, STATIC, 150, true);
    outline(info(state.static).polys, STATIC, 2, 1);
    state.strokes.forEach((s, i) => {
      const colour = COLOURS[i % COLOURS.length], inf = info(s);
      // the reach: the painted region plus its soft edge (a band edge px wide outside)
      outline(inf.polys, colour, Math.max(2, 2 * inf.edge * scale), 0.35);
      tint(s, colour, i === cur ? 120 : 90, false);
      outline(inf.polys, colour, i === cur ? 2.5 : 1.5, 1);
    });
    state.strokes.forEach((s, i) => arrow(s, COLOURS[i % COLOURS.length]));
  }

  function arrow(s, colour) {
    if (!s.path.length) return;
    const pts = s.path.map(([x, y]) => [x * scale, y * scale]);
    const lw = Math.max(2.5, gw / 180);
    for (const [c, w] of [["#fff", lw + 3], [colour, lw]]) {
      ctx.strokeStyle = c; ctx.fillStyle = c; ctx.lineWidth = w; ctx.lineCap = "round";
      ctx.beginPath();
      pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
      ctx.beginPath(); ctx.arc(pts[0][0], pts[0][1], w * 1.2, 0, 2 * Math.PI); ctx.fill();
      for (let k = 1; k < pts.length - 1; k++) {
        ctx.beginPath(); ctx.arc(pts[k][0], pts[k][1], w * 0.9, 0, 2 * Math.PI); ctx.fill();
      }
      if (pts.length >= 2) {
        const [x1, y1] = pts[pts.length - 1], [x0, y0] = pts[pts.length - 2];
        const a = Math.atan2(y1 - y0, x1 - x0), len = 4 * lw + 6;
        ctx.beginPath(); ctx.moveTo(x1 + Math.cos(a) * w * 0.5, y1 + Math.sin(a) * w * 0.5);
        ctx.lineTo(x1 - len * Math.cos(a - 0.45), y1 - len * Math.sin(a - 0.45));
        ctx.lineTo(x1 - len * Math.cos(a + 0.45), y1 - len * Math.sin(a + 0.45));
        ctx.closePath(); ctx.fill();
      }
    }
  }

  function say(text) { status.textContent = text; }

  function refresh() {
    draw();
    list.innerHTML = "";
    state.strokes.forEach((s, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "bk-chip" + (i === cur ? " on" : "");
      b.style.setProperty("--c", COLOURS[i % COLOURS.length]);
      b.textContent = `stroke ${i + 1}: ${moves(s) ? "strength " + Number(s.strength).toFixed(2) : "no path yet"}`;
      b.setAttribute("aria-pressed", i === cur ? "true" : "false");
      b.onclick = () => { cur = i; syncStrength(); refresh(); };
      list.appendChild(b);
    });
    const moving = state.strokes.filter(moves).length;
    const statics = info(state.static).polys.length;
    const c = state.strokes[cur];
    let hint;
    if (!photo) hint = "Upload a photo first.";
    else if (mode === "paint") hint = c && !moves(c) && info(c).count
      ? "Now choose Path and drag from the region to where it should go (or click points)."
      : "Paint the region that should move.";
    else if (mode === "path") hint = "Drag an arrow from the region, or click points along its way.";
    else hint = "Paint what must not move.";
    say(`${moving} moving stroke(s), ${statics} static region(s). ${hint}`);
    element.querySelectorAll("[data-mode]").forEach((b) => {
      b.classList.toggle("on", b.dataset.mode === mode);
      b.setAttribute("aria-pressed", b.dataset.mode === mode ? "true" : "false");
    });
  }
  function syncStrength() {
    const s = state.strokes[cur];
    strengthIn.value = s ? s.strength : 1;
    strengthOut.textContent = Number(strengthIn.value).toFixed(2);
  }
  function changed() { send(); refresh(); }

  // -- input ------------------------------------------------------------------------------
  function at(e) {           // photo pixel under the pointer
    const r = canvas.getBoundingClientRect();
    const x = ((e.clientX - r.left) / r.width) * W, y = ((e.clientY - r.top) / r.height) * H;
    return [Math.min(W, Math.max(0, x)), Math.min(H, Math.max(0, y))];
  }
  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    if (!photo || e.button !== 0) return;
    canvas.setPointerCapture(e.pointerId);
    const p = at(e);
    const r = (Number(sizeIn.value) / 2) * (W / canvas.getBoundingClientRect().width);
    if (mode === "path") {
      const s = state.strokes[cur];
      if (!s || !info(s).count) { say("Paint a region first (Paint motion), then draw its path."); return; }
      drag = {kind: "path", start: p, pts: [p], before: snapshot()};
      return;
    }
    remember();
    let layer = state.static;
    if (mode === "paint") {
      if (!state.strokes[cur] || moves(state.strokes[cur])) {
        state.strokes.push({dabs: [], polys: [], path: [], strength: Number(strengthIn.value) || 1});
        cur = state.strokes.length - 1;
      }
      layer = state.strokes[cur];
    }
    layer.dabs.push([round1(p[0]), round1(p[1]), round1(r)]);
    drag = {kind: "paint", layer, last: p, r};
    draw();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const p = at(e);
    if (drag.kind === "path") {
      drag.pts.push(p);
      draw();
      arrow({path: [drag.start, p]}, "#ffffff");
      return;
    }
    // dabs every third of a radius along the move, so a fast drag paints a solid line
    const [x0, y0] = drag.last, d = Math.hypot(p[0] - x0, p[1] - y0);
    const n = Math.max(1, Math.ceil(d / Math.max(1, drag.r / 3)));
    for (let k = 1; k <= n; k++)
      drag.layer.dabs.push([round1(x0 + ((p[0] - x0) * k) / n), round1(y0 + ((p[1] - y0) * k) / n), round1(drag.r)]);
    drag.last = p;
    draw();
  });
  const finish = (e) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (d.kind === "path") {
      const s = state.strokes[cur];
      const end = at(e);
      const far = Math.hypot(end[0] - d.start[0], end[1] - d.start[1]) > 6 * W / canvas.getBoundingClientRect().width;
      undoStack.push(d.before); redoStack = [];
      if (far) {           // a drag: the arrow (its bends kept when it curves)
        s.path = cleanPath(dpOpen([d.start, ...d.pts.slice(1), end], 4 / scale));
      } else {             // a click: one more point, from the region's centre
        s.path = cleanPath([...(s.path.length ? s.path : [centroid(s)]), end]);
      }
    }
    changed();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);

  function round1(v) { return Math.round(v * 10) / 10; }
  function cleanPath(pts) {
    const out = [];
    for (const [x, y] of pts) {
      const q = [Math.round(x), Math.round(y)];
      if (!out.length || out[out.length - 1][0] !== q[0] || out[out.length - 1][1] !== q[1]) out.push(q);
    }
    return out;
  }

  element.querySelectorAll("[data-mode]").forEach((b) =>
    b.addEventListener("click", () => { mode = b.dataset.mode; refresh(); }));
  element.querySelector(".bk-new").addEventListener("click", () => {
    remember();
    state.strokes.push({dabs: [], polys: [], path: [], strength: Number(strengthIn.value) || 1});
    cur = state.strokes.length - 1; mode = "paint"; changed();
  });
  element.querySelector(".bk-undo").addEventListener("click", () => {
    if (!undoStack.length) return;
    redoStack.push(snapshot()); restore(undoStack.pop()); syncStrength(); changed();
  });
  element.querySelector(".bk-redo").addEventListener("click", () => {
    if (!redoStack.length) return;
    undoStack.push(snapshot()); restore(redoStack.pop()); syncStrength(); changed();
  });
  element.querySelector(".bk-clear").addEventListener("click", () => {
    remember(); state = fresh(); cur = -1; cache.clear(); changed();
  });
  element.querySelector(".bk-save").addEventListener("click", () => {
    const text = brushJSON();
    if (!text) { say("Nothing to save yet: paint a stroke and its path first."); return; }
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([JSON.stringify(JSON.parse(text), null, 1)], {type: "application/json"}));
    a.download = "brush.json"; a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  });
  strengthIn.addEventListener("input", () => {
    strengthOut.textContent = Number(strengthIn.value).toFixed(2);
  });
  strengthIn.addEventListener("change", () => {
    const s = state.strokes[cur];
    if (!s) return;
    remember(); s.strength = Number(strengthIn.value); changed();
  });

  // -- from the server: the photo, a brush (an example, a loaded file) --------------------
  function setPhoto(im) {
    if (!im || !im.src) {
      photo = null; W = H = 0; canvas.width = canvas.height = 0;
      empty.style.display = ""; refresh(); return;
    }
    const img = new Image();
    img.onload = () => {
      photo = img; W = im.w; H = im.h;
      scale = Math.min(1, GRID_MAX / Math.max(W, H));
      gw = Math.max(1, Math.round(W * scale)); gh = Math.max(1, Math.round(H * scale));
      scale = gw / W;
      canvas.width = gw; canvas.height = gh;
      canvas.style.aspectRatio = `${W} / ${H}`;
      empty.style.display = "none";
      cache.clear();
      if (props.value !== lastSent) load(props.value);
      refresh();
    };
    img.src = im.src;
  }
  // choosing a photo here: it is uploaded, and the server makes it the tab's image input
  const fileIn = element.querySelector(".bk-file");
  const stage = element.querySelector(".bk-stage");
  const send_photo = async (file) => {
    if (!file) return;
    say(`Uploading ${file.name}…`);
    try {
      const {path} = await upload(file);
      trigger("upload_photo", {path});
    } catch (e) { say(`${file.name} could not be uploaded.`); }
  };
  element.querySelectorAll(".bk-choose").forEach((b) => b.addEventListener("click", () => fileIn.click()));
  fileIn.addEventListener("change", () => { send_photo(fileIn.files[0]); fileIn.value = ""; });
  stage.addEventListener("dragover", (e) => { e.preventDefault(); stage.classList.add("drop"); });
  stage.addEventListener("dragleave", () => stage.classList.remove("drop"));
  stage.addEventListener("drop", (e) => {
    e.preventDefault(); stage.classList.remove("drop");
    send_photo(e.dataTransfer.files[0]);
  });
  watch("photo", () => setPhoto(props.photo));
  watch("value", () => {
    if (props.value === lastSent) return;
    remember(); load(props.value); lastSent = props.value; syncStrength(); refresh();
  });
  if (props.photo) setPhoto(props.photo); else refresh();
})();
