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
  async function api(path, body) {
    const response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers: { "X-Topoact-Token": token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json();
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
  async function build() {
    const started = performance.now();
    status("building…");
    try {
      const payload = await api("api/graph", request());
      await window.explorer.addGraph(payload);
      live.builds += 1;
      live.last = payload;
      live.lastDraw = performance.now() - started;
      status(`${payload.nodes.length} nodes, ${payload.links.length} edges ` +
        `(${Math.round(live.lastDraw)} ms)`);
    } catch (error) {
      status(error.message, true);
    }
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

  async function start() {
    panel();
    live.clouds = await api("api/clouds");
    const select = $("live-cloud");
    for (const entry of live.clouds) {
      select.append(el("option", { value: entry.cloud },
        `${entry.run} · ${entry.sampling} · ${entry.layer} (${entry.points})`));
    }
    const chosen = () => live.clouds.find((c) => c.cloud === select.value);
    // A cloud the workflow estimated no ε for gets the server's estimate (once).
    const showCurve = async () => {
      const entry = chosen();
      if (!entry.curve) {
        status("estimating ε…");
        Object.assign(entry, await api(`api/curve?cloud=${encodeURIComponent(entry.cloud)}`));
        status("");
      }
      drawCurve(entry);
      live.curveShown = entry.cloud;
    };
    if (live.clouds.length) await showCurve();
    select.addEventListener("change", () => showCurve().catch((e) => status(e.message, true)));
    $("live-eps").addEventListener("input", () => {
      $("live-eps-value").value = Number($("live-eps").value).toPrecision(4);
    });
    $("live-eps").addEventListener("change", build);  // on release
    $("live-eps-value").addEventListener("change", build);
    $("live-build").addEventListener("click", build);
    $("live-save").addEventListener("click", save);
    live.ready = true;
  }
  document.addEventListener("DOMContentLoaded", () => {
    start().catch((error) => status(error.message, true));
  });
})();
