import CutoverAdmin
import CutoverCore
import Foundation

/// The comparator's report as text for a terminal.
enum DiffReportText {
    /// Per route: the counts, then every field that differed with its verdict and an example.
    static func summary(_ response: DiffSummaryResponse) -> String {
        guard !response.routes.isEmpty else {
            return "No pairs compared" + (response.since.map { " since \($0)" } ?? "") + " (routes in phase shadow are compared)."
        }
        var blocks: [String] = []
        for route in response.routes {
            var lines = ["\(route.route): \(route.compared) compared, \(route.differing) differing (\(percent(route.diffRate))), "
                + "\(route.noise) with noise only" + (route.notCompared > 0 ? ", \(route.notCompared) not compared" : "")]
            if !route.fields.isEmpty {
                var table = TextTable(header: ["FIELD", "VERDICT", "DIFFERING", "NOISE", "EXAMPLE"], rightAligned: [2, 3], indent: "  ")
                for field in route.fields {
                    table.append([field.path, field.verdict.rawValue, "\(field.differing)", "\(field.noise)",
                                  field.example.map { shorten(example($0), to: 60) } ?? ""])
                }
                lines.append(table.text)
            }
            blocks.append(lines.joined(separator: "\n"))
        }
        return blocks.joined(separator: "\n\n")
    }

    /// Samples, newest first: the request, both statuses, the differences and both bodies.
    static func samples(_ response: DiffSamplesResponse, bodyLimit: Int?) -> String {
        let subject = response.field.map { "differing in \($0)" } ?? "with differences"
        guard !response.samples.isEmpty else {
            return "No samples of \(response.route) \(subject)."
        }
        var blocks = ["\(response.route): \(response.samples.count) sample(s) \(subject), newest first"]
        let formatter = ISO8601DateFormatter()
        for sample in response.samples {
            let time = formatter.string(from: Date(timeIntervalSince1970: Double(sample.time) / 1000))
            var lines = ["\(sample.request.method) \(sample.request.target)   \(time)   request \(sample.requestID)"]
            let newStatus = sample.new.map { "\($0.status)" } ?? "failed: \(sample.newError ?? "no answer")"
            lines.append("  old \(sample.old.status), new \(newStatus)")
            if !sample.differences.isEmpty {
                var table = TextTable(header: ["FIELD", "PATH", "KIND", "OLD", "NEW"], indent: "  ")
                for difference in sample.differences {
                    table.append([difference.field, difference.path, difference.kind.rawValue,
                                  shorten(difference.old ?? "-", to: 40), shorten(difference.new ?? "-", to: 40)])
                }
                lines.append(table.text)
            }
            lines.append("  old body: " + body(sample.old, limit: bodyLimit))
            if let new = sample.new { lines.append("  new body: " + body(new, limit: bodyLimit)) }
            blocks.append(lines.joined(separator: "\n"))
        }
        return blocks.joined(separator: "\n\n")
    }

    static func example(_ difference: FieldDifference) -> String {
        switch difference.kind {
        case .missing: return "\(difference.path): \(difference.old ?? "?") -> (missing)"
        case .extra: return "\(difference.path): (missing) -> \(difference.new ?? "?")"
        case .value: return "\(difference.path): \(difference.old ?? "?") -> \(difference.new ?? "?")"
        default: return "\(difference.path): \(difference.kind.rawValue) \(difference.old ?? "?") -> \(difference.new ?? "?")"
        }
    }

    static func body(_ response: SampleResponse, limit: Int?) -> String {
        let text = response.base64 ? "(\(response.body.count) base64 characters; --json shows them)" : response.body
        let shown = limit.map { shorten(text, to: $0) } ?? text
        return shown + (response.truncated ? " (cut when stored)" : "")
    }

    static func shorten(_ text: String, to limit: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        guard flat.count > limit else { return flat }
        return String(flat.prefix(limit)) + "… (\(flat.count - limit) more)"
    }

    static func percent(_ rate: Double) -> String {
        String(format: "%.2f%%", rate * 100)
    }
}
