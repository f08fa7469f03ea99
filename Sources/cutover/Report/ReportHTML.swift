import CutoverCore
import Foundation

/// The migration report as one self-contained HTML file: its style and its charts (inline SVG) inside, nothing
/// fetched, readable offline and printable.
enum ReportHTML {
    static func render(_ report: MigrationReport) -> String {
        var body = ""
        body += "<h1>Migration report</h1>\n<p class=\"muted\">generated \(time(report.generatedAt))</p>\n"
        body += "<section class=\"figures\">\n"
        body += figure("migration-time", "overall migration time", report.migration.seconds.map(duration) ?? "not yet measured",
                       report.migration.startedAt.map { "from \(time($0)) to \(report.migration.finishedAt.map(time) ?? "now")" } ?? "")
        body += figure("downtime", "downtime", duration(report.downtimeSeconds), "\(report.hostTasks.count) host cutover\(report.hostTasks.count == 1 ? "" : "s")")
        let rollbacks = report.routes.reduce(0) { $0 + $1.rollbacks.count }
        body += figure("routes", "routes", "\(report.routes.filter { $0.phase == "new" }.count) of \(report.routes.count) on new",
                       "\(rollbacks) rollback\(rollbacks == 1 ? "" : "s")")
        body += "</section>\n"
        body += "<h2>Phase timeline</h2>\n" + timeline(report)
        body += "<h2>Routes</h2>\n<table><tr><th>route</th><th>phase</th><th>compared</th><th>differing</th><th>diff rate</th><th>rollbacks</th></tr>\n"
        for route in report.routes {
            body += "<tr><td>\(escape(route.name))</td><td>\(route.phase)</td><td class=\"n\">\(route.compared)</td><td class=\"n\">\(route.differing)</td>"
                + "<td class=\"n\">\(percent(route.diffRate))</td><td class=\"n\">\(route.rollbacks.count)</td></tr>\n"
        }
        body += "</table>\n<h2>Phase changes</h2>\n<table><tr><th>when</th><th>route</th><th>change</th><th>by</th><th>compared / diff rate before</th><th>reason</th></tr>\n"
        for (route, event) in report.routes.flatMap({ route in route.timeline.map { (route.name, $0) } }).sorted(by: { $0.1.at < $1.1.at }) {
            let back = Phase(rawValue: event.to).flatMap { to in Phase(rawValue: event.from).map { to < $0 } } ?? false
            let gate = event.compared.map { "\($0) / \(percent(event.diffRate ?? 0))" } ?? ""
            body += "<tr class=\"\(back ? "back" : "")\"><td>\(time(event.at))</td><td>\(escape(route))</td><td>\(event.from) → \(event.to)"
                + "\(event.action == "phase" ? "" : " (\(escape(event.action)))")</td><td>\(escape(event.actor))</td><td class=\"n\">\(gate)</td><td>\(escape(event.reason))</td></tr>\n"
        }
        body += "</table>\n<h2>Host cutovers</h2>\n"
        if report.hostTasks.isEmpty {
            body += "<p class=\"muted\">No host cutover has run (<code>cutover host run</code>).</p>\n"
        } else {
            body += "<table><tr><th>task</th><th>run</th><th>status</th><th>migration</th><th>downtime</th><th>IP outage</th></tr>\n"
            for task in report.hostTasks {
                body += "<tr><td>\(escape(task.task))</td><td class=\"n\">\(task.run)</td><td>\(task.status)\(task.reason.map { " — " + escape($0) } ?? "")</td>"
                    + "<td class=\"n\">\(task.figures["migration_seconds"].map(duration) ?? "")</td><td class=\"n\">\(task.figures["downtime_seconds"].map(duration) ?? "")</td>"
                    + "<td class=\"n\">\(task.figures["ip_outage_seconds"].map(duration) ?? "")</td></tr>\n"
            }
            body += "</table>\n<h3>Latency through the service address, before the stop and after the float</h3>\n" + latencyChart(report.hostTasks)
        }
        body += "<h2>Reconciliations</h2>\n"
        if report.reconciliations.isEmpty {
            body += "<p class=\"muted\">No reconciliation has run (<code>cutover reconcile</code>).</p>\n"
        } else {
            body += "<table><tr><th>run</th><th>finished</th><th>table</th><th>rows old / new</th><th>missing on new</th><th>extra on new</th><th>changed</th></tr>\n"
            for run in report.reconciliations {
                for table in run.tables {
                    body += "<tr class=\"\(table.isEqual ? "" : "back")\"><td class=\"n\">\(run.run)</td><td>\(run.finishedAt.map(time) ?? run.status)</td><td>\(escape(table.table))</td>"
                        + "<td class=\"n\">\(table.oldRows) / \(table.newRows)</td><td class=\"n\">\(table.missingOnNew)</td><td class=\"n\">\(table.extraOnNew)</td>"
                        + "<td class=\"n\">\(table.changed)</td></tr>\n"
                }
            }
            body += "</table>\n"
        }
        if !report.notes.isEmpty {
            body += "<h2>Notes</h2>\n<ul>" + report.notes.map { "<li>\(escape($0))</li>" }.joined() + "</ul>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Migration report</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>
            body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; color: #1d2330; }
            h1 { margin-bottom: 0; } h2 { margin-top: 2rem; border-bottom: 1px solid #d5d9e0; }
            .muted { color: #667085; }
            .figures { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1.5rem 0; }
            .figure { border: 1px solid #d5d9e0; border-radius: 6px; padding: .75rem 1rem; min-width: 14rem; }
            .figure .value { font-size: 1.8rem; font-weight: 600; }
            table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eceef2; vertical-align: top; }
            td.n { text-align: right; font-variant-numeric: tabular-nums; } tr.back td { background: #fff4e5; }
            svg text { font: 12px system-ui, sans-serif; fill: #1d2330; }
            </style></head>
            <body>
            \(body)</body></html>

            """
    }

    private static func figure(_ id: String, _ label: String, _ value: String, _ detail: String) -> String {
        "<div class=\"figure\" id=\"\(id)\"><div class=\"muted\">\(label)</div><div class=\"value\">\(escape(value))</div><div class=\"muted\">\(escape(detail))</div></div>\n"
    }

    static let phaseColours = ["old": "#98a2b3", "shadow": "#7aa2f7", "gray": "#f5a524", "drain": "#c084fc", "new": "#22a06b"]

    /// One lane per route: its phases as coloured spans over the migration's time.
    private static func timeline(_ report: MigrationReport) -> String {
        let events = report.routes.flatMap(\.timeline)
        guard let first = events.map(\.at).min() else { return "<p class=\"muted\">No route changed phase yet.</p>\n" }
        let last = max(report.migration.finishedAt ?? first, events.map(\.at).max() ?? first, report.generatedAt)
        let span = Double(max(1, last - first))
        let (left, width, lane) = (120.0, 760.0, 26.0)
        var svg = "<svg id=\"timeline\" viewBox=\"0 0 900 \(Int(Double(report.routes.count) * lane + 40))\" width=\"100%\" role=\"img\" aria-label=\"phase timeline\">\n"
        for (index, route) in report.routes.enumerated() {
            let y = Double(index) * lane + 4
            svg += "<text x=\"0\" y=\"\(y + 15)\">\(escape(route.name))</text>\n"
            var at = first, phase = route.timeline.first?.from ?? route.phase
            for event in route.timeline + [MigrationReport.PhaseEvent(at: last, from: route.phase, to: route.phase, actor: "", action: "", reason: "")] {
                let x = left + Double(at - first) / span * width, w = max(1, Double(event.at - at) / span * width)
                svg += "<rect x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(w))\" height=\"18\" fill=\"\(phaseColours[phase] ?? "#ccc")\"><title>\(phase)</title></rect>\n"
                (at, phase) = (event.at, event.to)
            }
        }
        let legendY = Double(report.routes.count) * lane + 22
        for (index, name) in ["old", "shadow", "gray", "drain", "new"].enumerated() {
            let x = left + Double(index) * 90
            svg += "<rect x=\"\(fmt(x))\" y=\"\(fmt(legendY - 10))\" width=\"12\" height=\"12\" fill=\"\(phaseColours[name]!)\"/><text x=\"\(fmt(x + 16))\" y=\"\(fmt(legendY))\">\(name)</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// Bars of p50 and p99 before and after, per task that measured them.
    private static func latencyChart(_ tasks: [MigrationReport.HostTaskReport]) -> String {
        let keys = [("latency_before_p50_seconds", "p50 before", "#98a2b3"), ("latency_after_p50_seconds", "p50 after", "#22a06b"),
                    ("latency_before_p99_seconds", "p99 before", "#667085"), ("latency_after_p99_seconds", "p99 after", "#127a4f")]
        let measured = tasks.filter { task in keys.contains { task.figures[$0.0] != nil } }
        guard !measured.isEmpty else { return "<p class=\"muted\">No run measured its latency (give the task a verify.url).</p>\n" }
        let top = max(1e-6, measured.flatMap { task in keys.compactMap { task.figures[$0.0] } }.max() ?? 1e-6)
        let group = 4 * 22.0 + 30
        var svg = "<svg id=\"latency\" viewBox=\"0 0 900 \(Int(Double(measured.count) * group + 30))\" width=\"100%\" role=\"img\" aria-label=\"latency before and after\">\n"
        for (index, task) in measured.enumerated() {
            let y0 = Double(index) * group
            svg += "<text x=\"0\" y=\"\(fmt(y0 + 14))\">\(escape(task.task))</text>\n"
            for (row, key) in keys.enumerated() {
                let y = y0 + 20 + Double(row) * 22, value = task.figures[key.0] ?? 0, w = value / top * 600
                svg += "<text x=\"10\" y=\"\(fmt(y + 13))\">\(key.1)</text><rect x=\"120\" y=\"\(fmt(y))\" width=\"\(fmt(max(1, w)))\" height=\"16\" fill=\"\(key.2)\"/>"
                    + "<text x=\"\(fmt(126 + w))\" y=\"\(fmt(y + 13))\">\(String(format: "%.2f ms", value * 1000))</text>\n"
            }
        }
        return svg + "</svg>\n"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func time(_ ms: Int64) -> String {
        Date(timeIntervalSince1970: Double(ms) / 1000).formatted(.iso8601)
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return String(format: "%.0f ms", seconds * 1000) }
        if seconds < 120 { return String(format: "%.1f s", seconds) }
        if seconds < 7200 { return String(format: "%.0f min", seconds / 60) }
        if seconds < 172_800 { return String(format: "%.1f h", seconds / 3600) }
        return String(format: "%.1f d", seconds / 86_400)
    }

    static func percent(_ rate: Double) -> String { String(format: "%.3f%%", rate * 100) }

    private static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }
}
