// mini-deploy dashboard: renders the daemon's /events stream and sends the
// page's actions to the same API routes the CLI calls, under /k/.
"use strict";

const ACTION_HEADER = "X-Mini-Deploy-Dashboard";
const WINDOW_MS = 5 * 60 * 1000;
const PALETTE = 6;

let state = null;        // the last State
let points = [];         // traffic Points, oldest first
let clockSkew = 0;       // daemon time minus page time, ms

const $ = (sel, root = document) => root.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const nsOf = (o) => (o.metadata && o.metadata.namespace) || "default";
const keyOf = (o) => nsOf(o) + "/" + o.metadata.name;
const replicas = (n) => (n === undefined || n === null ? 1 : n);

// ---- theme ----
const THEMES = ["auto", "dark", "light"];
function applyTheme(t) {
  if (t === "auto") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.setAttribute("data-theme", t);
  $("#theme").textContent = "theme: " + t;
}
$("#theme").addEventListener("click", () => {
  const cur = localStorage.getItem("theme") || "auto";
  const next = THEMES[(THEMES.indexOf(cur) + 1) % THEMES.length];
  localStorage.setItem("theme", next);
  applyTheme(next);
});
applyTheme(localStorage.getItem("theme") || "auto");

// ---- time ----
function now() { return Date.now() + clockSkew; }
function age(ts) {
  if (!ts) return "";
  let s = Math.max(0, Math.floor((now() - Date.parse(ts)) / 1000));
  if (s < 120) return s + "s";
  const m = Math.floor(s / 60);
  if (m < 10) return m + "m" + (s % 60) + "s";
  if (m < 180) return m + "m";
  const h = Math.floor(m / 60);
  return h < 48 ? h + "h" + (m % 60 ? (m % 60) + "m" : "") : Math.floor(h / 24) + "d";
}
setInterval(() => {
  document.querySelectorAll("[data-since]").forEach((el) => { el.textContent = age(el.dataset.since); });
  $("#clock").textContent = new Date(now()).toLocaleTimeString();
}, 1000);

