import CutoverCore
import NIOCore

/// What the gateway does with a request head, decided from the head and the configuration and flags the exchange
/// runs under before anything is written anywhere: refused (with the status, the reason and the label it is counted
/// under), sent on as routed, held until the ID in its body is read, or answered from both sides' merged list pages.
/// The checks run in one order a client can rely on — method, Host, target and routing, header size, body size,
/// the gateway's body memory, Expect — and the first that fails decides the answer. The channel handler carries the
/// result out; every path is tested without a socket.
struct RequestAdmission {
    /// A request answered by the gateway itself before it reaches a backend.
    struct Refusal: Equatable {
        var status: Int
        var reason: String
        /// The label it is counted under (`cutover_rejected_requests_total{reason}`).
        var label: String
        /// A passing condition: the answer says when to try again.
        var retryAfter = false
    }

    /// A list request of a route in gray, to be answered from both sides' pages.
    struct ListRead {
        var route: Int
        var settings: AggregateSettings
        var limit: Int
        var cursor: ListMerge.Cursor
        /// The target's path and query (of the path of an absolute-form target).
        var path: Substring
        var query: Substring
    }

    /// What happens next.
    enum Next {
        case refuse(Refusal)
        /// Sent on as ``RequestAdmission/plan`` says (a `reject` plan is refused when it is dispatched).
        case dispatch
        /// The route's ID is in the body: the request is held until the body (or its first 64 KiB) is in.
        case holdForBodyID(route: Int, source: IDSource)
        case aggregate(ListRead)
    }

    /// The route and backend the request goes to; until the request is routed, the default backend.
    var plan: RoutingPlan
    /// The limits that apply: the route's, or the gateway's before a route is known.
    var limits: Limits
    /// The path to send instead of the client's target (an absolute-form target naming this gateway).
    var targetOverride: String?
    /// The Host to send instead of the client's (the authority of an absolute-form target).
    var hostOverride: String?
    /// The client asked to be told to send its body (`Expect: 100-continue`, HTTP/1.1).
    var expectsContinue = false
    var next: Next

    /// Admits `head`. `localHost`: the address the client connected to (an absolute-form target may name it);
    /// `bodyMemoryFull`: the loop holds as many request body bytes as its `buffer_memory` share allows.
    static func admit(_ head: RequestHead, runtime: RuntimeConfig, flags: [RouteFlags], localHost: String?,
                      bodyMemoryFull: Bool) -> RequestAdmission {
        var admission = RequestAdmission(plan: .forward(RoutingTarget(route: nil, backend: runtime.routing.defaultBackend, side: .old)),
                                         limits: runtime.limits, next: .dispatch)
        if let refusal = admission.route(head, runtime: runtime, flags: flags, localHost: localHost) {
            admission.next = .refuse(refusal)
            return admission
        }
        if let refusal = admission.check(head, runtime: runtime, bodyMemoryFull: bodyMemoryFull) {
            admission.next = .refuse(refusal)
            return admission
        }
        admission.next = admission.continuation(head, runtime: runtime, flags: flags)
        return admission
    }

    /// Routes on the target as the client sent it, or on the path of an absolute-form target naming this gateway.
    private mutating func route(_ head: RequestHead, runtime: RuntimeConfig, flags: [RouteFlags], localHost: String?) -> Refusal? {
        guard head.method != .connect else {
            return Refusal(status: 405, reason: "CONNECT is not supported: Cutover is not a forward proxy", label: "method")
        }
        if head.minorVersion >= 1, head.hostCount == 0 { return Refusal(status: 400, reason: "missing Host header", label: "host") }
        if head.hostCount > 1 { return Refusal(status: 400, reason: "more than one Host header", label: "host") }

        let routed: RoutingPlan? = head.raw.withUnsafeReadableBytes { bytes in
            let method = UnsafeRawBufferPointer(rebasing: bytes[head.methodRange])
            let target = UnsafeRawBufferPointer(rebasing: bytes[head.targetRange])
            if target.first == UInt8(ascii: "/") || (target.count == 1 && target.first == UInt8(ascii: "*") && head.method == .options) {
                return runtime.routing.decide(method: method, kind: head.method, target: target, flags: flags)
            }
            return nil
        }
        if let routed {
            plan = routed
            return nil
        }
        switch RequestTarget.parse(head.targetText) {
        case .asterisk:
            return Refusal(status: 400, reason: "'*' is a target for OPTIONS only", label: "target")
        case .absolute(let authority, let host, let path):
            let lowered = host.lowercased()
            guard runtime.serverNames.contains(lowered) || lowered == localHost else {
                return Refusal(status: 421, reason: "host '\(host)' is not served here: Cutover is not an open proxy", label: "foreign_host")
            }
            hostOverride = String(authority)
            targetOverride = String(path)
            plan = runtime.routing.decide(method: head.methodText, target: path, flags: flags)
            return nil
        case .origin, .invalid:
            return Refusal(status: 400, reason: "invalid request target", label: "target")
        }
    }

