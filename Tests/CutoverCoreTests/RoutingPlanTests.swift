import CutoverCore
import Testing

/// The policy that used to live in the data plane: what is safe to copy, which reads are compared and with whom,
/// what a request without an ID gets, which shadow copies are skipped.
@Suite("Routing plans")
struct RoutingPlanTests {
    static let config = """
        listen: "127.0.0.1:8080"
        admin: { listen: "127.0.0.1:9090" }
        backends:
          old: { url: "http://127.0.0.1:9001" }
          new: { url: "http://127.0.0.1:9002" }
          old-secondary: { url: "http://127.0.0.1:9003" }
        routes:
          - name: orders
            match: { path: "/orders/{id}" }
            phase: gray
            id: { from: path, name: id, on_missing: reject }
            gray: { threshold: 1000, compare_sample: 0.5 }
          - name: catalog
            match: { prefix: "/catalog" }
            phase: shadow
          - name: lists
            match: { path: "/lists" }
            phase: gray
            aggregate: { array: /items, key: /id }
        """

    func table() throws -> RoutingTable { RoutingTable(config: try ConfigLoader.load(yaml: Self.config).get()) }

    @Test func methodsAreClassifiedAsRFC9110Says() {
        let cases: [(String, RequestMethod, safe: Bool, idempotent: Bool)] = [
            ("GET", .get, true, true), ("HEAD", .head, true, true), ("OPTIONS", .options, true, true), ("TRACE", .trace, true, true),
            ("PUT", .put, false, true), ("DELETE", .delete, false, true), ("POST", .post, false, false), ("PATCH", .patch, false, false),
            ("CONNECT", .connect, false, false), ("PURGE", .other, false, false), ("get", .other, false, false), ("", .other, false, false),
        ]
        for (token, method, safe, idempotent) in cases {
            #expect(RequestMethod(token) == method, "\(token)")
            #expect(method.isSafe == safe, "\(token)")
            #expect(method.isIdempotent == idempotent, "\(token)")
        }
        #expect(RequestMethod.get.isRead && RequestMethod.head.isRead && !RequestMethod.options.isRead)
    }

    @Test func aReadRoutedByItsIDIsComparedWithTheOtherSide() throws {
        let table = try table()
        let old = RoutingTarget(route: 0, backend: 0, side: .old), new = RoutingTarget(route: 0, backend: 1, side: .new)
        #expect(table.decide(method: "GET", target: "/orders/5") == .readCompare(primary: old, other: 1, sample: 0.5))
        #expect(table.decide(method: "HEAD", target: "/orders/5000") == .readCompare(primary: new, other: 0, sample: 0.5))
        #expect(table.decide(method: "PUT", target: "/orders/5000") == .forward(new), "a write is never compared")
        var flags = table.configuredFlags
        flags[0].compareSample = 0
        #expect(table.decide(method: "GET", target: "/orders/5", flags: flags) == .forward(old))
        flags[0].compareSample = 1
        flags[0].phase = .drain
        #expect(table.decide(method: "GET", target: "/orders/5", flags: flags) == .readCompare(primary: old, other: 1, sample: 1))
    }

    @Test func aRequestWithoutItsIDIsRefusedWhenTheRouteSaysSo() throws {
        let table = try table()
        let plan = table.decide(method: "GET", target: "/orders/abc")
        guard case .reject(let primary, let status, let reason, let label) = plan else {
            Issue.record("expected a refusal, got \(plan)")
            return
        }
        #expect(primary == RoutingTarget(route: 0, backend: 0, side: .old, missingID: true))
        #expect(status == 400)
        #expect(reason == "the request has no integer ID in its path 'id'")
        #expect(label == "missing_id")
        #expect(plan.target.missingID, "a refused request still counts as one without an ID")
    }

