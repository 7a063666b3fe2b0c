// dfs status page: fetches ui/status.json every 2 s and draws it.
//
// Everything that comes from the cluster is put in the page as text
// (textContent, setAttribute on data-* attributes), never parsed as
// markup: a node called "<script>" shows as that text.
"use strict";

(function () {
  const refreshMs = 2000;
  const timeoutMs = 5000;
  const statusURL = "ui/status.json";
  const knownStates = ["alive", "suspect", "dead", "left"];
  const knownSeverities = ["info", "warning", "critical"];

  let lastGood = null; // Date of the last status drawn

  function $(id) {
    return document.getElementById(id);
  }

  // el makes an element with a class and text.
  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) {
      e.className = className;
    }
    if (text !== undefined && text !== null) {
      e.textContent = String(text);
    }
    return e;
  }

  function bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let i = 0;
    let v = Number(n) || 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + " " + units[i];
  }

  function parseTime(s) {
    if (!s || s.startsWith("0001-01-01")) {
      return null;
    }
    const d = new Date(s);
    return isNaN(d.getTime()) ? null : d;
  }

  function clock(d) {
    return d ? d.toLocaleTimeString([], { hour12: false }) : "never";
  }

  function ago(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) {
      return s + " s ago";
    }
    if (s < 3600) {
      return Math.floor(s / 60) + " min " + (s % 60) + " s ago";
    }
    if (s < 86400) {
      return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
    }
    return Math.floor(s / 86400) + " d ago";
  }

  function drawHealth(st) {
    const h = $("health");
    const healthy = st.health === "healthy";
    h.textContent = healthy ? "healthy" : String(st.health || "unknown").toUpperCase();
    h.className = "health " + (healthy ? "health-ok" : "health-bad");
    const reasons = $("reasons");
    reasons.replaceChildren();
    for (const r of st.reasons || []) {
      reasons.append(el("li", "", r));
    }
  }

  function capacityCell(n) {
    const td = el("td", "capacity");
    if (!n.capacity) {
      td.append(el("span", "muted", n.used ? bytes(n.used) + " used, capacity unknown" : "unknown"));
      return td;
    }
    const pct = Math.min(100, Math.max(0, Number(n.used_percent) || 0));
    const bar = el("div", "bar");
    const fill = el("div", "fill" + (pct >= 90 ? " fill-high" : pct >= 75 ? " fill-mid" : ""));
    fill.style.width = pct.toFixed(1) + "%"; // CSSOM, which the policy allows
    bar.append(fill);
    td.append(bar, el("span", "bar-text", bytes(n.used) + " / " + bytes(n.capacity) + " (" + pct.toFixed(0) + "%)"));
    return td;
  }

  function drawNodes(st, now) {
    const tbody = $("nodes").tBodies[0];
    tbody.replaceChildren();
    for (const n of st.nodes || []) {
      const tr = el("tr");
      tr.setAttribute("data-node", String(n.name));
      const state = knownStates.includes(n.state) ? n.state : "unknown";
      tr.className = "node-" + state;
      const name = el("td", "name", n.name);
      if (n.local) {
        name.append(el("span", "muted", " (this node)"));
      }
      const addr = el("td", "addr", n.addr);
      if (n.http_addr) {
        addr.title = "HTTP " + n.http_addr;
      }
      const seen = parseTime(n.last_seen);
      const seenCell = el("td", "seen", n.local ? "this node" : seen ? ago((now - seen) / 1000) : "never");
      if (seen) {
        seenCell.title = seen.toLocaleString();
      }
      tr.append(
        name,
        el("td", "state state-" + state, n.state),
        el("td", "mode", n.layout && n.layout !== "active" ? n.layout : n.mode),
        addr,
        el("td", "zone", n.zone || "—"),
        capacityCell(n),
        seenCell,
      );
      tbody.append(tr);
    }
  }

  function drawRaft(st) {
    const sec = $("raft-section");
    const r = st.raft;
    if (!r) {
      sec.hidden = true;
      return;
    }
    const parts = [
      "leader " + (r.leader || "none"),
      "term " + r.term,
      "voters " + ((r.voters || []).join(", ") || "none"),
    ];
    if (r.nonvoters && r.nonvoters.length) {
      parts.push("non-voters " + r.nonvoters.join(", "));
    }
    parts.push("layout version " + r.layout_version, r.replicas + " replicas per chunk");
    parts.push("this node: " + r.state + ", commit " + r.commit_index + ", applied " + r.applied_index);
    const h = st.replication && st.replication.total;
    if (h) {
      parts.push("chunks: " + h.replicated + " replicated, " + h.under_replicated + " under-replicated, " +
        h.missing + " missing, " + h.to_move + " to move");
    }
    const p = $("raft");
    p.textContent = parts.join(" · ");
    p.className = r.leader ? "" : "bad";
    sec.hidden = false;
  }

  function drawAlerts(st) {
    const list = st.alerts || [];
    const table = $("alerts");
    const tbody = table.tBodies[0];
    tbody.replaceChildren();
    for (const a of list) {
      const tr = el("tr");
      tr.setAttribute("data-alert", String(a.kind) + "/" + String(a.node || ""));
      const sev = knownSeverities.includes(a.severity) ? a.severity : "unknown";
      const details = Object.keys(a.details || {})
        .sort()
        .map((k) => k + "=" + a.details[k])
        .join(" ");
      tr.append(
        el("td", "time", clock(parseTime(a.time))),
        el("td", "severity severity-" + sev, a.severity),
        el("td", "kind", a.kind),
        el("td", "node", a.node || "—"),
        el("td", "details", details),
      );
      tbody.append(tr);
    }
    table.hidden = list.length === 0;
    $("no-alerts").hidden = list.length !== 0;
  }

  function draw(st) {
    const now = parseTime(st.time) || new Date();
    $("cluster").textContent = st.cluster || "dfs";
    $("self").textContent = st.self || "this node";
    document.title = (st.health === "healthy" ? "" : "DEGRADED · ") + (st.cluster || "dfs") + " status";
    $("version").textContent = st.version ? "dfsd " + st.version : "";
    drawHealth(st);
    drawNodes(st, now);
    drawRaft(st);
    drawAlerts(st);
  }

  function showProblem(text) {
    const c = $("conn");
    c.textContent = text + (lastGood ? " (showing the status of " + clock(lastGood) + ")" : "");
    c.hidden = false;
    document.body.classList.add("stale");
  }

  // refresh fetches the status once; it returns whether to go on.
  async function refresh() {
    let resp;
    try {
      resp = await fetch(statusURL, {
        cache: "no-store",
        credentials: "same-origin",
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      showProblem("cannot reach dfsd: " + (e && e.message ? e.message : e));
      return true;
    }
    if (resp.status === 403) {
      // Polling cannot fix this: stop, and say what to do.
      const why = (await resp.text().catch(() => "")).split("\n")[0];
      showProblem("access refused: " + why + " — stopped refreshing; reload the page with ?token=TOKEN");
      return false;
    }
    if (!resp.ok) {
      const why = (await resp.text().catch(() => "")).split("\n")[0];
      showProblem("cannot reach dfsd: HTTP " + resp.status + (why ? ": " + why : ""));
      return true;
    }
    let st;
    try {
      st = await resp.json();
    } catch (e) {
      showProblem("cannot reach dfsd: bad answer: " + (e && e.message ? e.message : e));
      return true;
    }
    draw(st);
    lastGood = new Date();
    $("refreshed").textContent = "refreshed at " + clock(lastGood);
    $("conn").hidden = true;
    document.body.classList.remove("stale");
    return true;
  }

  async function loop() {
    if (await refresh()) {
      setTimeout(loop, refreshMs);
    }
  }

  // The token, once it has set its cookie, leaves the address bar and
  // the history.
  function forgetToken() {
    const u = new URL(window.location.href);
    if (u.searchParams.has("token")) {
      u.searchParams.delete("token");
      history.replaceState(null, "", u.pathname + u.search + u.hash);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    forgetToken();
    loop();
  });
})();
