// Browser side of animakit's live transport: camera / microphone -> WebRTC -> the server's
// processed video track, a data channel for stats and live params, and the test-pattern
// stamps that measure latency end to end (see stamp.py for the layout).
const CELL = 16, BITS = 16;
const sessions = {};

function el(root, sel) { return root ? root.querySelector(sel) : null; }

function show(root, sel, text) {
  const node = el(root, sel);
  if (node) node.textContent = text;
}

function url(path) { return new URL(path, window.location.href).href; }

// --- test pattern: stamp a counter into the camera frame, read it from the output -----------
function stampedStream(camera, state) {
  const src = document.createElement("video");
  src.muted = true; src.playsInline = true; src.srcObject = camera;
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: false });
  let counter = 0;
  const draw = () => {
    if (state.stopped) return;
    if (src.videoWidth) {
      canvas.width = src.videoWidth; canvas.height = src.videoHeight;
      ctx.drawImage(src, 0, 0);
      counter = (counter + 1) % (1 << BITS);
      const y0 = canvas.height - CELL;
      const bits = [1, 0];
      for (let i = BITS - 1; i >= 0; i--) bits.push((counter >> i) & 1);
      bits.forEach((b, i) => { ctx.fillStyle = b ? "#fff" : "#000"; ctx.fillRect(i * CELL, y0, CELL, CELL); });
      state.sent.set(counter, performance.now());
      if (state.sent.size > 600) state.sent.delete(state.sent.keys().next().value);
    }
    src.requestVideoFrameCallback(draw);
  };
  src.requestVideoFrameCallback(draw);
  src.play();
  const stream = canvas.captureStream(30);
  camera.getAudioTracks().forEach((t) => stream.addTrack(t));
  return stream;
}

function readStamp(data, width) {
  // data: RGBA rows of the bottom CELL pixels; the centre row, centre of each cell
  const y = Math.floor(CELL / 2), lum = [];
  for (let i = 0; i < BITS + 2; i++) {
    let s = 0;
    for (let dx = 4; dx < CELL - 4; dx++) {
      const o = (y * width + i * CELL + dx) * 4;
      s += (data[o] + data[o + 1] + data[o + 2]) / 3;
    }
    lum.push(s / (CELL - 8));
  }
  if (lum[0] < 160 || lum[1] > 96) return null;
  let v = 0;
  for (let i = 2; i < BITS + 2; i++) v = (v << 1) | (lum[i] > 128 ? 1 : 0);
  return v;
}

