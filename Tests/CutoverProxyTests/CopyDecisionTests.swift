@testable import CutoverCore
@testable import CutoverProxy
import NIOCore
import Testing

/// Whether and where a request is copied, without a socket: a shadow route's copy and noise baseline, a gray read
/// comparison's copy to the side that does not answer, and each reason a route's settings skip a copy.
@Suite("Copy decision")
struct CopyDecisionTests {
    static func runtime(shadow: String = "", noise: Bool = false) throws -> RuntimeConfig {
        let shadowLine = shadow.isEmpty ? "" : "\n    shadow: { \(shadow) }"
        return try RuntimeConfig(try ConfigLoader.load(yaml: """
            listen: "127.0.0.1:0"
            admin: { listen: "127.0.0.1:0" }
            backends:
              old: { url: "http://127.0.0.1:9001" }
              new: { url: "http://127.0.0.1:9002", response_timeout: 7s }
            \(noise ? "  old-secondary: { url: \"http://127.0.0.1:9003\" }" : "")
            routes:
              - name: orders
                match: { prefix: /orders }
                phase: shadow\(shadowLine)
              - name: by-path
                match: { path: "/items/{id}" }
                phase: gray
                id: { from: path, name: id }
                gray: { threshold: 1000, compare_sample: 1 }
              - name: plain
                match: { prefix: /plain }
                phase: old
            """).get())
    }

    func decide(_ runtime: RuntimeConfig, _ method: String, _ target: String, framing: RequestHead.Framing = .none,
                requestID: String = "id-1") -> CopyDecision {
        let plan = runtime.routing.decide(method: method, target: Substring(target), flags: runtime.routing.configuredFlags)
        var asked = false
        let decision = CopyDecision.decide(plan, runtime: runtime, method: RequestMethod(method), framing: framing) {
            asked = true
            return requestID
        }
        if case .none = decision { #expect(!asked, "the request ID is not made for a request that is not copied") }
        return decision
    }

    @Test func aShadowRouteCopiesItsReadsToNew() throws {
        let runtime = try Self.runtime()
        guard case .copy(let copies) = decide(runtime, "GET", "/orders/1") else {
            Issue.record("not copied")
            return
        }
        #expect(runtime.routeNames[copies.route] == "orders")
        #expect(runtime.targets[copies.mirror].backend.name == "new")
        #expect(copies.noise == nil)
        #expect(copies.primarySide == .old)
        #expect(copies.timeout == .seconds(7), "new's response timeout bounds its copy")
    }

    @Test func theNoiseBaselineGetsACopyOfSafeRequests() throws {
        let runtime = try Self.runtime(shadow: "writes: mirror", noise: true)
        guard case .copy(let read) = decide(runtime, "GET", "/orders/1"), let noise = read.noise else {
            Issue.record("no noise copy")
            return
        }
        #expect(runtime.targets[noise].backend.name == "old-secondary")
        guard case .copy(let write) = decide(runtime, "POST", "/orders", framing: .contentLength(2)) else {
            Issue.record("a mirrored write is copied")
            return
        }
        #expect(write.noise == nil, "a write is never sent twice to old's side")
    }

    @Test func eachSkipIsNamed() throws {
        #expect(decide(try Self.runtime(), "POST", "/orders", framing: .contentLength(2)) == .skipped(route: 0, reason: "write"))
        let mirroring = try Self.runtime(shadow: "writes: mirror, max_body: 16")
        #expect(decide(mirroring, "PUT", "/orders/1", framing: .contentLength(17)) == .skipped(route: 0, reason: "body_too_large"))
        if case .copy = decide(mirroring, "PUT", "/orders/1", framing: .contentLength(16)) {} else { Issue.record("16 bytes fit") }
        if case .copy = decide(mirroring, "PUT", "/orders/1", framing: .chunked) {} else {
            Issue.record("a chunked body has no announced length: it is bounded as it goes")
        }
        let sampled = try Self.runtime(shadow: "sample: 0.5")
        var skipped = 0, copied = 0
        for index in 0..<200 {
            switch decide(sampled, "GET", "/orders/1", requestID: "request-\(index)") {
            case .skipped(_, let reason):
                #expect(reason == "sample")
                skipped += 1
            case .copy: copied += 1
            case .none: Issue.record("a shadow route's request is decided")
            }
        }
        #expect(skipped > 0 && copied > 0)
        #expect(decide(sampled, "GET", "/orders/1", requestID: "request-7") == decide(sampled, "GET", "/orders/1", requestID: "request-7"),
                "the same ID always falls on the same side of the sample")
    }

    @Test func aGrayReadComparisonCopiesToTheOtherSideAtItsSample() throws {
        let runtime = try Self.runtime(shadow: "sample: 0, order: after-primary")
        guard case .copy(let low) = decide(runtime, "GET", "/items/5") else {
            Issue.record("not compared")
            return
        }
        #expect(low.primarySide == .old)
        #expect(runtime.targets[low.mirror].backend.name == "new")
        #expect(low.settings.sample == 1 && low.settings.order == .parallel, "the gray route's compare sample, sent at once")
        guard case .copy(let high) = decide(runtime, "GET", "/items/5000") else {
            Issue.record("not compared")
            return
        }
        #expect(high.primarySide == .new)
        #expect(runtime.targets[high.mirror].backend.name == "old", "new answers: the copy goes to old")
        #expect(decide(runtime, "DELETE", "/items/5") == .none, "only reads are compared")
    }

    @Test func otherPlansAreNotCopied() throws {
        let runtime = try Self.runtime()
        #expect(decide(runtime, "GET", "/plain/a") == .none)
        #expect(decide(runtime, "GET", "/unrouted") == .none)
    }
}