    /// The route's bounds on the head and the body, the gateway's body memory, and the client's expectation.
    private mutating func check(_ head: RequestHead, runtime: RuntimeConfig, bodyMemoryFull: Bool) -> Refusal? {
        if let route = plan.target.route { limits = runtime.routing.routeLimits[route] }
        if head.byteCount > limits.maxHeaderBytes {
            return Refusal(status: 431, reason: "request header fields larger than the route's \(limits.maxHeaderBytes) bytes", label: "header_too_large")
        }
        if case .contentLength(let length) = head.framing, length > limits.maxBodyBytes {
            return Refusal(status: 413, reason: "request body of \(length) bytes is larger than the limit of \(limits.maxBodyBytes)", label: "body_too_large")
        }
        if head.framing.hasBody, bodyMemoryFull {
            // Shed load before memory grows: the gateway already holds as much request data as it may.
            return Refusal(status: 503, reason: "the gateway holds as many request bodies as it may; retry shortly", label: "buffer_memory",
                           retryAfter: true)
        }
        // An HTTP/1.0 client's Expect is ignored (RFC 9110 §10.1.1: it cannot expect an interim answer).
        if let expect = head.expect, head.minorVersion >= 1 {
            let value = head.text(expect)
            guard value.lowercased() == "100-continue" else {
                return Refusal(status: 417, reason: "unsupported expectation '\(value)'", label: "expect")
            }
            expectsContinue = true
        }
        return nil
    }

    /// What a routed, checked request waits for: its ID (from a header, resolved now, or from its body), both sides'
    /// list pages, or nothing.
    private mutating func continuation(_ head: RequestHead, runtime: RuntimeConfig, flags: [RouteFlags]) -> Next {
        switch plan {
        case .awaitID(let primary, _):
            guard let route = primary.route, let source = runtime.gray[route].id else { return .dispatch }
            switch source.from {
            case .header:
                let id = head.header(named: source.name).flatMap { source.id(inHeader: Substring($0)) }
                plan = runtime.routing.resolve(route: route, id: id, method: head.method, flags: flags)
                return .dispatch
            case .body where head.framing.hasBody:
                return .holdForBodyID(route: route, source: source)
            default:
                plan = runtime.routing.resolve(route: route, id: nil, method: head.method, flags: flags)
                return .dispatch
            }
        case .aggregate(let primary) where !head.framing.hasBody:
            // A list read with a body is forwarded to the primary side whole.
            guard let route = primary.route, let settings = runtime.gray[route].aggregate else { return .dispatch }
            let target = targetOverride ?? head.targetText
            let path = target.prefix { $0 != "?" }
            let query = target.dropFirst(path.count).dropFirst()
            switch ListMerge.parameters(query: query, settings: settings) {
            case .success(let parameters):
                return .aggregate(ListRead(route: route, settings: settings, limit: parameters.limit, cursor: parameters.cursor,
                                           path: path, query: query))
            case .failure(let error):
                return .refuse(Refusal(status: 400, reason: error.reason, label: "bad_cursor"))
            }
        default:
            return .dispatch
        }
    }
}
