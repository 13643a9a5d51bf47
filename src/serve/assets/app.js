// eqlc preview: sends the editor's text to /api/translate and the events to /api/eval as the
// author types (debounced), and shows the answers. No dependencies, no network beyond this
// server.
"use strict";

(() => {
  const DEBOUNCE_MS = 250;
  const STORE_KEY = "eqlc-preview-v1";

  const $ = (id) => document.getElementById(id);
  const source = $("source");
  const backdrop = $("backdrop");
  const gutter = $("gutter");
  const diagnosticsList = $("diagnostics");
  const eventsInput = $("events");
  const fieldInputs = {
    timestamp_field: $("timestamp-field"),
    category_field: $("category-field"),
    tiebreaker_field: $("tiebreaker-field"),
  };
  const out = {
    eql: $("out-eql"),
    dsl: $("out-dsl"),
    sigma: $("out-sigma"),
    evaluator: $("out-eval"),
  };

  const FORMATS = {
    toml: "TOML rule",
    markdown: "Markdown page",
    asciidoc: "asciidoc page",
    flattext: "text page",
    eql: "EQL query",
  };

  // The diagnostics of the last translation, and the text they point into: spans are only
  // drawn while the editor still holds exactly that text.
  let diagnostics = [];
  let diagnosedText = "";

  // ---- small helpers -------------------------------------------------------------------

  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    })[c]);
  }

  function debounce(fn, ms) {
    let timer = 0;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Each endpoint has one request in flight at most: a newer one aborts the older, and an
  // answer that arrives after a newer request was sent is ignored.
  function latestOnly() {
    let controller = null;
    let sequence = 0;
    return {
      start() {
        if (controller) controller.abort();
        controller = new AbortController();
        return { signal: controller.signal, id: ++sequence };
      },
      current(id) {
        return id === sequence;
      },
    };
  }

  async function postJson(path, body, signal) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal,
    });
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const why = data && data.error ? data.error : `HTTP ${response.status}`;
      throw new Error(why);
    }
    return data;
  }

  // ---- syntax colouring of the outputs ---------------------------------------------------

  function tokens(text, pattern, classify) {
    let html = "";
    let at = 0;
    for (const m of text.matchAll(pattern)) {
      html += escapeHtml(text.slice(at, m.index));
      const cls = classify(m);
      html += cls ? `<span class="${cls}">${escapeHtml(m[0])}</span>` : escapeHtml(m[0]);
      at = m.index + m[0].length;
    }
    return html + escapeHtml(text.slice(at));
  }

  const JSON_TOKENS = /"(?:\\.|[^"\\])*"(?=\s*:)|"(?:\\.|[^"\\])*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\b(?:true|false|null)\b/g;
  function colourJson(text) {
    return tokens(text, JSON_TOKENS, (m) => {
      const t = m[0];
      if (t[0] === '"') {
        const rest = text.slice(m.index + t.length);
        return /^\s*:/.test(rest) ? "tok-key" : "tok-str";
      }
      return /^[-\d]/.test(t) ? "tok-num" : "tok-kw";
    });
  }

  const EQL_TOKENS = /\/\/[^\n]*|\/\*[\s\S]*?\*\/|"""[\s\S]*?"""|"(?:\\.|[^"\\])*"|\b\d+(?:\.\d+)?[a-z]*\b|\b(?:sequence|sample|by|with|maxspan|runs|until|where|and|or|not|in|like|regex|true|false|null|any|of|head|tail)\b/g;
  function colourEql(text) {
    return tokens(text, EQL_TOKENS, (m) => {
      const t = m[0];
      if (t.startsWith("//") || t.startsWith("/*")) return "tok-com";
      if (t[0] === '"') return "tok-str";
      if (/^\d/.test(t)) return "tok-num";
      return "tok-kw";
    });
  }

  const YAML_TOKENS = /^(\s*(?:- )?)([^\s:#'"][^:#\n]*?)(?=:(?:\s|$))|#[^\n]*$|'(?:[^']|'')*'|"(?:\\.|[^"\\])*"/gm;
  function colourYaml(text) {
    let html = "";
    let at = 0;
    for (const m of text.matchAll(YAML_TOKENS)) {
      html += escapeHtml(text.slice(at, m.index));
      if (m[2] !== undefined) {
        html += escapeHtml(m[1]) + `<span class="tok-key">${escapeHtml(m[2])}</span>`;
      } else if (m[0][0] === "#") {
        html += `<span class="tok-com">${escapeHtml(m[0])}</span>`;
      } else {
        html += `<span class="tok-str">${escapeHtml(m[0])}</span>`;
      }
      at = m.index + m[0].length;
    }
    return html + escapeHtml(text.slice(at));
  }

  // ---- the editor: line numbers and diagnostic spans --------------------------------------

  function drawEditor() {
    const text = source.value;
    const current = text === diagnosedText ? diagnostics : [];
    const placed = current
      .filter((d) => d.start !== undefined && d.start !== null)
      .sort((a, b) => a.start - b.start || b.end - a.end);

    // Spans as <mark>s behind the transparent textarea, characters escaped so the two lay
    // out identically.
    let html = "";
    let at = 0;
    for (const d of placed) {
      const start = Math.max(d.start, at);
      if (start > text.length) continue;
      let end = Math.min(Math.max(d.end, start), text.length);
      html += escapeHtml(text.slice(at, start));
      const cls = d.severity === "warning" ? "warning" : "error";
      if (start === text.length || text[start] === "\n") {
        // Nothing to underline (the error is at a line's end): a marked space shows where.
        html += `<mark class="${cls}" data-line="${d.line}"> </mark>`;
        at = start;
        continue;
      }
      if (end === start) end = start + 1;
      html += `<mark class="${cls}" data-line="${d.line}">${escapeHtml(text.slice(start, end))}</mark>`;
      at = end;
    }
    html += escapeHtml(text.slice(at)) + "\n";
    backdrop.innerHTML = html;

    const worst = new Map();
    for (const d of current) {
      if (!d.line) continue;
      for (let line = d.line; line <= Math.max(d.line, d.end_line || d.line); line++) {
        if (worst.get(line) !== "error") worst.set(line, d.severity);
      }
    }
    const count = text.split("\n").length;
    const lines = [];
    for (let i = 1; i <= count; i++) {
      const severity = worst.get(i);
      lines.push(severity ? `<div class="${severity}">${i}</div>` : `<div>${i}</div>`);
    }
    // Room to scroll as far as the textarea, whose scrollbars the gutter lacks.
    lines.push('<div class="pad">&nbsp;</div><div class="pad">&nbsp;</div>');
    gutter.innerHTML = lines.join("");
    syncScroll();
  }

  function syncScroll() {
    backdrop.scrollTop = source.scrollTop;
    backdrop.scrollLeft = source.scrollLeft;
    gutter.scrollTop = source.scrollTop;
  }

  function showDiagnostics() {
    diagnosticsList.replaceChildren();
    for (const d of diagnostics) {
      const li = el("li", d.severity);
      li.dataset.line = d.line || "";
      li.dataset.severity = d.severity;
      li.append(
        el("span", "loc", d.line ? `${d.line}:${d.column}` : "—"),
        el("span", "sev", d.severity),
        el("span", "msg", d.message + (d.label ? ` (${d.label})` : "")),
      );
      if (d.notes && d.notes.length) li.append(el("span", "notes", d.notes.join("\n")));
      li.title = "Show in the editor";
      li.addEventListener("click", () => reveal(d));
      diagnosticsList.append(li);
    }
  }

  function reveal(d) {
    if (d.start === undefined || source.value !== diagnosedText) return;
    source.focus();
    source.setSelectionRange(d.start, Math.max(d.end, d.start + 1));
    const lineHeight = parseFloat(getComputedStyle(source).lineHeight) || 20;
    source.scrollTop = Math.max(0, (d.line - 3) * lineHeight);
    syncScroll();
  }

  // ---- the translation panes ------------------------------------------------------------

  function setPane(node, pane, colour) {
    node.dataset.state = pane.status;
    if (pane.status === "ok") {
      node.innerHTML = colour(pane.text);
      return;
    }
    let text = pane.message || "";
    // Say why right where the author looks for the output.
    const first = diagnostics.find((d) => d.severity === "error");
    if (pane.status === "unavailable" && first) {
      const where = first.line ? `${first.line}:${first.column}: ` : "";
      text += `\n\n${where}${first.message}`;
    }
    node.textContent = text;
  }

  function setStatus(text, cls) {
    const badge = $("status");
    badge.textContent = text;
    badge.className = `badge ${cls || ""}`;
  }

  function describeEvaluator(view) {
    const node = out.evaluator;
    node.replaceChildren();
    node.dataset.state = view.evaluable ? "ok" : (view.kind ? "error" : "unavailable");
    const summary = el("p", "summary");
    if (!view.evaluable) {
      summary.append(el("b", "error", "not evaluable"), ` — ${view.reason || ""}`);
      node.append(summary);
      return;
    }
    const parts = [`${view.kind} rule`];
    if (view.maxspan) parts.push(`maxspan ${view.maxspan}`);
    if (view.head !== undefined) parts.push(`head ${view.head}`);
    if (view.tail !== undefined) parts.push(`tail ${view.tail}`);
    const conditions = view.units.length === 1 ? "1 condition" : `${view.units.length} conditions`;
    parts.push(`${conditions} tested per event`);
    summary.append(el("b", "ok", "evaluable"), ` — ${parts.join(" · ")}`);
    summary.dataset.kind = view.kind;
    node.append(summary);
    for (const unit of view.units) {
      const box = el("div", "unit");
      const title = el("h3");
      title.append(`${unit.role} · `, el("span", "cat", unit.category));
      if (unit.missing) title.append(" · missing event");
      if (unit.runs > 1) title.append(` · runs=${unit.runs}`);
      box.append(title);
      const dl = el("dl");
      const row = (term, value) => {
        const dd = el("dd");
        if (value instanceof Node) dd.append(value);
        else dd.textContent = value;
        dl.append(el("dt", "", term), dd);
      };
      row("matchers", el("pre", "", unit.matcher));
      row("reads", unit.fields.length ? unit.fields.join(", ") : "no fields");
      if (unit.keys.length) row("join keys", unit.keys.join(", "));
      const prefilter = unit.prefilter.length
        ? unit.prefilter
            .map((clause) => clause.map((n) => `"${n}"`).join(" or "))
            .map((clause) => (unit.prefilter.length > 1 ? `(${clause})` : clause))
            .join(" and ")
        : "none: tested on every event";
      row("prefilter", prefilter);
      box.append(dl);
      node.append(box);
    }
  }

  function clearOutputs(message) {
    for (const key of ["eql", "dsl", "sigma", "evaluator"]) {
      out[key].dataset.state = "empty";
      out[key].textContent = "";
    }
    diagnostics = [];
    diagnosedText = "";
    showDiagnostics();
    drawEditor();
    $("format").textContent = "";
    $("rule-name").textContent = "";
    setStatus(message, "");
  }

  function showTranslation(data, text) {
    $("format").textContent = FORMATS[data.format] || data.format;
    const rule = data.rule || {};
    $("rule-name").textContent = rule.name ? rule.name : "";
    $("rule-name").title = rule.rule_id ? `rule_id ${rule.rule_id}` : "";

    diagnostics = data.diagnostics || [];
    diagnosedText = text;
    const errors = diagnostics.filter((d) => d.severity === "error").length;
    const warnings = diagnostics.length - errors;
    const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
    if (data.status === "skipped") {
      setStatus(`skipped: ${data.skip_reason || "not an EQL rule"}`, "skipped");
    } else if (data.status === "error") {
      setStatus(errors ? plural(errors, "error") : "a target failed", "error");
    } else if (warnings) {
      setStatus(`ok, ${plural(warnings, "warning")}`, "warning");
    } else {
      setStatus("ok", "ok");
    }
    document.body.dataset.status = data.status;

    setPane(out.eql, data.eql, colourEql);
    setPane(out.dsl, data.dsl, colourJson);
    setPane(out.sigma, data.sigma, colourYaml);
    describeEvaluator(data.evaluator);
    showDiagnostics();
    drawEditor();
  }

  const translation = latestOnly();
  async function translate() {
    const text = source.value;
    save();
    const { signal, id } = translation.start();
    if (!text.trim()) {
      clearOutputs("waiting for input");
      return;
    }
    setStatus("translating…", "");
    const started = performance.now();
    try {
      const data = await postJson("/api/translate", { text }, signal);
      if (!translation.current(id)) return;
      showTranslation(data, text);
      $("timing").textContent = `translated in ${Math.round(performance.now() - started)} ms`;
    } catch (error) {
      if (error.name === "AbortError" || !translation.current(id)) return;
      setStatus(`cannot translate: ${error.message}`, "error");
    }
  }

  // ---- events ---------------------------------------------------------------------------

  function showMatches(summaryText, cls, data, warnings) {
    const summary = $("match-summary");
    summary.textContent = summaryText;
    summary.className = cls;
    const list = $("match-warnings");
    list.replaceChildren();
    for (const warning of warnings || []) list.append(el("li", "", warning));
    const alerts = $("alerts");
    alerts.replaceChildren();
    if (!data) {
      delete summary.dataset.alerts;
      delete summary.dataset.matched;
      return;
    }
    summary.dataset.alerts = String(data.alert_count);
    summary.dataset.matched = data.matched_lines.join(",");
    for (const alert of data.alerts) {
      const li = el("li");
      const which = alert.lines.length === 1 ? "line" : "lines";
      li.append(el("span", "lines", `${which} ${alert.lines.join(", ")}`));
      for (const event of alert.events) li.append(el("code", "", event));
      alerts.append(li);
    }
  }

  const evaluation = latestOnly();
  async function evaluate() {
    const text = source.value;
    const events = eventsInput.value;
    save();
    const { signal, id } = evaluation.start();
    if (!events.trim()) {
      showMatches("Paste events to see which ones the rule matches.", "muted", null);
      return;
    }
    if (!text.trim()) {
      showMatches("Write a rule or query first.", "muted", null);
      return;
    }
    const body = { text, events };
    for (const [key, input] of Object.entries(fieldInputs)) body[key] = input.value;
    try {
      const data = await postJson("/api/eval", body, signal);
      if (!evaluation.current(id)) return;
      if (data.status !== "ok") {
        showMatches(data.message || "cannot run the rule", "error", null);
        return;
      }
      const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
      let line = `${plural(data.events, "event")}, ${plural(data.alert_count, "alert")}`;
      if (data.matched_lines.length) {
        const which = data.matched_lines.length === 1 ? "line" : "lines";
        line += ` (${which} ${data.matched_lines.join(", ")})`;
      }
      if (data.alert_count > data.alerts.length) line += `; the first ${data.alerts.length} listed`;
      showMatches(line, data.alert_count ? "ok" : "muted", data, data.warnings);
    } catch (error) {
      if (error.name === "AbortError" || !evaluation.current(id)) return;
      showMatches(`cannot evaluate: ${error.message}`, "error", null);
    }
  }

  // ---- state kept across reloads ----------------------------------------------------------

  function save() {
    try {
      const state = { source: source.value, events: eventsInput.value, fields: {} };
      for (const [key, input] of Object.entries(fieldInputs)) state.fields[key] = input.value;
      localStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (_) {
      // Storage may be disabled or full; the page works without it.
    }
  }

  function restore() {
    try {
      const state = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
      if (!state) return;
      source.value = state.source || "";
      eventsInput.value = state.events || "";
      for (const [key, input] of Object.entries(fieldInputs)) {
        if (state.fields && typeof state.fields[key] === "string") input.value = state.fields[key];
      }
    } catch (_) {
      // A corrupt entry: start empty.
    }
  }

  const EXAMPLE_RULE = `[metadata]
creation_date = "2024/01/15"
maturity = "production"
updated_date = "2024/01/15"

[rule]
author = ["Example"]
description = "A command shell started by an Office application."
from = "now-9m"
index = ["logs-endpoint.events.process-*"]
language = "eql"
license = "Elastic License v2"
name = "Command Shell Spawned by Office"
risk_score = 47
rule_id = "6f0c5d2a-3f9e-4e0b-9a51-0c2f1b7d8e11"
severity = "medium"
tags = ["Domain: Endpoint", "OS: Windows"]
type = "eql"
query = '''
process where event.type == "start" and
  process.parent.name : ("winword.exe", "excel.exe", "powerpnt.exe") and
  process.name : ("cmd.exe", "powershell.exe")
'''
`;

  const EXAMPLE_EVENTS = [
    '{"@timestamp": "2024-01-15T10:00:00Z", "event": {"category": ["process"], "type": ["start"]}, "process": {"name": "cmd.exe", "parent": {"name": "WINWORD.EXE"}}}',
    '{"@timestamp": "2024-01-15T10:00:01Z", "event": {"category": ["process"], "type": ["start"]}, "process": {"name": "cmd.exe", "parent": {"name": "explorer.exe"}}}',
    '{"@timestamp": "2024-01-15T10:00:02Z", "event": {"category": ["process"], "type": ["start"]}, "process": {"name": "PowerShell.exe", "parent": {"name": "excel.exe"}}}',
    '{"@timestamp": "2024-01-15T10:00:03Z", "event": {"category": ["network"], "type": ["connection"]}, "process": {"name": "cmd.exe", "parent": {"name": "winword.exe"}}}',
  ].join("\n");

  // ---- wiring -----------------------------------------------------------------------------

  const translateSoon = debounce(translate, DEBOUNCE_MS);
  const evaluateSoon = debounce(evaluate, DEBOUNCE_MS);

  source.addEventListener("input", () => {
    // Old spans no longer fit the text: drop them until the new answer comes.
    drawEditor();
    translateSoon();
    evaluateSoon();
  });
  source.addEventListener("scroll", syncScroll);
  eventsInput.addEventListener("input", evaluateSoon);
  for (const input of Object.values(fieldInputs)) input.addEventListener("input", evaluateSoon);

  $("example").addEventListener("click", () => {
    source.value = EXAMPLE_RULE;
    eventsInput.value = EXAMPLE_EVENTS;
    drawEditor();
    translate();
    evaluate();
  });

  restore();
  drawEditor();
  if (source.value.trim()) translate();
  if (eventsInput.value.trim()) evaluate();
})();