    @Test func noiseCopiesGoOnlyForSafeMethods() throws {
        var config = try ConfigLoader.load(yaml: Self.config).get()
        config.routes[1].noiseBackend = "old-secondary"
        let table = RoutingTable(config: config)
        let primary = RoutingTarget(route: 1, backend: 0, side: .old)
        for method in ["GET", "HEAD", "OPTIONS", "TRACE"] {
            #expect(table.decide(method: method, target: "/catalog/1") == .shadow(primary: primary, copy: 1, noise: 2), "\(method)")
        }
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            #expect(table.decide(method: method, target: "/catalog/1") == .shadow(primary: primary, copy: 1, noise: nil),
                    "\(method) changes data: old's second instance must not receive it")
        }
    }

    @Test func listReadsAreAggregatedInGrayAndGoToNewInDrain() throws {
        let table = try table()
        var flags = table.configuredFlags
        #expect(table.decide(method: "GET", target: "/lists?limit=3", flags: flags) == .aggregate(primary: RoutingTarget(route: 2, backend: 0, side: .old)))
        #expect(table.decide(method: "POST", target: "/lists", flags: flags) == .forward(RoutingTarget(route: 2, backend: 0, side: .old)),
                "only a GET is merged")
        flags[2].phase = .drain
        #expect(table.decide(method: "GET", target: "/lists", flags: flags) == .forward(RoutingTarget(route: 2, backend: 1, side: .new)))
    }

    @Test func shadowCopiesAreSkippedForWritesSamplingAndLargeBodies() {
        var settings = ShadowSettings.defaults
        #expect(settings.skipReason(method: .post, requestID: "a", bodyLength: nil) == "write")
        #expect(settings.skipReason(method: .trace, requestID: "a", bodyLength: nil) == nil, "safe methods are copied")
        settings.writes = .mirror
        #expect(settings.skipReason(method: .post, requestID: "a", bodyLength: nil) == nil)
        #expect(settings.skipReason(method: .post, requestID: "a", bodyLength: settings.maxBody + 1) == "body_too_large")
        settings.sample = 0.5
        // Over many IDs about half are sampled out, and an ID is always in or always out.
        let out = (0..<2000).filter { settings.skipReason(method: .get, requestID: "req-\($0)", bodyLength: nil) == "sample" }
        #expect((800...1200).contains(out.count), "\(out.count) of 2000 sampled out")
        #expect(out.allSatisfy { settings.skipReason(method: .get, requestID: "req-\($0)", bodyLength: nil) == "sample" })
        settings.sample = 0
        #expect(settings.skipReason(method: .get, requestID: "x", bodyLength: nil) == "sample")
    }

    @Test func idsThatDifferOnlyAtTheirEndAreSampledEvenly() {
        var settings = ShadowSettings.defaults
        settings.sample = 0.5
        func share(_ ids: [String]) -> Double {
            Double(ids.filter { settings.skipReason(method: .get, requestID: $0, bodyLength: nil) == nil }.count) / Double(ids.count)
        }
        // Sequential IDs of one length, and time-ordered UUIDs of one millisecond (only their last bytes differ).
        let sequential = (100..<300).map { "request-\($0)" }
        let uuids = (0..<256).map { "0190f4c2-7a1b-7000-8000-0000000000" + String($0, radix: 16).leftPadded(to: 2) }
        let lastLetter = (0..<26).map { "order-" + String(UnicodeScalar(UInt8(ascii: "a") + UInt8($0))) }
        for (name, ids) in [("sequential", sequential), ("uuid", uuids), ("last letter", lastLetter)] {
            #expect((0.3...0.7).contains(share(ids)), "\(name): \(share(ids)) copied")
        }
    }

    @Test func noReadIsComparedWithoutItsIDOrOutsideGrayAndDrain() throws {
        var config = try ConfigLoader.load(yaml: Self.config).get()
        config.routes[0].id?.onMissing = .old
        let table = RoutingTable(config: config)
        var flags = table.configuredFlags
        #expect(table.decide(method: "GET", target: "/orders/abc", flags: flags)
                == .forward(RoutingTarget(route: 0, backend: 0, side: .old, missingID: true)), "a read without its ID is not compared")
        flags[0].creates = .old
        #expect(table.resolve(route: 0, id: nil, method: .post, flags: flags) == .forward(RoutingTarget(route: 0, backend: 0, side: .old)),
                "a create is not a read")
        flags[0].threshold = nil
        #expect(table.decide(method: "GET", target: "/orders/5000", flags: flags)
                == .readCompare(primary: RoutingTarget(route: 0, backend: 0, side: .old), other: 1, sample: 0.5), "no threshold: old answers")
        flags[0].phase = .new
        #expect(table.decide(method: "GET", target: "/orders/5", flags: flags) == .forward(RoutingTarget(route: 0, backend: 1, side: .new)))
        #expect(table.decide(method: "HEAD", target: "/lists", flags: flags) == .forward(RoutingTarget(route: 2, backend: 0, side: .old)),
                "only a GET of a list is merged")
        #expect(table.decide(method: "GET", target: "/elsewhere", flags: flags) == .forward(RoutingTarget(route: nil, backend: 0, side: .old)))
    }

    @Test func anIDReadFromAHeaderIsComparedOnceResolved() throws {
        var config = try ConfigLoader.load(yaml: Self.config).get()
        config.routes[0].id = IDSource(from: .header, name: "X-Order", onMissing: .reject)
        let table = RoutingTable(config: config)
        #expect(table.decide(method: "GET", target: "/orders/x") == .awaitID(primary: RoutingTarget(route: 0, backend: 0, side: .old), from: .header))
        #expect(table.resolve(route: 0, id: 2000, method: .get, flags: table.configuredFlags)
                == .readCompare(primary: RoutingTarget(route: 0, backend: 1, side: .new), other: 0, sample: 0.5))
        guard case .reject(_, _, let reason, _) = table.resolve(route: 0, id: nil, method: .get, flags: table.configuredFlags) else {
            Issue.record("a read without its header ID is refused on this route")
            return
        }
        #expect(reason == "the request has no integer ID in its header 'X-Order'")
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
