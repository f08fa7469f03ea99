@testable import CutoverCore
@testable import CutoverProxy
import NIOCore
import Testing

/// Every way a request head is admitted or refused, without a socket: the order of the checks, routing on each target
/// form, the route's bounds, the gateway's body memory, Expect, and what a gray route waits for.
@Suite("Request admission")
struct RequestAdmissionTests {
    static let yaml = """
        listen: "127.0.0.1:0"
        admin: { listen: "127.0.0.1:0" }
        server_names: [shop.example]
        backends:
          old: { url: "http://127.0.0.1:9001" }
          new: { url: "http://127.0.0.1:9002" }
        routes:
          - name: small
            match: { prefix: "/small/" }
            phase: old
            limits: { max_header_bytes: 1KiB, max_body_bytes: 10 }
          - name: by-header
            match: { prefix: "/h/" }
            phase: gray
            id: { from: header, name: X-Order-Id }
            gray: { threshold: 1000 }
          - name: by-body
            match: { methods: [POST, PUT], path: "/payments" }
            phase: gray
            id: { from: body, name: /order/id }
            gray: { threshold: 1000, creates: old }
          - name: by-query
            match: { path: "/invoices" }
            phase: gray
            id: { from: query, name: order, on_missing: reject }
            gray: { threshold: 1000 }
          - name: order-list
            match: { methods: [GET], path: "/orders" }
            phase: gray
            aggregate: { array: /items, key: /id, order: desc, limit_param: limit, cursor_param: cursor, on_partial: fail }
        """

    let runtime: RuntimeConfig

    init() throws {
        runtime = try RuntimeConfig(try ConfigLoader.load(yaml: Self.yaml).get())
    }

    func head(_ text: String) throws -> RequestHead {
        var parser = RequestParser(maxHeadBytes: 64 * 1024)
        var input = ByteBuffer(string: text)
        guard case .head(let head) = try parser.next(&input) else { throw RequestParseError.malformedRequestLine }
        return head
    }

    func admit(_ text: String, localHost: String? = "192.0.2.10", bodyMemoryFull: Bool = false) throws -> RequestAdmission {
        RequestAdmission.admit(try head(text), runtime: runtime, flags: runtime.routing.configuredFlags, localHost: localHost,
                               bodyMemoryFull: bodyMemoryFull)
    }

    func refusal(_ admission: RequestAdmission) -> RequestAdmission.Refusal? {
        if case .refuse(let refusal) = admission.next { return refusal }
        return nil
    }

    func dispatched(_ admission: RequestAdmission) -> Bool {
        if case .dispatch = admission.next { return true }
        return false
    }

    func routeName(_ admission: RequestAdmission) -> String? {
        admission.plan.target.route.map { runtime.routeNames[$0] }
    }

    // MARK: - Method, Host, target

    @Test func connectIsRefusedBeforeAnythingElse() throws {
        let admission = try admit("CONNECT shop.example:443 HTTP/1.1\r\n\r\n")
        #expect(refusal(admission)?.status == 405)
        #expect(refusal(admission)?.label == "method")
        #expect(admission.plan.target.route == nil, "refused before it is routed")
    }

    @Test func hostIsRequiredOnceInHTTP11AndOptionalInHTTP10() throws {
        #expect(refusal(try admit("GET /a HTTP/1.1\r\n\r\n")) == .init(status: 400, reason: "missing Host header", label: "host"))
        #expect(refusal(try admit("GET /a HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n")) == .init(status: 400, reason: "more than one Host header", label: "host"))
        #expect(refusal(try admit("GET /a HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"))?.label == "host")
        #expect(dispatched(try admit("GET /a HTTP/1.0\r\n\r\n")))
    }

