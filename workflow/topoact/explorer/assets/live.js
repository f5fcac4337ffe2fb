// The live panel of `topoact serve`: pick a cloud, turn the parameters, the server builds
// the graph with the engine and the explorer draws it. Loaded before explorer.js only
// when served (the static explorer has no server to ask). Data reach the page through
// textContent and attribute setters only.
"use strict";

window.TOPOACT_LIVE = true;

(function () {
  const token = new URLSearchParams(window.location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const live = (window.topoactLive = { clouds: [], builds: 0, last: null, lastDraw: null });

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  async function api(path, body, signal) {
    const response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers: { "X-Topoact-Token": token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const text = await response.text();
    let data;
    try { data = JSON.parse(text); } catch (_) { data = { error: text }; }
    if (!response.ok) throw new Error(`${response.status}: ${data.error || "request refused"}`);
    return data;
  }
  function status(text, error) {
    const line = $("live-status");
    line.textContent = text;
    line.classList.toggle("error", Boolean(error));
  }

  function panel() {
    const box = el("section", { id: "live-panel" });
    box.append(el("h2", {}, "Live graph"));
    const row = (label, input) => { const l = el("label", { class: "live-row" }, label); l.append(input); return l; };
    const cloud = el("select", { id: "live-cloud" });
    const number = (id, value, step, min) => el("input", { id, type: "number", value, step, min });
    const eps = el("input", { id: "live-eps", type: "range", min: "0", max: "1", step: "any" });
    const epsValue = el("input", { id: "live-eps-value", type: "number", step: "any" });
    const cover = el("select", { id: "live-cover" });
    for (const c of ["exact", "kmapper", "balanced"]) cover.append(el("option", { value: c }, c));
    const lens = el("select", { id: "live-lens" });
    for (const c of ["l2", "pca1", "pca2", "codensity"]) lens.append(el("option", { value: c }, c));
    box.append(row("cloud ", cloud), row("intervals ", number("live-intervals", 70, 1, 1)),
      row("overlap ", number("live-overlap", 0.3, 0.05, 0)), row("ε ", eps), epsValue,
      document.createElementNS(SVG, "svg"),
      row("min_samples ", number("live-min-samples", 5, 1, 1)), row("cover ", cover),
      row("lens ", lens));
    const curve = box.querySelector("svg");
    curve.setAttribute("id", "live-curve");
    curve.setAttribute("viewBox", "0 0 300 80");
    const build = el("button", { id: "live-build", type: "button" }, "build");
    const save = el("button", { id: "live-save", type: "button" }, "save");
    box.append(build, save, el("p", { id: "live-status" }), el("pre", { id: "live-yaml" }));
    $("sidebar").prepend(box);
  }

  // The cloud's sorted k-distance curve with the knee's ε marked; the slider spans it.
  function drawCurve(entry) {
    const svg = $("live-curve");
    svg.replaceChildren();
    const curve = entry.curve || [];
    const top = Math.max(...curve, entry.epsilon || 1) * 1.05;
    const slider = $("live-eps");
    slider.min = String(top / 1000);
    slider.max = String(top);
    const epsilon = entry.epsilon || top / 2;
    slider.value = String(epsilon);
    $("live-eps-value").value = epsilon.toPrecision(4);
    if (!curve.length) return;
    const x = (i) => (300 * i) / Math.max(curve.length - 1, 1), y = (v) => 78 - (76 * v) / top;
    const path = document.createElementNS(SVG, "polyline");
    path.setAttribute("points", curve.map((v, i) => `${x(i)},${y(v)}`).join(" "));
    path.setAttribute("class", "live-curve-line");
    const knee = document.createElementNS(SVG, "line");
    for (const [k, v] of Object.entries({ x1: 0, x2: 300, y1: y(epsilon), y2: y(epsilon),
      class: "live-knee" })) knee.setAttribute(k, v);
    svg.append(path, knee);
  }
  function request() {
    return {
      cloud: $("live-cloud").value, intervals: Number($("live-intervals").value),
      overlap: Number($("live-overlap").value), eps: Number($("live-eps-value").value),
      min_samples: Number($("live-min-samples").value), cover: $("live-cover").value,
      lens: $("live-lens").value,
    };
  }
  // One build at a time: a new one aborts the one in flight (the server then stops it
  // at the engine's next interval), and the status line counts the seconds.
  let inFlight = null;
  let debounce = null;
  async function build() {
    clearTimeout(debounce);
    if (inFlight) inFlight.abort();
    const controller = (inFlight = new AbortController());
    const started = performance.now();
    const ticking = setInterval(() => {
      status(`building… ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }, 100);
    status("building… 0.0 s");
    try {
      const payload = await api("api/graph", request(), controller.signal);
      await window.explorer.addGraph(payload);
      live.builds += 1;
      live.last = payload;
      live.lastDraw = performance.now() - started;
      status(`${payload.nodes.length} nodes, ${payload.links.length} edges ` +
        `(${Math.round(live.lastDraw)} ms)`);
    } catch (error) {
      if (error.name === "AbortError") { live.aborted = (live.aborted || 0) + 1; return; }
      status(error.message, true);
    } finally {
      clearInterval(ticking);
      if (inFlight === controller) inFlight = null;
    }
  }
  // Typed values build once the typing pauses.
  function buildSoon() {
    clearTimeout(debounce);
    debounce = setTimeout(build, 300);
  }
  async function save() {
    try {
      const saved = await api("api/save", request());
      status(`saved ${saved.written.join(", ")}`);
      $("live-yaml").textContent = saved.yaml;
    } catch (error) {
      status(error.message, true);
    }
  }

  // The cloud of the graph the explorer shows (else the first with the workflow's ε).
  function cloudOfShownGraph() {
    const state = (window.explorer && window.explorer.state) || {};
    const shown = live.clouds.find((c) => c.run === state.run &&
      c.sampling === state.sampling && c.layer === state.layer);
    return shown || live.clouds.find((c) => c.curve) || live.clouds[0];
  }

  async function start() {
    panel();
    live.clouds = await api("api/clouds");
    const select = $("live-cloud");
    for (const entry of live.clouds) {
      select.append(el("option", { value: entry.cloud },
        `${entry.run} · ${entry.sampling} · ${entry.layer} (${entry.points})`));
    }
    const estimate = el("button", { id: "live-estimate", type: "button", hidden: "" },
      "estimate ε");
    $("live-curve").after(estimate);
    const chosen = () => live.clouds.find((c) => c.cloud === select.value);
    // A cloud the workflow estimated no ε for gets the server's estimate when asked:
    // on a large cloud it takes a while.
    const showCurve = () => {
      const entry = chosen();
      estimate.hidden = Boolean(entry.curve);
      if (!entry.curve) status("no ε estimate for this cloud: estimate it, or type ε");
      drawCurve(entry);
      live.curveShown = entry.cloud;
    };
    estimate.addEventListener("click", async () => {
      const entry = chosen();
      status("estimating ε…");
      try {
        Object.assign(entry, await api(`api/curve?cloud=${encodeURIComponent(entry.cloud)}`));
        status("");
        showCurve();
      } catch (error) {
        status(error.message, true);
      }
    });
    const follow = () => {
      const entry = cloudOfShownGraph();
      if (entry && entry.cloud !== select.value) {
        select.value = entry.cloud;
        showCurve();
      }
    };
    if (live.clouds.length) {
      select.value = cloudOfShownGraph().cloud;
      showCurve();
    }
    select.addEventListener("change", showCurve);
    for (const id of ["run-select", "sampling-select", "layer-select"]) {
      $(id).addEventListener("change", () => setTimeout(follow));
    }
    $("live-eps").addEventListener("input", () => {
      $("live-eps-value").value = Number($("live-eps").value).toPrecision(4);
    });
    $("live-eps").addEventListener("change", build);  // on release
    for (const id of ["live-eps-value", "live-intervals", "live-overlap", "live-min-samples"]) {
      $(id).addEventListener("change", buildSoon);
    }
    $("live-build").addEventListener("click", build);
    $("live-save").addEventListener("click", save);
    live.ready = true;
  }
  document.addEventListener("DOMContentLoaded", () => {
    start().catch((error) => status(error.message, true));
  });
})();