// ---- revisions: one name and colour for a revision wherever it shows ----
// A revision is a ReplicaSet's pod-template-hash or a ReplicationController's
// name, exactly as the proxy labels its requests.
function revisions() {
  const out = {};
  // A ReplicaSet keeps its colour for life, so v1 stays v1's colour after an
  // undo makes it "rev 3": colours go by creation order.
  const byAge = [...state.replicaSets].sort((a, b) => Date.parse(a.metadata.creationTimestamp) - Date.parse(b.metadata.creationTimestamp) || a.metadata.name.localeCompare(b.metadata.name));
  for (const [i, rs] of byAge.entries()) {
    const hash = (rs.metadata.labels || {})["pod-template-hash"];
    if (!hash) continue;
    const ann = rs.metadata.annotations || {};
    const n = parseInt(ann["deployment.kubernetes.io/revision"] || "0", 10);
    out[hash] = { key: hash, number: n, label: n ? "rev " + n : rs.metadata.name, image: imageOf(rs.spec.template), owner: rs.metadata.name, color: i % PALETTE };
  }
  for (const rc of state.replicationControllers) {
    const name = rc.metadata.name;
    out[name] = { key: name, number: 0, label: name, image: imageOf(rc.spec.template), owner: name, color: hashColor(name) };
  }
  return out;
}
function hashColor(s) { let h = 0; for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0; return h % PALETTE; }
function imageOf(t) { return (((t || {}).spec || {}).containers || []).map((c) => c.image).join(", "); }
function shortImage(img) { return (img || "").replace(/^.*\//, ""); }
function podRevision(p) {
  const l = p.metadata.labels || {};
  if (l["pod-template-hash"]) return l["pod-template-hash"];
  const ref = (p.metadata.ownerReferences || []).find((r) => r.controller) || (p.metadata.ownerReferences || [])[0];
  return ref ? ref.name : "";
}
function revChip(rev, revs) {
  const r = revs[rev];
  if (!r) return rev ? `<span class="mono">${esc(rev)}</span>` : "";
  return `<span class="rev" style="background:var(--s${r.color})" title="${esc(r.owner + " · " + r.image)}">${esc(r.label)}</span>`;
}

// ---- rendering ----
function condChips(conds) {
  return (conds || []).map((c) => `<span class="chip ${c.status === "True" ? "true" : "false"}" title="${esc(c.message || "")}">${esc(c.type)}${c.reason ? ": " + esc(c.reason) : ""}</span>`).join("");
}
function bar(have, want, max) {
  max = Math.max(max, 1);
  return `<div class="bar" title="${have} ready of ${want}"><i class="want" style="width:${(100 * want) / max}%"></i><i style="width:${(100 * have) / max}%"></i></div>`;
}
function button(label, action, target, cls = "ghost", extra = "") {
  return `<button type="button" class="${cls} small" data-action="${action}" data-target="${esc(target)}" ${extra}>${esc(label)}</button>`;
}

function renderWorkloads(revs) {
  const html = [];
  for (const d of state.deployments) {
    const k = keyOf(d), st = d.status || {}, want = replicas(d.spec.replicas);
    const rollout = state.rollouts[k] || {};
    const owned = state.replicaSets.filter((rs) => (rs.metadata.ownerReferences || []).some((r) => r.uid === d.metadata.uid));
    owned.sort((a, b) => revNum(b) - revNum(a));
    const max = Math.max(want, ...owned.map((rs) => Math.max(replicas(rs.spec.replicas), (rs.status || {}).replicas || 0)));
    const rsRows = owned.map((rs) => {
      const s = rs.status || {}, hash = (rs.metadata.labels || {})["pod-template-hash"], n = replicas(rs.spec.replicas);
      const cls = ["rs", rs.metadata.name === rollout.newReplicaSet ? "new" : "", n === 0 && !s.replicas ? "empty" : ""].join(" ");
      return `<div class="${cls}" data-rs="${esc(rs.metadata.name)}" data-revision="${esc(revNum(rs))}" data-image="${esc(imageOf(rs.spec.template))}" data-replicas="${n}" data-current="${s.replicas || 0}" data-ready="${s.readyReplicas || 0}">
        <span class="rs-name mono">${esc(rs.metadata.name)}</span><span>${revChip(hash, revs)} <span class="muted mono">${esc(shortImage(imageOf(rs.spec.template)))}</span></span>
        <span class="mono muted">${s.readyReplicas || 0}/${s.replicas || 0} ready · want ${n}</span>${bar(s.readyReplicas || 0, n, max)}</div>`;
    }).join("");
    const paused = !!d.spec.paused;
    html.push(`<article class="card" data-deployment="${esc(d.metadata.name)}" data-namespace="${esc(nsOf(d))}" data-paused="${paused}">
      <div class="card-head"><span class="kind">Deployment</span><h3>${esc(d.metadata.name)}</h3>
        <span class="muted">${esc(nsOf(d))}</span><span class="mono muted">${esc(imageOf(d.spec.template))}</span>${paused ? '<span class="chip false">paused</span>' : ""}</div>
      <div class="counts">
        <span class="count"><b>${want}</b><span>desired</span></span>
        <span class="count"><b>${st.replicas || 0}</b><span>current</span></span>
        <span class="count"><b>${st.updatedReplicas || 0}</b><span>up-to-date</span></span>
        <span class="count"><b data-ready>${st.readyReplicas || 0}</b><span>ready</span></span>
        <span class="count"><b>${st.availableReplicas || 0}</b><span>available</span></span>
      </div>
      <div class="chips">${condChips(st.conditions)}</div>
      ${renderSteps(rollout)}
      <div class="rss">${rsRows}</div>
      <div class="actions">
        ${button("Scale", "scale", "deployments/" + k)}
        ${button("Set image", "image", "deployments/" + k)}
        ${button("Rollout undo", "undo", "deployments/" + k, "danger")}
        ${paused ? button("Resume", "resume", "deployments/" + k) : button("Pause", "pause", "deployments/" + k)}
        ${button("Restart", "restart", "deployments/" + k, "danger")}
      </div></article>`);
  }
  for (const [kind, list] of [["replicationcontrollers", state.replicationControllers], ["replicasets", state.replicaSets.filter((rs) => !(rs.metadata.ownerReferences || []).length)]]) {
    for (const c of list) {
      const s = c.status || {}, n = replicas(c.spec.replicas), k = keyOf(c);
      html.push(`<article class="card" data-controller="${esc(c.metadata.name)}">
        <div class="card-head"><span class="kind">${kind === "replicasets" ? "ReplicaSet" : "ReplicationController"}</span><h3>${esc(c.metadata.name)}</h3>
          <span class="muted">${esc(nsOf(c))}</span><span class="mono muted">${esc(imageOf(c.spec.template))}</span></div>
        <div class="counts"><span class="count"><b>${n}</b><span>desired</span></span><span class="count"><b>${s.replicas || 0}</b><span>current</span></span>
          <span class="count"><b>${s.readyReplicas || 0}</b><span>ready</span></span></div>
        ${bar(s.readyReplicas || 0, n, Math.max(n, s.replicas || 0))}
        <div class="chips">${condChips(s.conditions)}</div>
        <div class="actions">${button("Scale", "scale", kind + "/" + k)}${button("Set image", "image", kind + "/" + k)}</div></article>`);
    }
  }
  $("#workloads").innerHTML = html.join("") || '<p class="muted">Nothing deployed yet: <code>mini-deploy up -f examples/kubia/</code></p>';
}
function revNum(rs) { return parseInt(((rs.metadata.annotations || {})["deployment.kubernetes.io/revision"]) || "0", 10); }

function renderSteps(r) {
  if (!r || !r.steps || !r.steps.length) return r && !r.done && r.message ? `<div class="steps">${esc(r.message)}</div>` : "";
  const total = r.steps.length, done = Math.min(r.stepsDone || 0, total);
  const items = r.steps.map((s, i) => `<li class="${i < done ? "done" : i === done && !r.done ? "current" : ""}">${esc(s.action)} <span class="muted">(old ${s.old}, new ${s.new}, available ${s.available})</span></li>`).join("");
  const title = r.done ? `Last rollout: complete, ${total} step${total === 1 ? "" : "s"}` : `Rollout in progress: step ${Math.min(done + 1, total)} of ${total}`;
  return `<div class="steps" data-rollout="${r.done ? "done" : "progress"}" data-steps="${total}" data-steps-done="${done}">
    <b>${esc(title)}</b><div class="muted">${esc(r.message)}</div>
    <div class="progress"><i style="width:${(100 * done) / total}%"></i></div>
    ${r.done ? "" : `<ol>${items}</ol>`}</div>`;
}

function selects(sel, labels) {
  if (!sel) return false;
  return Object.entries(sel).every(([k, v]) => (labels || {})[k] === v);
}

function renderServices(revs) {
  const html = [];
  for (const svc of state.services) {
    const k = keyOf(svc), name = svc.metadata.name;
    const ep = state.endpoints.find((e) => keyOf(e) === k) || {};
    const ready = [], notReady = [];
    for (const sub of ep.subsets || []) {
      for (const a of sub.addresses || []) ready.push(a);
      for (const a of sub.notReadyAddresses || []) notReady.push(a);
    }
    const draining = state.pods.filter((p) => p.metadata.deletionTimestamp && selects(svc.spec.selector, p.metadata.labels));
    const chips = [
      ...ready.map((a) => `<span class="chip true" data-endpoint="ready">${esc((a.targetRef || {}).name || a.ip)}</span>`),
      ...notReady.map((a) => `<span class="chip notready" data-endpoint="not-ready">${esc((a.targetRef || {}).name || a.ip)} not ready</span>`),
      ...draining.map((p) => `<span class="chip draining" data-endpoint="draining">${esc(p.metadata.name)} draining</span>`),
    ].join("") || '<span class="muted">no endpoints</span>';
    const urls = (state.urls[k] || []).map((u) => `<a class="url" href="${esc(u)}" target="_blank" rel="noopener">${esc(u)}</a>`).join(" ");
    const sel = Object.entries(svc.spec.selector || {}).map(([a, b]) => a + "=" + b).join(",");
    html.push(`<article class="card" data-service="${esc(name)}" data-namespace="${esc(nsOf(svc))}">
      <div class="card-head"><span class="kind">Service</span><h3>${esc(name)}</h3><span class="muted">${esc(svc.spec.type || "ClusterIP")}</span>
        <span class="mono muted">selector ${esc(sel)}</span></div>
      <div>${urls}</div>
      <div class="chips">${chips}</div>
      ${chart(name, revs)}</article>`);
  }
  $("#services").innerHTML = html.join("") || '<p class="muted">No Services.</p>';
}

// chart draws a Service's requests per second by revision over the window,
// and its failed requests as a red dashed line, in SVG.
function chart(service, revs) {
  const W = 600, H = 170, L = 34, R = 8, T = 8, B = 18;
  // The window grows with the history, from one minute to five, so that the
  // first seconds of traffic are not a sliver at the right edge.
  const t1 = points.length ? points[points.length - 1].t : now();
  const span = Math.min(WINDOW_MS, Math.max(60000, Math.ceil((t1 - (points.length ? points[0].t : t1)) / 30000) * 30000));
  const t0 = t1 - span;
  const prefix = service + "/";
  const shown = points.filter((p) => p.t >= t0);
  const keys = new Set();
  for (const p of shown) for (const k of Object.keys(p.s)) if (k.startsWith(prefix) && k.length > prefix.length) keys.add(k.slice(prefix.length));
  let max = 1;
  for (const p of shown) {
    let err = 0;
    for (const [k, v] of Object.entries(p.s)) if (k.startsWith(prefix)) { max = Math.max(max, v[0]); err += v[1]; }
    max = Math.max(max, err);
  }
  max = niceMax(max * 1.1);
  const x = (t) => L + ((t - t0) / span) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const grid = [0, 0.5, 1].map((f) => `<line class="grid-line" x1="${L}" x2="${W - R}" y1="${y(max * f)}" y2="${y(max * f)}"/><text x="${L - 4}" y="${y(max * f) + 3}" text-anchor="end">${fmt(max * f)}</text>`).join("")
    + [4, 3, 2, 1, 0].map((i) => {
      const ago = (span * i) / 4, secs = Math.round(ago / 1000);
      const label = !i ? "now" : secs >= 120 ? "-" + Math.floor(secs / 60) + "m" + (secs % 60 ? (secs % 60) + "s" : "") : "-" + secs + "s";
      return `<text x="${x(t1 - ago)}" y="${H - 4}" text-anchor="${i === 4 ? "start" : i ? "middle" : "end"}">${label}</text>`;
    }).join("");
  const line = (val) => shown.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(val(p)).toFixed(1)}`).join("");
  const order = [...keys].sort((a, b) => ((revs[a] || {}).number || 0) - ((revs[b] || {}).number || 0) || a.localeCompare(b));
  const last = shown[shown.length - 1];
  let paths = "", legend = "";
  for (const rev of order) {
    const info = revs[rev] || { label: rev, image: "", color: hashColor(rev) };
    const val = (p) => (p.s[prefix + rev] || [0, 0])[0];
    paths += `<path class="series" style="stroke:var(--s${info.color})" d="${line(val)}"/>`;
    const nowRate = last ? val(last) : 0;
    legend += `<span data-series="${esc(rev)}" data-label="${esc(info.label)}" data-image="${esc(info.image)}" data-rps="${nowRate}"><i class="sw" style="background:var(--s${info.color})"></i>${esc(info.label)} <span class="muted mono">${esc(shortImage(info.image))}</span><span class="rate">${fmt(nowRate)}/s</span></span>`;
  }
  const errAt = (p) => Object.entries(p.s).reduce((sum, [k, v]) => (k.startsWith(prefix) ? sum + v[1] : sum), 0);
  const errTotal = Math.round(shown.reduce((sum, p) => sum + errAt(p), 0));
  const errNow = last ? errAt(last) : 0;
  paths += shown.length ? `<path class="series err" d="${line(errAt)}"/>` : "";
  legend += `<span class="errors-item ${errTotal ? "" : "zero"}" data-errors-now="${errNow}" data-errors-total="${errTotal}"><i class="sw"></i>failed ${fmt(errNow)}/s <span class="muted">(${errTotal} in ${span > 60000 ? fmt(span / 60000) + " min" : "1 min"})</span></span>`;
  const empty = shown.length ? "" : `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no traffic yet</text>`;
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="requests per second by revision">${grid}${paths}${empty}</svg>
    <div class="legend" data-chart="${esc(service)}">${legend}</div>`;
}
function niceMax(v) { const p = Math.pow(10, Math.floor(Math.log10(v))); for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p; return v; }
function fmt(v) { return v >= 100 ? Math.round(v).toString() : (Math.round(v * 10) / 10).toString(); }

function podStatus(p) {
  if (p.metadata.deletionTimestamp) return "Terminating";
  const cs = ((p.status || {}).containerStatuses || [])[0];
  if (cs && cs.state) {
    if (cs.state.waiting && cs.state.waiting.reason) return cs.state.waiting.reason;
    if (cs.state.terminated) return cs.state.terminated.reason || "Terminated";
  }
  return (p.status || {}).phase || "Unknown";
}

function renderPods(revs) {
  const pods = [...state.pods].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const rows = pods.map((p) => {
    const cs = ((p.status || {}).containerStatuses || []);
    const ready = cs.filter((c) => c.ready).length, restarts = cs.reduce((s, c) => s + (c.restartCount || 0), 0);
    const status = podStatus(p), rev = podRevision(p);
    const ports = state.services.filter((s) => nsOf(s) === nsOf(p) && selects(s.spec.selector, p.metadata.labels))
      .flatMap((s) => (s.spec.ports || []).map((pt) => pt.nodePort)).filter(Boolean).join(", ");
    const cls = status === "Terminating" ? "terminating" : status === "CrashLoopBackOff" || status === "Error" ? "crash" : ready < cs.length || !cs.length ? "notready" : "running";
    return `<tr class="${cls}" data-pod="${esc(p.metadata.name)}" data-status="${esc(status)}" data-revision="${esc(rev)}">
      <td class="name">${esc(p.metadata.name)}</td><td>${ready}/${cs.length || 1}</td><td class="status"${status === "Terminating" ? ' title="out of its Services\' endpoints, draining its requests, then stopped"' : ""}>${esc(status)}</td>
      <td>${restarts}</td><td data-since="${esc(p.metadata.creationTimestamp)}">${age(p.metadata.creationTimestamp)}</td>
      <td>${revChip(rev, revs)}</td><td class="mono">${esc(ports)}</td>
      <td>${status === "Terminating" ? "" : button("Delete", "delete-pod", "pods/" + keyOf(p), "danger")}</td></tr>`;
  }).join("");
  $("#pods tbody").innerHTML = rows || '<tr><td colspan="8" class="muted">No pods.</td></tr>';
  $("#pod-count").textContent = pods.length ? String(pods.length) : "";
}

function renderEvents() {
  $("#events").innerHTML = state.events.map((e) => {
    const o = e.involvedObject || {};
    return `<li class="${esc(e.type)}"><span class="muted" data-since="${esc(e.lastTimestamp)}">${age(e.lastTimestamp)}</span>
      <span class="reason">${esc(e.reason)}</span> <span class="obj">${esc((o.kind || "").toLowerCase())}/${esc(o.name)}</span>
      ${esc(e.message)}${e.count > 1 ? ` <span class="muted">×${e.count}</span>` : ""}</li>`;
  }).join("") || '<li class="muted">No events.</li>';
}

function render() {
  if (!state) return;
  const revs = revisions();
  renderWorkloads(revs);
  renderServices(revs);
  renderPods(revs);
  renderEvents();
  const errs = $("#errors");
  errs.hidden = !(state.errors || []).length;
  errs.textContent = (state.errors || []).join("; ");
}
function renderCharts() {
  if (!state) return;
  const revs = revisions();
  for (const svc of state.services) {
    const card = document.querySelector(`[data-service="${CSS.escape(svc.metadata.name)}"][data-namespace="${CSS.escape(nsOf(svc))}"]`);
    if (!card) continue;
    card.querySelector("svg.chart").remove();
    card.querySelector(".legend").outerHTML = chart(svc.metadata.name, revs);
  }
}

// ---- the stream ----
function connect() {
  const conn = $("#conn");
  const es = new EventSource("/events");
  es.addEventListener("open", () => { conn.dataset.state = "live"; conn.textContent = "live"; });
  es.addEventListener("error", () => { conn.dataset.state = "down"; conn.textContent = "reconnecting…"; });
  es.addEventListener("state", (ev) => {
    state = JSON.parse(ev.data);
    clockSkew = Date.parse(state.time) - Date.now();
    render();
  });
  es.addEventListener("traffic", (ev) => { points = JSON.parse(ev.data) || []; renderCharts(); });
  es.addEventListener("point", (ev) => {
    points.push(JSON.parse(ev.data));
    const t0 = points[points.length - 1].t - WINDOW_MS;
    while (points.length && points[0].t < t0) points.shift();
    renderCharts();
  });
}

// ---- actions: the CLI's own calls ----
async function call(method, path, body) {
  const resp = await fetch("/k" + path, {
    method, headers: { "Content-Type": "application/json", [ACTION_HEADER]: "1" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let data = null;
  try { data = JSON.parse(text); } catch (_) { /* a plain-text answer */ }
  if (!resp.ok) throw new Error((data && data.message) || text || resp.statusText);
  return data;
}

function toast(msg, isError) {
  const el = document.createElement("div");
  el.className = "toast" + (isError ? " error" : "");
  el.textContent = msg;
  $("#toasts").appendChild(el);
  setTimeout(() => el.remove(), isError ? 9000 : 4000);
}

// ask shows the dialog; it resolves to the input's value (or true), or null
// when cancelled.
function ask({ title, text, label, value, ok, danger }) {
  const dlg = $("#dialog");
  $("#dialog-title").textContent = title;
  $("#dialog-text").textContent = text || "";
  $("#dialog-label").hidden = label === undefined;
  $("#dialog-label-text").textContent = label || "";
  const input = $("#dialog-input");
  input.value = value ?? "";
  input.required = label !== undefined;
  const okBtn = $("#dialog-ok");
  okBtn.textContent = ok || "OK";
  okBtn.className = danger ? "danger" : "";
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      if (dlg.returnValue !== "ok") resolve(null);
      else resolve(label === undefined ? true : input.value.trim());
    }, { once: true });
    dlg.returnValue = "";
    dlg.showModal();
    if (label !== undefined) input.select();
  });
}