    @Test func anOriginFormTargetIsRoutedAsSent() throws {
        let admission = try admit("GET /small/x HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(dispatched(admission))
        #expect(routeName(admission) == "small")
        #expect(admission.targetOverride == nil && admission.hostOverride == nil)
        #expect(admission.limits.maxBodyBytes == 10, "the route's limits apply")
        let unrouted = try admit("GET /elsewhere HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(unrouted.plan.target.route == nil)
        #expect(unrouted.plan.target.backend == runtime.routing.defaultBackend)
        #expect(unrouted.limits == runtime.limits)
    }

    @Test func theAsteriskIsForOptionsOnly() throws {
        #expect(dispatched(try admit("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")))
        #expect(refusal(try admit("GET * HTTP/1.1\r\nHost: a\r\n\r\n")) == .init(status: 400, reason: "'*' is a target for OPTIONS only", label: "target"))
    }

    @Test func anAbsoluteTargetIsServedOnlyWhenItNamesThisGateway() throws {
        let named = try admit("GET http://Shop.Example:8080/small/x?q=1 HTTP/1.1\r\nHost: other\r\n\r\n")
        #expect(dispatched(named))
        #expect(routeName(named) == "small", "routed on the absolute target's path")
        #expect(named.targetOverride == "/small/x?q=1")
        #expect(named.hostOverride == "Shop.Example:8080")
        #expect(dispatched(try admit("GET http://192.0.2.10/a HTTP/1.1\r\nHost: x\r\n\r\n")), "the address the client connected to")
        #expect(dispatched(try admit("GET http://localhost/a HTTP/1.1\r\nHost: x\r\n\r\n")))
        let foreign = try admit("GET http://evil.example/a HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        #expect(refusal(foreign)?.status == 421)
        #expect(refusal(foreign)?.label == "foreign_host")
        #expect(refusal(foreign)?.reason.contains("'evil.example'") == true)
        #expect(refusal(try admit("GET http://192.0.2.10/a HTTP/1.1\r\nHost: x\r\n\r\n", localHost: nil))?.status == 421)
    }

    @Test func aTargetInNoFormIsRefused() throws {
        #expect(refusal(try admit("GET shop.example HTTP/1.1\r\nHost: a\r\n\r\n")) == .init(status: 400, reason: "invalid request target", label: "target"))
    }

    // MARK: - Bounds

    @Test func theRoutesHeaderBoundComesBeforeItsBodyBound() throws {
        let padding = String(repeating: "a", count: 1100)
        let both = try admit("PUT /small/x HTTP/1.1\r\nHost: a\r\nX-Pad: \(padding)\r\nContent-Length: 11\r\n\r\n")
        #expect(refusal(both)?.status == 431)
        #expect(refusal(both)?.label == "header_too_large")
        #expect(refusal(both)?.reason.contains("1024 bytes") == true)
        #expect(dispatched(try admit("GET /elsewhere HTTP/1.1\r\nHost: a\r\nX-Pad: \(padding)\r\n\r\n")), "other routes keep the gateway's bound")
    }

    @Test func anAnnouncedBodyOverTheRoutesBoundIs413() throws {
        let over = try admit("PUT /small/x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n")
        #expect(refusal(over) == .init(status: 413, reason: "request body of 11 bytes is larger than the limit of 10", label: "body_too_large"))
        #expect(dispatched(try admit("PUT /small/x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n")))
        #expect(dispatched(try admit("PUT /small/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")),
                "a chunked body is bounded as it arrives")
    }

    @Test func aBodyIsShedWhenTheGatewaysBodyMemoryIsFull() throws {
        let shed = try admit("PUT /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", bodyMemoryFull: true)
        #expect(refusal(shed)?.status == 503)
        #expect(refusal(shed)?.label == "buffer_memory")
        #expect(refusal(shed)?.retryAfter == true)
        #expect(refusal(try admit("POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", bodyMemoryFull: true))?.status == 503)
        #expect(dispatched(try admit("GET /a HTTP/1.1\r\nHost: a\r\n\r\n", bodyMemoryFull: true)), "a request without a body costs no memory")
        #expect(dispatched(try admit("PUT /a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", bodyMemoryFull: true)))
    }

    // MARK: - Expect

    @Test func onlyHundredContinueIsExpectedAndOnlyFromHTTP11() throws {
        let asks = try admit("PUT /a HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n")
        #expect(dispatched(asks) && asks.expectsContinue)
        let other = try admit("PUT /a HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 5\r\n\r\n")
        #expect(refusal(other) == .init(status: 417, reason: "unsupported expectation 'teapot'", label: "expect"))
        let old = try admit("PUT /a HTTP/1.0\r\nExpect: teapot\r\nContent-Length: 5\r\n\r\n")
        #expect(dispatched(old) && !old.expectsContinue, "an HTTP/1.0 client's Expect is ignored")
        #expect(!(try admit("PUT /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n")).expectsContinue)
    }

    @Test func boundsAreCheckedBeforeTheExpectation() throws {
        let admission = try admit("PUT /small/x HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 11\r\n\r\n")
        #expect(refusal(admission)?.status == 413)
    }

    // MARK: - Gray routes

    @Test func anIDInAHeaderIsResolvedAtOnce() throws {
        let high = try admit("GET /h/a HTTP/1.1\r\nHost: a\r\nX-Order-Id: 1000\r\n\r\n")
        #expect(dispatched(high))
        #expect(high.plan.target.side == .new)
        #expect(routeName(high) == "by-header")
        let low = try admit("GET /h/a HTTP/1.1\r\nHost: a\r\nx-order-id:  3 \r\n\r\n")
        #expect(low.plan.target.side == .old)
        let none = try admit("GET /h/a HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(dispatched(none) && none.plan.target.route != nil, "a missing ID is resolved by the route's on_missing")
    }

    @Test func anIDInTheBodyHoldsTheRequest() throws {
        let held = try admit("POST /payments HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n")
        guard case .holdForBodyID(let route, let source) = held.next else {
            Issue.record("not held: \(held.next)")
            return
        }
        #expect(runtime.routeNames[route] == "by-body")
        #expect(source.name == "/order/id")
        let bodyless = try admit("POST /payments HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
        #expect(dispatched(bodyless), "without a body there is no ID to wait for")
        #expect(bodyless.plan.target.side == .old, "creates: old")
    }

    @Test func aMissingIDTheRouteRejectsIsRefusedWhenDispatched() throws {
        let admission = try admit("GET /invoices HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(dispatched(admission))
        guard case .reject(_, let status, _, let label) = admission.plan else {
            Issue.record("not a reject plan: \(admission.plan)")
            return
        }
        #expect(status == 400 && label == "missing_id")
        let found = try admit("GET /invoices?order=5000 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(found.plan.target.side == .new)
    }

    @Test func aListReadIsAggregatedWithItsPageParameters() throws {
        let list = try admit("GET /orders?limit=7&state=open HTTP/1.1\r\nHost: a\r\n\r\n")
        guard case .aggregate(let read) = list.next else {
            Issue.record("not aggregated: \(list.next)")
            return
        }
        #expect(runtime.routeNames[read.route] == "order-list")
        #expect(read.limit == 7)
        #expect(read.path == "/orders")
        #expect(read.query == "limit=7&state=open")
        let absolute = try admit("GET http://shop.example/orders HTTP/1.1\r\nHost: a\r\n\r\n")
        guard case .aggregate(let fromAbsolute) = absolute.next else {
            Issue.record("not aggregated: \(absolute.next)")
            return
        }
        #expect(fromAbsolute.path == "/orders" && fromAbsolute.query.isEmpty)
        let badCursor = try admit("GET /orders?cursor=%%% HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(refusal(badCursor)?.status == 400)
        #expect(refusal(badCursor)?.label == "bad_cursor")
        #expect(refusal(try admit("GET /orders?limit=0 HTTP/1.1\r\nHost: a\r\n\r\n"))?.label == "bad_cursor")
        let withBody = try admit("GET /orders HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n")
        #expect(dispatched(withBody), "a list read with a body goes to the primary side whole")
    }
}
