import CutoverCore
import Testing

@Suite("Gates and automatic rollback", .timeLimit(.minutes(1)))
struct GatesTests {
    static func route() throws -> Route {
        try ConfigLoader.load(yaml: """
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: { old: { url: "http://127.0.0.1:9001" }, new: { url: "http://127.0.0.1:9002" } }
            routes:
              - name: orders
                match: { path: "/orders/{id}" }
                phase: shadow
                id: { from: path, name: id }
                max_id_seen: /id
                gray: { threshold: 1000 }
                gates: { min_compared: 10, max_diff_rate: 0.1, max_error_rate: 0.02, window: 5m }
            """).get().routes[0]
    }

    static let flags = RouteFlags(phase: .shadow, threshold: 1000, creates: .new, compareSample: 0)

    @Test func eachStepForwardNeedsItsOwnEvidence() throws {
        let route = try Self.route()
        let good = GateEvidence(compared: 10, diffRate: 0.1, newRequests: 100, newErrors: 2, maxOldID: 999)
        let toGray = Gates.evaluate(route: route, from: .shadow, to: .gray, flags: Self.flags, evidence: good)
        #expect(toGray.map(\.gate) == ["min_compared", "max_diff_rate", "threshold"])
        #expect(toGray.allSatisfy { $0.passed })
        var bad = good
        bad.compared = 9
        bad.diffRate = 0.11
        bad.maxOldID = nil
        let refused = Gates.evaluate(route: route, from: .shadow, to: .gray, flags: Self.flags, evidence: bad)
        #expect(refused.filter { !$0.passed }.map(\.gate) == ["min_compared", "max_diff_rate", "threshold"])
        #expect(refused[2].message == "no ID seen from old yet at /id: the threshold 1000 cannot be checked")
        // Skipping gray checks both shadow's and gray's evidence; later steps need new's error rate only.
        #expect(Gates.evaluate(route: route, from: .old, to: .new, flags: Self.flags, evidence: good).map(\.gate)
                == ["min_compared", "max_diff_rate", "threshold"])
        var errors = good
        errors.newErrors = 3
        let toDrain = Gates.evaluate(route: route, from: .gray, to: .drain, flags: Self.flags, evidence: errors)
        #expect(toDrain.map(\.gate) == ["max_error_rate"] && !toDrain[0].passed)
        #expect(toDrain[0].message == "new's error rate 3.0% over 100 answers in the last 5m; at most 2.0% allowed")
        #expect(Gates.evaluate(route: route, from: .drain, to: .new, flags: Self.flags, evidence: good).allSatisfy { $0.passed })
        #expect(Gates.evaluate(route: route, from: .gray, to: .shadow, flags: Self.flags, evidence: bad).isEmpty, "backward moves need nothing")
        // With the databases reconciled, leaving shadow needs a clean latest run of every table pair.
        var reconciled = good
        reconciled.unreconciled = ["orders"]
        let dirty = Gates.evaluate(route: route, from: .shadow, to: .gray, flags: Self.flags, evidence: reconciled)
        #expect(dirty.filter { !$0.passed }.map(\.gate) == ["reconcile"])
        #expect(dirty.first { $0.gate == "reconcile" }?.message == "no clean latest reconciliation of orders (run `cutover reconcile`)")
        reconciled.unreconciled = []
        #expect(Gates.evaluate(route: route, from: .shadow, to: .gray, flags: Self.flags, evidence: reconciled).allSatisfy { $0.passed })
        #expect(Gates.evaluate(route: route, from: .old, to: .shadow, flags: Self.flags, evidence: bad).isEmpty)
    }

    @Test func rollbackTriggersOnErrorsOrLatencyOnceEnoughRequestsWereSeen() {
        let settings = AutoRollbackSettings(errorRate: 0.05, latencyP99: .seconds(2), window: .seconds(60), minRequests: 50, webhook: nil)
        #expect(AutoRollback.breach(settings, requests: 49, errors: 49, p99: .seconds(9)) == nil, "too few requests to judge")
        #expect(AutoRollback.breach(settings, requests: 100, errors: 5, p99: .seconds(2)) == nil, "at the bounds is within them")
        #expect(AutoRollback.breach(settings, requests: 100, errors: 6, p99: nil)
                == "new's error rate 6.0% over 100 requests in 1m is above 5.0%")
        #expect(AutoRollback.breach(settings, requests: 100, errors: 0, p99: .milliseconds(2500))
                == "new's p99 latency 2500ms over 100 requests in 1m is above 2s")
        #expect(AutoRollback.previous(.new) == .drain && AutoRollback.previous(.gray) == .shadow && AutoRollback.previous(.old) == .old)
    }
}