// --- presented frames: rate always, latency when stamping -----------------------------------
function watchOutput(video, state) {
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const onFrame = (now, meta) => {
    if (state.stopped) return;
    state.presented.push(now);
    while (state.presented.length && now - state.presented[0] > 2000) state.presented.shift();
    state.total += 1;
    if (state.stamp && video.videoWidth >= CELL * (BITS + 2)) {
      canvas.width = video.videoWidth; canvas.height = CELL;
      ctx.drawImage(video, 0, video.videoHeight - CELL, video.videoWidth, CELL, 0, 0, video.videoWidth, CELL);
      const value = readStamp(ctx.getImageData(0, 0, video.videoWidth, CELL).data, video.videoWidth);
      if (value !== null && state.sent.has(value) && value !== state.lastStamp) {
        const shown = meta.expectedDisplayTime || now;
        state.latencies.push(shown - state.sent.get(value));
        state.lastStamp = value;
      }
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

async function networkMs(pc) {
  // jitter buffer delay of the incoming video plus half the round trip, from getStats
  let jb = 0, rtt = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video" && r.jitterBufferEmittedCount)
      jb = 1000 * r.jitterBufferDelay / r.jitterBufferEmittedCount;
    if (r.type === "candidate-pair" && r.nominated && r.currentRoundTripTime)
      rtt = 1000 * r.currentRoundTripTime;
  });
  return jb + rtt / 2;
}

function renderStats(root, state, server) {
  const now = performance.now();
  const p = state.presented.filter((t) => now - t <= 2000);
  const span = p.length > 1 ? (p[p.length - 1] - p[0]) / 1000 : 0;
  state.fps = span > 0 ? (p.length - 1) / span : 0;
  const lat = state.latencies.length
    ? `${Math.round(state.latencies.slice(-30).reduce((a, b) => a + b, 0) / Math.min(30, state.latencies.length))} ms measured`
    : `≈ ${Math.round(server.server_ms + state.netMs)} ms (server ${Math.round(server.server_ms)} ms + network and decode ${Math.round(state.netMs)} ms)`;
  show(root, ".live-stats", `${state.fps.toFixed(1)} fps delivered · latency ${lat} · ` +
       `${server.dropped} stale camera frames dropped${server.recording ? " · ● recording" : ""}`);
  show(root, ".live-notice", server.notice || "");
}

export async function start(token, driver, rootId) {
  const root = document.getElementById(rootId || "live-output");
  const video = el(root, "video");
  if (!token) return;             // preparing failed: the studio shows why
  await stop(Object.keys(sessions)[0]);
  const wantVideo = driver.includes("camera"), wantAudio = driver.includes("microphone");
  const state = { token, stamp: !!window.ANIMAKIT_LIVE_STAMP, sent: new Map(), latencies: [],
                  presented: [], total: 0, netMs: 0, fps: 0, stopped: false, server: null };
  sessions[token] = state;
  window.animakitLive = state;
  show(root, ".live-notice", "");
  let camera;
  try {
    camera = await navigator.mediaDevices.getUserMedia({
      video: wantVideo ? { width: { ideal: 640 }, height: { ideal: 480 } } : false,
      audio: wantAudio });
  } catch (e) {
    const what = wantVideo && wantAudio ? "camera and microphone" : wantVideo ? "camera" : "microphone";
    state.error = `No access to the ${what} (${e.name}): allow it in the browser and press Start again.`;
    show(root, ".live-notice", state.error);
    fetch(url("live/close"), { method: "POST", body: JSON.stringify({ token }) });
    delete sessions[token];
    return;
  }
  state.camera = camera;
  const stream = state.stamp && wantVideo ? stampedStream(camera, state) : camera;
  const pc = new RTCPeerConnection();
  state.pc = pc;
  stream.getTracks().forEach((t) => pc.addTrack(t, stream));
  pc.addTransceiver("video", { direction: "recvonly" });
  const channel = pc.createDataChannel("live");
  state.channel = channel;
  channel.onmessage = (m) => { state.server = JSON.parse(m.data); renderStats(root, state, state.server); };
  pc.ontrack = (e) => { video.srcObject = new MediaStream([e.track]); video.play().catch(() => {}); };
  pc.onconnectionstatechange = () => {
    if (["failed", "disconnected", "closed"].includes(pc.connectionState) && !state.stopped)
      show(root, ".live-notice", `The connection was ${pc.connectionState}: press Start to reconnect.`);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve());
    setTimeout(resolve, 3000);
  });
  const r = await fetch(url("live/offer"), { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token, sdp: pc.localDescription.sdp, type: pc.localDescription.type, stamp: state.stamp }) });
  const answer = await r.json();
  if (!r.ok) { state.error = answer.error; show(root, ".live-notice", answer.error); await stop(token); return; }
  await pc.setRemoteDescription(answer);
  watchOutput(video, state);
  state.timer = setInterval(async () => { state.netMs = await networkMs(pc); }, 1000);
  window.addEventListener("pagehide", () => navigator.sendBeacon(url("live/close"), JSON.stringify({ token })));
}

export async function stop(token) {
  const state = sessions[token];
  if (!state) return;
  state.stopped = true;
  clearInterval(state.timer);
  if (state.pc) state.pc.close();
  if (state.camera) state.camera.getTracks().forEach((t) => t.stop());
  delete sessions[token];
  await fetch(url("live/close"), { method: "POST", body: JSON.stringify({ token }) }).catch(() => {});
}

export function update(token, params) {
  const state = sessions[token];
  if (state && state.channel && state.channel.readyState === "open")
    state.channel.send(JSON.stringify({ params }));
}
