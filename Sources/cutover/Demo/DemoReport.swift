import CutoverCore
import Foundation

/// The table the demo prints: what went where, with status counts and latency percentiles.
struct DemoReport {
    struct Row: Equatable {
        var route: String
        var phase: String
        var backend: String
        var requests: Int
        var byClass: [Int]
        var p50: Double
        var p90: Double
        var p99: Double
    }

    let rows: [Row]
    /// Requests answered by a backend other than the one their route's phase names.
    let misrouted: Int

    init(_ exchanges: [DemoExchange]) {
        var groups: [String: [DemoExchange]] = [:]
        var order: [String] = []
        for exchange in exchanges {
            let key = exchange.route + "\u{0}" + exchange.answeredBy
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(exchange)
        }
        rows = order.sorted().map { key in
            let group = groups[key]!
            var byClass = [0, 0, 0, 0, 0]
            for exchange in group { byClass[min(max(exchange.status / 100, 1), 5) - 1] += 1 }
            let latencies = group.map(\.seconds).sorted()
            return Row(route: group[0].route, phase: group[0].phase?.rawValue ?? "-", backend: group[0].answeredBy,
                       requests: group.count, byClass: byClass,
                       p50: Self.percentile(latencies, 0.50), p90: Self.percentile(latencies, 0.90), p99: Self.percentile(latencies, 0.99))
        }
        misrouted = exchanges.filter { $0.answeredBy != $0.expectedBackend }.count
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let index = min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)
        return sorted[max(index, 0)]
    }

    var text: String {
        var table = TextTable(header: ["ROUTE", "PHASE", "BACKEND", "REQUESTS", "2xx", "4xx", "5xx", "p50", "p90", "p99"])
        for row in rows {
            table.append([row.route, row.phase, row.backend, "\(row.requests)", "\(row.byClass[1])", "\(row.byClass[3])",
                          "\(row.byClass[4])", Self.milliseconds(row.p50), Self.milliseconds(row.p90), Self.milliseconds(row.p99)])
        }
        return table.text
    }

    static func milliseconds(_ seconds: Double) -> String {
        String(format: "%.1fms", seconds * 1000)
    }
}
