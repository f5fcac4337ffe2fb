// TopoAct explorer: draws the mapper graphs the workflow wrote into data/*.js.
// Every piece of data (class names above all) reaches the page through textContent or
// attribute setters, never as HTML.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const manifest = window.TOPOACT_MANIFEST;
  const graphs = (window.TOPOACT_GRAPHS = window.TOPOACT_GRAPHS || {});
  const $ = (id) => document.getElementById(id);
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31",
    "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363"];
  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const RED_GREEN = [[215, 48, 39], [252, 141, 89], [254, 224, 139], [145, 207, 96], [26, 152, 80]];

  const state = {
    run: null, sampling: null, layer: null,
    // The parameter set with activation images by default (featurevis.graphs: opening).
    parameters: (manifest && manifest.opening) || null,
    colour: "lens", glyph: "circle", jaccard: 0, multilayer: false, crosslinks: false,
    minShared: 1, selectedLinksOnly: false,
    // Links across layers drawn strong: null = each node's strongest where it is also its
    // partner's (the rest faded); a number = those of at least that Jaccard.
    linkJaccard: null, align: true, linkBudget: 100,
    chosen: new Set(), selected: null, view: { x: 0, y: 0, k: 1 },
    feature: null,  // index of the significant feature whose nodes are highlighted
  };
  const timing = (window.explorerTiming = { draws: 0 });

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }
  function ramp(stops, t) {
    t = Math.min(1, Math.max(0, isFinite(t) ? t : 0));
    const x = t * (stops.length - 1), i = Math.min(Math.floor(x), stops.length - 2), f = x - i;
    const c = stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }
  function classColour(index) { return index < 0 ? "#d9d9d9" : PALETTE[index % PALETTE.length]; }
  function unique(values) { return [...new Set(values)]; }
  function fill(select, values, current, label) {
    select.replaceChildren(...values.map((v) => {
      const option = el("option", { value: v }, label ? label(v) : v);
      return option;
    }));
    select.value = values.includes(current) ? current : values[0];
    return select.value;
  }

  // ------------------------------------------------------------------ data loading
  function entries(filter) {
    return manifest.graphs.filter((g) => Object.entries(filter).every(([k, v]) => g[k] === v));
  }
  function entryFor(layer) {
    return entries({ run: state.run, sampling: state.sampling, layer: layer,
      parameters: state.parameters })[0];
  }
  function load(entry) {
    if (graphs[entry.id]) return Promise.resolve(graphs[entry.id]);
    return new Promise((resolve, reject) => {
      const script = el("script", { src: entry.file });
      script.onload = () => resolve(graphs[entry.id]);
      script.onerror = () => reject(new Error(`cannot load ${entry.file}`));
      document.head.appendChild(script);
    });
  }
  function layersOfRun() {
    const model = entries({ run: state.run })[0].model;
    const present = new Set(entries({ run: state.run, sampling: state.sampling }).map((g) => g.layer));
    return (manifest.layers[model] || []).filter((l) => present.has(l));
  }
  function shownLayers() {
    const layers = layersOfRun();
    if (!state.multilayer) return [state.layer];
    const i = layers.indexOf(state.layer);
    const start = Math.max(0, Math.min(i - 1, layers.length - 3));
    return layers.slice(start, start + 3);
  }

  // ------------------------------------------------------------------ header
  function syncSelectors() {
    const runs = unique(manifest.graphs.map((g) => g.run));
    state.run = fill($("run-select"), runs, state.run);
    $("run-control").hidden = runs.length < 2;
    const samplings = unique(entries({ run: state.run }).map((g) => g.sampling));
    state.sampling = fill($("sampling-select"), samplings, state.sampling);
    $("sampling-control").hidden = samplings.length < 2;
    state.layer = fill($("layer-select"), layersOfRun(), state.layer);
    const params = unique(entries({ run: state.run, sampling: state.sampling, layer: state.layer })
      .map((g) => g.parameters));
    state.parameters = fill($("parameters-select"), params, state.parameters);
  }

  // ------------------------------------------------------------------ drawing
  function featureNodes(graph) {
    const st = graph.stability;
    if (state.feature === null || !st || !st.features[state.feature] ||
        graph.layer !== state.layer) return null;
    return new Set(st.features[state.feature].nodes);
  }
  function nodeMatches(graph, node) {
    if (!state.chosen.size) return null;
    return node.top.some(([c]) => state.chosen.has(graph.classes[c]));
  }
  function radiusScale(graph) {
    const maxSize = Math.max(1, ...graph.nodes.map((n) => n.size));
    const crowd = Math.min(1, Math.sqrt(150 / Math.max(graph.nodes.length, 1)));
    return (size) => (3 + 15 * Math.sqrt(size / maxSize)) * Math.max(crowd, 0.25);
  }
  function colourOf(graph) {
    if (state.colour === "purity") return (n) => ramp(RED_GREEN, n.purity);
    const lens = graph.nodes.map((n) => n.lens);
    const lo = Math.min(...lens), hi = Math.max(...lens);
    return (n) => ramp(VIRIDIS, hi > lo ? (n.lens - lo) / (hi - lo) : 0.5);
  }
  function piePaths(group, node, x, y, r) {
    const total = node.pie.reduce((s, [, n]) => s + n, 0) || 1;
    let angle = -Math.PI / 2;
    if (node.pie.length === 1) {
      group.appendChild(svg("circle", { cx: x, cy: y, r: r, class: "node",
        fill: classColour(node.pie[0][0]), "data-node": node.id }));
      return;
    }
    for (const [cls, count] of node.pie) {
      const sweep = (2 * Math.PI * count) / total;
      const x0 = x + r * Math.cos(angle), y0 = y + r * Math.sin(angle);
      angle += sweep;
      const x1 = x + r * Math.cos(angle), y1 = y + r * Math.sin(angle);
      group.appendChild(svg("path", {
        d: `M${x},${y}L${x0},${y0}A${r},${r} 0 ${sweep > Math.PI ? 1 : 0} 1 ${x1},${y1}Z`,
        fill: classColour(cls), stroke: "#fff", "stroke-width": 0.4 }));
    }
    // An outline circle carries the node's events, selection and highlight.
    group.appendChild(svg("circle", { cx: x, cy: y, r: r, class: "node", fill: "none",
      "pointer-events": "all", "data-node": node.id }));
  }
  function drawPanel(root, graph, offsetX, width, pos) {
    const panel = svg("g", { class: "layer-panel", "data-layer": graph.layer,
      transform: `translate(${offsetX},0)` });
    panel.appendChild(svg("rect", { class: "panel-frame", x: 5, y: 5, width: width - 10, height: 990 }));
    // At the panel's foot, right: the graph's title and the legend keep the other corners.
    const label = svg("text", { class: "panel-label", x: width - 20, y: 980, "text-anchor": "end" });
    label.textContent = graph.layer;
    if (state.multilayer) panel.appendChild(label);
    const px = (n) => 50 + pos[n.id][0] * (width - 100), py = (n) => 60 + pos[n.id][1] * 890;
    const edges = svg("g", { class: "edges" });
    for (const [s, t, j] of graph.links) {
      if (j < state.jaccard) continue;
      const a = graph.nodes[s], b = graph.nodes[t];
      edges.appendChild(svg("line", { class: "edge", x1: px(a), y1: py(a), x2: px(b), y2: py(b),
        stroke: ramp([[200, 200, 200], [40, 40, 40]], j), "stroke-width": 0.6 + 5 * j,
        "data-jaccard": j }));
    }
    panel.appendChild(edges);
    const radius = radiusScale(graph), colour = colourOf(graph);
    const nodes = svg("g", { class: "nodes" });
    const feature = featureNodes(graph);
    for (const node of graph.nodes) {
      const x = px(node), y = py(node), r = radius(node.size);
      const matches = nodeMatches(graph, node);
      const inFeature = feature ? feature.has(node.id) : null;
      const group = svg("g", { class: "glyph" + (matches === true ? " highlight" : "") +
        (matches === false || inFeature === false ? " dim" : "") +
        (inFeature ? " feature" : "") + (isSelected(graph, node) ? " selected" : ""),
        "data-node": node.id, "data-layer": graph.layer });
      if (state.glyph === "pie") {
        piePaths(group, node, x, y, r);
      } else if (state.glyph === "image" && node.image) {
        const side = 2.2 * Math.max(r, 14);  // readable; hovering enlarges it
        group.appendChild(svg("image", { href: node.image, x: x - side / 2, y: y - side / 2,
          width: side, height: side, "image-rendering": "pixelated" }));
        group.appendChild(svg("rect", { class: "node", x: x - side / 2, y: y - side / 2,
          width: side, height: side, fill: "none", "pointer-events": "all", "data-node": node.id }));
      } else {
        group.appendChild(svg("circle", { cx: x, cy: y, r: r, class: "node", fill: colour(node),
          "data-node": node.id }));
      }
      nodes.appendChild(group);
    }
    panel.appendChild(nodes);
    root.appendChild(panel);
    return { panel, px: (n) => offsetX + px(n), py };
  }
  // ------------------------------------------------------------------ links across layers
  function passingLinks(graph) {
    return (graph.next_layer_links || []).filter((l) => l[2] >= state.minShared);
  }
  // Each node's strongest link (by Jaccard) where it is also its partner's strongest: a
  // matching of two layers' nodes, readable where all their links are a hairball. Of
  // thousands of nodes, a matching is a hairball too: the linkBudget strongest of it.
  function mutualBest(links) {
    const bestA = new Map(), bestB = new Map();
    for (const l of links) {
      if (!bestA.has(l[0]) || l[3] > bestA.get(l[0])[3]) bestA.set(l[0], l);
      if (!bestB.has(l[1]) || l[3] > bestB.get(l[1])[3]) bestB.set(l[1], l);
    }
    const best = links.filter((l) => bestA.get(l[0]) === l && bestB.get(l[1]) === l);
    best.sort((x, y) => y[3] - x[3] || y[2] - x[2]);
    return new Set(best.slice(0, state.linkBudget));
  }
  // Per shown layer, the nodes the selected node reaches through links (forward and back,
  // layer by layer), or null where nothing is selected in the shown layers.
  function tracedNodes(loaded) {
    const chosen = state.selected;
    const start = chosen ? loaded.findIndex((g) => g.layer === chosen.layer) : -1;
    const reach = loaded.map(() => null);
    if (start < 0) return reach;
    reach[start] = new Set([chosen.id]);
    for (let i = start; i + 1 < loaded.length; i++) {
      reach[i + 1] = new Set(passingLinks(loaded[i]).filter((l) => reach[i].has(l[0])).map((l) => l[1]));
    }
    for (let i = start; i > 0; i--) {
      reach[i - 1] = new Set(passingLinks(loaded[i - 1]).filter((l) => reach[i].has(l[1])).map((l) => l[0]));
    }
    return reach;
  }
  // The links drawn strong between layers i and i + 1: those the selected node reaches,
  // else the mutual-best ones or those above the chosen Jaccard (none when only the
  // selected node's are asked for).
  function strongLinks(links, reach, i) {
    if (reach[i]) return new Set(links.filter((l) => reach[i].has(l[0]) && reach[i + 1].has(l[1])));
    if (state.selectedLinksOnly) return new Set();
    if (state.linkJaccard === null) return mutualBest(links);
    return new Set(links.filter((l) => l[3] >= state.linkJaccard));
  }
  // Strong links are lines of their own (their width by shared images); the others are
  // faded into one path per pair of layers (one element, whatever their number).
  function drawCrosslinks(root, loaded, placed) {
    const reach = tracedNodes(loaded);
    for (let i = 0; i + 1 < loaded.length; i++) {
      const a = loaded[i], b = loaded[i + 1], links = passingLinks(a);
      const most = Math.max(1, ...links.map((l) => l[2]));
      const strong = strongLinks(links, reach, i);
      const end = (l) => [placed[i].px(a.nodes[l[0]]), placed[i].py(a.nodes[l[0]]),
        placed[i + 1].px(b.nodes[l[1]]), placed[i + 1].py(b.nodes[l[1]])];
      if (!state.selectedLinksOnly) {
        const faded = links.filter((l) => !strong.has(l)).map((l) => {
          const [x1, y1, x2, y2] = end(l);
          return `M${x1.toFixed(1)},${y1.toFixed(1)}L${x2.toFixed(1)},${y2.toFixed(1)}`;
        });
        if (faded.length) root.appendChild(svg("path", { class: "crosslinks-faded",
          d: faded.join(""), "data-links": faded.length, "data-pair": i }));
      }
      for (const l of strong) {
        const [x1, y1, x2, y2] = end(l);
        root.appendChild(svg("line", { class: "crosslink", x1, y1, x2, y2,
          "stroke-width": 0.5 + 4 * Math.sqrt(l[2] / most), "data-shared": l[2],
          "data-jaccard": l[3], "data-pair": i }));
      }
    }
  }
  // Each column's stored layout turned (a rotation or a reflection about its centre) to
  // best match the previous column through their links, weighted by Jaccard (orthogonal
  // Procrustes in the drawn units sx × sy), then fitted back into its panel: linked nodes
  // sit at similar heights and the links run across rather than criss-cross.
  function alignLayouts(loaded, sx, sy) {
    const pos = loaded.map((g) => g.nodes.map((n) => [n.x * sx, n.y * sy]));
    for (let i = 1; state.align && i < loaded.length; i++) {
      const links = loaded[i - 1].next_layer_links || [];
      const p = pos[i - 1], q = pos[i];
      let w = 0, pc = [0, 0], qc = [0, 0];
      for (const [s, t, , j] of links) {
        w += j; pc = [pc[0] + j * p[s][0], pc[1] + j * p[s][1]];
        qc = [qc[0] + j * q[t][0], qc[1] + j * q[t][1]];
      }
      if (!(w > 0)) continue;
      pc = [pc[0] / w, pc[1] / w]; qc = [qc[0] / w, qc[1] / w];
      const m = [0, 0, 0, 0];  // Σ j (p − p̄)(q − q̄)ᵀ, row-major
      for (const [s, t, , j] of links) {
        const dp = [p[s][0] - pc[0], p[s][1] - pc[1]], dq = [q[t][0] - qc[0], q[t][1] - qc[1]];
        m[0] += j * dp[0] * dq[0]; m[1] += j * dp[0] * dq[1];
        m[2] += j * dp[1] * dq[0]; m[3] += j * dp[1] * dq[1];
      }
      // The best rotation [[c, −s], [s, c]] and reflection [[c, s], [s, −c]], and their fit.
      const rot = Math.atan2(m[2] - m[1], m[0] + m[3]), rotFit = Math.hypot(m[0] + m[3], m[2] - m[1]);
      const ref = Math.atan2(m[1] + m[2], m[0] - m[3]), refFit = Math.hypot(m[0] - m[3], m[1] + m[2]);
      const reflect = refFit > rotFit, angle = reflect ? ref : rot;
      const c = Math.cos(angle), sn = Math.sin(angle);
      pos[i] = q.map(([x, y]) => {
        const dx = x - qc[0], dy = y - qc[1];
        return reflect ? [c * dx + sn * dy, sn * dx - c * dy] : [c * dx - sn * dy, sn * dx + c * dy];
      });
    }
    return pos.map((layer, i) => (i === 0 || !state.align
      ? loaded[i].nodes.map((n) => [n.x, n.y]) : fitUnit(layer)));
  }
  function fitUnit(points) {  // into [0, 1] on each axis, as the stored layouts are
    const lo = [0, 1].map((k) => Math.min(...points.map((pt) => pt[k])));
    const hi = [0, 1].map((k) => Math.max(...points.map((pt) => pt[k])));
    return points.map((pt) => [0, 1].map((k) => (hi[k] > lo[k] ? (pt[k] - lo[k]) / (hi[k] - lo[k]) : 0.5)));
  }
  function isSelected(graph, node) {
    return state.selected && state.selected.layer === graph.layer && state.selected.id === node.id;
  }
  // The header's link to the profiles page, at the current run's section when it has one.
  function updateProfilesLink() {
    const pages = manifest.profiles || [];
    const link = $("profiles-link");
    link.hidden = !pages.length;
    if (!pages.length) return;
    const mine = pages.find((p) => p.run === state.run);
    link.href = mine ? mine.page : "profiles/index.html";
    link.textContent = mine ? `profiles of ${state.run}` : "profiles of data examples";
  }
  async function draw() {
    updateProfilesLink();
    const started = performance.now();
    const layers = shownLayers();
    const loaded = await Promise.all(layers.map((l) => load(entryFor(l))));
    // Several layers share the area's whole height: each panel is as wide as its share of
    // the area (at the area's aspect ratio), not a square squeezed into a third of it.
    const area = $("graph-area");
    const aspect = area.clientWidth / Math.max(area.clientHeight, 1) || 1;
    const width = loaded.length > 1 ? Math.max(250, (1000 * aspect) / loaded.length) : 1000;
    const total = width * loaded.length;
    const svgRoot = $("graph");
    svgRoot.setAttribute("viewBox", `0 0 ${total} 1000`);
    const viewport = svg("g", { id: "viewport" });
    const cross = svg("g", { class: "crosslinks" });
    viewport.appendChild(cross);
    const positions = state.multilayer ? alignLayouts(loaded, width - 100, 890)
      : loaded.map((g) => g.nodes.map((n) => [n.x, n.y]));
    const placed = loaded.map((graph, i) => drawPanel(viewport, graph, i * width, width,
      positions[i]));
    if (state.multilayer && state.crosslinks) drawCrosslinks(cross, loaded, placed);
    svgRoot.replaceChild(viewport, $("viewport"));
    applyView();
    const main = loaded[layers.indexOf(state.layer)] || loaded[0];
    $("graph-title").textContent = `${main.run.split("/").join(" · ")} · ` +
      `${main.sampling} · ${state.multilayer ? layers.join(" | ") : main.layer} · ${main.parameters}` +
      ` · ${main.nodes.length} nodes`;
    svgRoot.setAttribute("data-drawn", `${state.layer}|${state.parameters}|${loaded.length}`);
    showImagesNote(main);
    showPurity(main);
    showStability(main);
    showLegend(main);
    showDirectory(main);
    // Timed once the browser has painted the frame (two animation frames later).
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    timing.last = performance.now() - started;
    if (timing.first === undefined) timing.first = performance.now();
    timing.draws += 1;
    return loaded;
  }

  // ------------------------------------------------------------------ panels
  function showImagesNote(graph) {
    // A graph without activation images says which graphs have them and which key
    // renders the others.
    const note = $("images-note");
    const missing = manifest.images_note && !graph.live && !graph.nodes.some((n) => n.image);
    note.hidden = !missing;
    note.textContent = missing ? manifest.images_note : "";
  }
  function showLegend(graph) {
    const legend = $("legend");
    legend.replaceChildren();
    if (state.glyph === "pie") {
      legend.textContent = "pie: class composition (grey = other classes)";
      return;
    }
    // A 2-D lens (pca2) is coloured by its first coordinate.
    const lensName = graph.lens === "l2" ? "mean lens ‖x‖"
      : `mean lens (${graph.lens}${graph.lens === "pca2" ? ", 1st coordinate" : ""})`;
    const [stops, name, lo, hi] = state.colour === "purity"
      ? [RED_GREEN, "node purity α", 0, 1]
      : [VIRIDIS, lensName, Math.min(...graph.nodes.map((n) => n.lens)),
        Math.max(...graph.nodes.map((n) => n.lens))];
    const bar = el("span", { class: "bar" });
    bar.style.background = `linear-gradient(to right, ${stops.map((s) => `rgb(${s})`).join(",")})`;
    legend.append(el("span", {}, `${name}: ${lo.toFixed(2)}`), bar, el("span", {}, hi.toFixed(2)));
  }
  function showPurity(graph) {
    const box = $("purity");
    box.replaceChildren();
    const p = graph.purity;
    const rows = [["nodes", graph.nodes.length], ["edges", graph.links.length],
      ["ε", graph.epsilon.toPrecision(4)]];
    const fixed = (v) => (v === null || v === undefined ? "–" : v.toFixed(3));
    rows.push(["node purity (mean α)", fixed(p.node_purity)],
      ["point purity (mean β)", fixed(p.point_purity)],
      ["class purity (mean γ)", fixed(p.class_purity_mean)],
      ["points in no node", `${p.points_in_no_node} of ${graph.n_points}`]);
    const table = el("table", { id: "purity-table" });
    for (const [k, v] of rows) {
      const tr = el("tr");
      tr.append(el("td", {}, k), el("td", {}, String(v)));
      table.appendChild(tr);
    }
    box.appendChild(table);
  }
  // The "significant features" line, and a button per feature that highlights its nodes.
  function showStability(graph) {
    const st = graph.stability;
    $("stability-panel").hidden = !st;
    if (!st) return;
    const counts = {};
    for (const f of st.features) counts[f.kind] = (counts[f.kind] || 0) + 1;
    const parts = Object.entries(counts).map(([kind, n]) => `${n} ${kind}${n > 1 ? "s" : ""}`);
    const band = st.d_alpha === null ? "no bootstrap (no nodes)"
      : `d_α ${st.d_alpha.toPrecision(3)} at ${Math.round(100 * st.confidence)} %, B = ${st.bootstrap}`;
    $("stability-line").textContent = `significant features: ${parts.length ? parts.join(", ") : "none"}` +
      ` of ${st.total} (${band})`;
    const box = $("feature-buttons");
    box.replaceChildren(...st.features.map((f, i) => {
      const button = el("button", { type: "button", class: "feature-button" +
        (state.feature === i ? " active" : ""), "data-feature": i },
        `${f.kind}: ${f.birth.toFixed(3)} → ${f.death.toFixed(3)} · ${f.nodes.length} nodes · ` +
        `confidence ${f.confidence.toFixed(2)}`);
      button.addEventListener("click", () => {
        state.feature = state.feature === i ? null : i;
        draw();
      });
      return button;
    }));
  }
  function showNode(graph, node) {
    $("node-hint").hidden = true;
    $("node-details").hidden = false;
    $("node-summary").textContent = `${graph.layer} node ${node.id}: ${node.size} points, ` +
      `mean lens ${node.lens.toFixed(3)}, purity α ${node.purity.toFixed(3)}`;
    const list = $("top-classes");
    list.replaceChildren(...node.top.map(([c, percent, count]) =>
      el("li", { class: "top-class" }, `${graph.classes[c]} — ${percent.toFixed(1)}% (${count})`)));
    const inputs = $("data-examples"), acts = $("activation-images");
    inputs.replaceChildren();
    acts.replaceChildren();
    for (const [cls, items] of node.examples || []) {
      const rowIn = el("div", { class: "example-row" }), rowAct = el("div", { class: "example-row" });
      rowIn.appendChild(el("span", { class: "label", title: graph.classes[cls] }, graph.classes[cls]));
      rowAct.appendChild(el("span", { class: "label", title: graph.classes[cls] }, graph.classes[cls]));
      for (const [input, activation] of items) {
        rowIn.appendChild(el("img", { src: input, alt: "data example", class: "example-input" }));
        if (activation) rowAct.appendChild(el("img", { src: activation, alt: "activation image",
          class: "example-activation" }));
      }
      inputs.appendChild(rowIn);
      acts.appendChild(rowAct);
    }
    if (!(node.examples || []).length) inputs.textContent = "no data examples rendered";
    const average = $("average-image");
    average.replaceChildren();
    if (node.image) average.appendChild(el("img", { src: node.image, alt: "averaged activation image" }));
    else average.textContent = "not rendered";
  }
  function showDirectory(graph) {
    const box = $("directory");
    const present = new Set();
    for (const node of graph.nodes) for (const [c] of node.top) present.add(graph.classes[c]);
    const names = [...present].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }));
    box.replaceChildren();
    let letter = null;
    for (const name of names) {
      const first = name.charAt(0).toUpperCase();
      if (first !== letter) { letter = first; box.appendChild(el("div", { class: "letter" }, first)); }
      const label = el("label");
      const box2 = el("input", { type: "checkbox", class: "directory-class" });
      box2.checked = state.chosen.has(name);
      box2.addEventListener("change", () => toggleClass(name, box2.checked));
      label.append(box2, document.createTextNode(" " + name));
      box.appendChild(label);
    }
  }
  function layerClassNames() {
    const names = new Set();
    for (const layer of shownLayers()) {
      const graph = graphs[entryFor(layer).id];
      if (graph) for (const node of graph.nodes) for (const [c] of node.top) names.add(graph.classes[c]);
    }
    return [...names].sort((a, b) => a.localeCompare(b));
  }
  function showChosen() {
    $("chosen-classes").replaceChildren(...[...state.chosen].map((name) => {
      const chip = el("span", { class: "chip", title: "remove" }, name + " ×");
      chip.addEventListener("click", () => toggleClass(name, false));
      return chip;
    }));
  }
  function toggleClass(name, on) {
    if (on) state.chosen.add(name); else state.chosen.delete(name);
    showChosen();
    draw();
  }

  // ------------------------------------------------------------------ search
  function suggest() {
    const query = $("class-search").value.trim().toLowerCase();
    const list = $("suggestions");
    if (!query) { list.hidden = true; return; }
    const hits = layerClassNames().filter((n) => n.toLowerCase().includes(query)).slice(0, 30);
    list.replaceChildren(...hits.map((name) => {
      const item = el("li", { class: "suggestion" }, name);
      item.addEventListener("mousedown", (event) => { event.preventDefault(); pick(name); });
      return item;
    }));
    list.hidden = hits.length === 0;
  }
  function pick(name) {
    $("class-search").value = "";
    $("suggestions").hidden = true;
    toggleClass(name, true);
  }

  // ------------------------------------------------------------------ zoom and pan
  function applyView() {
    const { x, y, k } = state.view;
    $("viewport").setAttribute("transform", `translate(${x},${y}) scale(${k})`);
  }
  function svgPoint(event) {
    const root = $("graph"), point = root.createSVGPoint();
    point.x = event.clientX; point.y = event.clientY;
    return point.matrixTransform(root.getScreenCTM().inverse());
  }
  function installZoom() {
    const root = $("graph");
    root.addEventListener("wheel", (event) => {
      event.preventDefault();
      const p = svgPoint(event), factor = Math.exp(-event.deltaY * 0.0015);
      const k = Math.min(40, Math.max(0.2, state.view.k * factor)), ratio = k / state.view.k;
      state.view = { k, x: p.x - (p.x - state.view.x) * ratio, y: p.y - (p.y - state.view.y) * ratio };
      applyView();
    }, { passive: false });
    // While dragging, the drawn picture moves as one composited layer (a CSS translate of
    // the svg element, no repaint of its thousands of shapes); the view's transform takes
    // the move on release.
    let drag = null;
    root.addEventListener("pointerdown", (event) => {
      if (event.target.closest(".glyph")) return;
      drag = { p: svgPoint(event), x: event.clientX, y: event.clientY };
      root.classList.add("panning");
    });
    window.addEventListener("pointermove", (event) => {
      if (!drag) return;
      root.style.transform = `translate(${event.clientX - drag.x}px,${event.clientY - drag.y}px)`;
    });
    window.addEventListener("pointerup", (event) => {
      if (!drag) return;
      root.style.transform = "";
      const p = svgPoint(event);
      state.view = { ...state.view, x: state.view.x + p.x - drag.p.x, y: state.view.y + p.y - drag.p.y };
      applyView();
      drag = null;
      root.classList.remove("panning");
    });
    $("reset-view").addEventListener("click", () => { state.view = { x: 0, y: 0, k: 1 }; applyView(); });
  }

  // ------------------------------------------------------------------ node events
  function glyphTarget(event) {
    const glyph = event.target.closest(".glyph");
    if (!glyph) return null;
    const layer = glyph.getAttribute("data-layer");
    const graph = graphs[entryFor(layer).id];
    return { graph, node: graph.nodes[Number(glyph.getAttribute("data-node"))] };
  }
  function installNodeEvents() {
    const root = $("graph"), tip = $("tooltip");
    root.addEventListener("mouseover", (event) => {
      const hit = glyphTarget(event);
      if (!hit) return;
      tip.textContent = `size ${hit.node.size} · mean lens ${hit.node.lens.toFixed(3)}`;
      tip.hidden = false;
    });
    root.addEventListener("mousemove", (event) => {
      const area = $("graph-area").getBoundingClientRect();
      tip.style.left = `${event.clientX - area.left + 12}px`;
      tip.style.top = `${event.clientY - area.top + 12}px`;
    });
    // Hidden as soon as the pointer leaves a node (for anything but the same glyph).
    root.addEventListener("mouseout", (event) => {
      const from = event.target.closest(".glyph");
      if (from && !(event.relatedTarget && from.contains(event.relatedTarget))) tip.hidden = true;
    });
    root.addEventListener("mouseleave", () => { tip.hidden = true; });
    // A hovered glyph is drawn last, so that its enlarged image is not under its neighbours.
    root.addEventListener("mouseover", (event) => {
      const glyph = event.target.closest(".glyph");
      if (glyph && glyph.parentNode.lastChild !== glyph) glyph.parentNode.appendChild(glyph);
    });
    root.addEventListener("click", (event) => {
      const hit = glyphTarget(event);
      if (!hit) return;
      state.selected = { layer: hit.graph.layer, id: hit.node.id };
      showNode(hit.graph, hit.node);
      if (state.multilayer && state.crosslinks) draw();
      for (const g of root.querySelectorAll(".glyph.selected")) g.classList.remove("selected");
      event.target.closest(".glyph").classList.add("selected");
    });
  }

  // ------------------------------------------------------------------ controls
  function installControls() {
    const redraw = (change) => () => { change(); syncSelectors(); state.selected = null;
      state.feature = null;
      $("node-details").hidden = true; $("node-hint").hidden = false; draw(); };
    $("run-select").addEventListener("change", redraw(() => { state.run = $("run-select").value; }));
    $("sampling-select").addEventListener("change", redraw(() => { state.sampling = $("sampling-select").value; }));
    $("layer-select").addEventListener("change", redraw(() => { state.layer = $("layer-select").value; }));
    $("parameters-select").addEventListener("change", redraw(() => { state.parameters = $("parameters-select").value; }));
    $("colour-select").addEventListener("change", () => { state.colour = $("colour-select").value; draw(); });
    $("glyph-select").addEventListener("change", () => { state.glyph = $("glyph-select").value; draw(); });
    $("jaccard-slider").addEventListener("input", () => {
      state.jaccard = Number($("jaccard-slider").value);
      $("jaccard-value").textContent = state.jaccard.toFixed(2);
      draw();
    });
    $("multilayer-toggle").addEventListener("change", () => {
      state.multilayer = $("multilayer-toggle").checked; state.view = { x: 0, y: 0, k: 1 }; draw(); });
    $("crosslinks-toggle").addEventListener("change", () => {
      state.crosslinks = $("crosslinks-toggle").checked; draw(); });
    $("crosslinks-min").addEventListener("change", () => {
      state.minShared = Math.max(1, Number($("crosslinks-min").value) || 1); draw(); });
    $("crosslinks-selected").addEventListener("change", () => {
      state.selectedLinksOnly = $("crosslinks-selected").checked; draw(); });
    $("crosslinks-jaccard").addEventListener("change", () => {
      const text = $("crosslinks-jaccard").value.trim();
      state.linkJaccard = text === "" || Number.isNaN(Number(text)) ? null : Number(text);
      draw(); });
    $("align-toggle").addEventListener("change", () => {
      state.align = $("align-toggle").checked; draw(); });
    $("class-search").addEventListener("input", suggest);
    $("class-search").addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      const first = $("suggestions").querySelector("li");
      if (first) pick(first.textContent);
    });
    $("class-search").addEventListener("blur", () => { $("suggestions").hidden = true; });
    $("directory-button").addEventListener("click", () => {
      $("directory-panel").hidden = !$("directory-panel").hidden; });
  }

  // A graph built by `topoact serve` (live.js): shown as a run of its own, replaced by
  // the next one.
  function addGraph(payload) {
    const id = "live";
    graphs[id] = payload;
    manifest.graphs = manifest.graphs.filter((g) => g.id !== id);
    manifest.graphs.push({ id, file: null, run: payload.run, dataset: payload.dataset,
      model: payload.model, seed: payload.seed, sampling: payload.sampling,
      layer: payload.layer, parameters: payload.parameters, nodes: payload.nodes.length,
      has_images: false });
    const layers = (manifest.layers[payload.model] = manifest.layers[payload.model] || []);
    if (!layers.includes(payload.layer)) layers.push(payload.layer);
    Object.assign(state, { run: payload.run, sampling: payload.sampling, layer: payload.layer,
      parameters: payload.parameters, multilayer: false, selected: null, feature: null });
    $("multilayer-toggle").checked = false;
    $("node-details").hidden = true;
    $("node-hint").hidden = false;
    syncSelectors();
    return draw();
  }

  function start() {
    const empty = !manifest || !manifest.graphs.length;
    if (empty && !window.TOPOACT_LIVE) {
      document.body.textContent = "No graphs: data/manifest.js is missing or empty.";
      return;
    }
    document.title = manifest.title;
    $("title").textContent = manifest.title;
    if (empty) {  // served without a built explorer: the live panel brings the graphs
      installControls();
      installZoom();
      installNodeEvents();
      return;
    }
    syncSelectors();
    if (!manifest.graphs.some((g) => g.has_images)) {
      $("glyph-select").querySelector("option[value=image]").disabled = true;
    }
    installControls();
    installZoom();
    installNodeEvents();
    draw();
  }
  // For tests and scripting: the state and a redraw.
  window.explorer = { state, draw, graphs, syncSelectors, addGraph };
  start();
})();