function find(list, ns, name) { return list.find((o) => nsOf(o) === ns && o.metadata.name === name); }

async function act(action, target) {
  const [resource, ns, name] = target.split("/");
  const base = `/api/v1/namespaces/${encodeURIComponent(ns)}/${resource}/${encodeURIComponent(name)}`;
  const kind = { deployments: "deployment.apps", replicasets: "replicaset.apps", replicationcontrollers: "replicationcontroller", pods: "pod" }[resource];
  const obj = find({ deployments: state.deployments, replicasets: state.replicaSets, replicationcontrollers: state.replicationControllers, pods: state.pods }[resource] || [], ns, name);
  try {
    switch (action) {
      case "scale": {
        const v = await ask({ title: `Scale ${kind}/${name}`, label: "Replicas", value: obj ? replicas(obj.spec.replicas) : 1, ok: "Scale" });
        if (v === null) return;
        const n = parseInt(v, 10);
        if (!(n >= 0) || String(n) !== v) throw new Error(`replicas ${JSON.stringify(v)}: want a whole number, 0 or more`);
        await call("PUT", base + "/scale", { replicas: n });
        toast(`${kind}/${name} scaled`);
        break;
      }
      case "image": {
        const c = obj ? obj.spec.template.spec.containers[0] : { name: "*", image: "" };
        const v = await ask({ title: `Set image of ${kind}/${name}`, text: `Container ${c.name}`, label: "Image", value: c.image, ok: "Set image" });
        if (v === null) return;
        await call("POST", base + "/image", { images: { [c.name]: v } });
        toast(`${kind}/${name} image updated`);
        break;
      }
      case "undo": case "restart": case "pause": case "resume": {
        if (action === "undo" || action === "restart") {
          const text = action === "undo" ? "Roll back to the previous revision. Its pods replace the current ones, one step at a time." : "Replace every pod, one step at a time.";
          if (!(await ask({ title: `Rollout ${action} ${kind}/${name}?`, text, ok: "Rollout " + action, danger: true }))) return;
        }
        const r = await call("POST", `/api/v1/namespaces/${encodeURIComponent(ns)}/deployments/${encodeURIComponent(name)}/rollout`, { action });
        toast((r && r.message) || `${kind}/${name} ${action}`);
        break;
      }
      case "delete-pod": {
        if (!(await ask({ title: `Delete pod ${name}?`, text: "It is drained from its Services first; its controller starts a new one.", ok: "Delete", danger: true }))) return;
        await call("DELETE", base);
        toast(`pod "${name}" deleted`);
        break;
      }
    }
  } catch (err) {
    toast(String(err.message || err), true);
  }
}

document.addEventListener("click", (ev) => {
  const btn = ev.target.closest("button[data-action]");
  if (btn && state) act(btn.dataset.action, btn.dataset.target);
});

connect();
