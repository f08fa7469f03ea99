import Hummingbird
import NIOCore

/// `GET /review`: the diff-review page. It holds no data itself: in the browser it
/// asks for a token (kept for the tab's session only) and reads the diffs API.
enum ReviewPage {
    static func register(on router: Router<AdminRequestContext>) {
        router.get("/review") { _, _ -> Response in
            Response(status: .ok,
                     headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                               .contentSecurityPolicy: "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
        }
    }

    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <title>Cutover — diff review</title>
    <style>
      body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
      h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
      table { border-collapse: collapse; margin: .5em 0; }
      th, td { text-align: left; padding: .2em .8em .2em 0; vertical-align: top; }
      td.n { text-align: right; }
      tr.field { cursor: pointer; } tr.field:hover { background: #f2f2f2; }
      .difference { color: #b00020; font-weight: 600; } .noise { color: #777; }
      pre { background: #f7f7f7; padding: .5em; white-space: pre-wrap; word-break: break-all; max-height: 20em; overflow: auto; }
      .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
      #error { color: #b00020; } code { font-size: 13px; }
    </style>
    </head>
    <body>
    <h1>Cutover — diff review</h1>
    <form id="controls">
      <label>Token <input id="token" type="password" size="28" autocomplete="off"></label>
      <label>Since <select id="since"><option value="1h">1 hour</option><option value="24h" selected>24 hours</option>
        <option value="168h">7 days</option><option value="">everything</option></select></label>
      <button type="submit">Show</button>
    </form>
    <p id="error"></p>
    <div id="summary"></div>
    <div id="samples"></div>
    <script>
    "use strict";
    const $ = (id) => document.getElementById(id);
    const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
    $("token").value = sessionStorage.getItem("cutover-token") || "";

    async function api(path) {
      const response = await fetch(path, { headers: { "Authorization": "Bearer " + $("token").value } });
      const body = await response.json().catch(() => ({ error: response.statusText }));
      if (!response.ok) throw new Error(response.status + ": " + body.error);
      return body;
    }

    function row(cells, cls) { const tr = el("tr", undefined, cls); for (const c of cells) tr.append(c instanceof Node ? c : el("td", c)); return tr; }
    function num(n) { const td = el("td", n); td.className = "n"; return td; }
    function example(d) { return d ? d.path + ": " + (d.old ?? "(missing)") + " → " + (d.new ?? "(missing)") : ""; }

    async function showSummary() {
      $("error").textContent = ""; $("summary").replaceChildren(); $("samples").replaceChildren();
      sessionStorage.setItem("cutover-token", $("token").value);
      const since = $("since").value;
      try {
        const summary = await api("/api/v1/diffs/summary" + (since ? "?since=" + encodeURIComponent(since) : ""));
        if (summary.routes.length === 0) { $("summary").append(el("p", "No pairs compared yet (routes in phase shadow are compared).")); return; }
        for (const route of summary.routes) {
          $("summary").append(el("h2", route.route));
          $("summary").append(el("p", route.compared + " compared, " + route.differing + " differing (" + (route.diff_rate * 100).toFixed(2) +
            "%), " + route.noise + " with noise only" + (route.not_compared ? ", " + route.not_compared + " not compared" : "")));
          const table = el("table");
          table.append(row(["Field", "Verdict", "Differing", "Noise", "Example"].map((h) => el("th", h))));
          for (const field of route.fields) {
            const tr = row([el("td", field.path), el("td", field.verdict, field.verdict), num(field.differing), num(field.noise), el("td", example(field.example))], "field");
            tr.addEventListener("click", () => showSamples(route.route, field.path));
            table.append(tr);
          }
          $("summary").append(table);
        }
      } catch (error) { $("error").textContent = error.message; }
    }

    async function showSamples(route, field) {
      $("samples").replaceChildren(el("h2", "Samples of " + route + " differing in " + field));
      try {
        const result = await api("/api/v1/diffs/samples?route=" + encodeURIComponent(route) + "&field=" + encodeURIComponent(field) + "&limit=10");
        for (const sample of result.samples) {
          $("samples").append(el("h3", sample.request.method + " " + sample.request.target + " — " + new Date(sample.time).toISOString() + " — request " + sample.request_id));
          const table = el("table");
          table.append(row(["Field", "Path", "Kind", "Old", "New"].map((h) => el("th", h))));
          for (const d of sample.differences) table.append(row([d.field, d.path, d.kind, d.old ?? "", d.new ?? ""]));
          $("samples").append(table);
          const pair = el("div", undefined, "pair");
          const side = (name, answer, failure) => { const div = el("div"); div.append(el("strong", name + (answer ? " " + answer.status : " failed: " + failure))); if (answer) div.append(el("pre", answer.body)); return div; };
          pair.append(side("old", sample.old), side("new", sample.new, sample.new_error));
          $("samples").append(pair);
        }
      } catch (error) { $("error").textContent = error.message; }
    }

    $("controls").addEventListener("submit", (event) => { event.preventDefault(); showSummary(); });
    if ($("token").value) showSummary();
    </script>
    </body>
    </html>
    """#
}
