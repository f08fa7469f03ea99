/// A request's method as routing and copying read it (RFC 9110 §9).
public enum RequestMethod: Sendable, Hashable {
    case get, head, post, put, delete, options, patch, trace, connect, other

    /// Classifies a method token (methods are case-sensitive: `get` is not GET).
    public init(_ token: UnsafeRawBufferPointer) {
        func equals(_ name: StaticString) -> Bool {
            token.count == name.utf8CodeUnitCount
                && name.withUTF8Buffer { token.elementsEqual($0) }
        }
        switch token.count {
        case 3: self = equals("GET") ? .get : equals("PUT") ? .put : .other
        case 4: self = equals("HEAD") ? .head : equals("POST") ? .post : .other
        case 5: self = equals("PATCH") ? .patch : equals("TRACE") ? .trace : .other
        case 6: self = equals("DELETE") ? .delete : .other
        case 7: self = equals("OPTIONS") ? .options : equals("CONNECT") ? .connect : .other
        default: self = .other
        }
    }

    /// Classifies a method given as text.
    public init(_ token: String) {
        var token = token
        self = token.withUTF8 { RequestMethod(UnsafeRawBufferPointer($0)) }
    }

    /// Safe methods (RFC 9110 §9.2.1): they change nothing on the server, so a copy of them changes nothing either.
    public var isSafe: Bool {
        switch self {
        case .get, .head, .options, .trace: return true
        default: return false
        }
    }

    /// Safe or idempotent methods (RFC 9110 §9.2.2): a request with them may be retried.
    public var isIdempotent: Bool {
        isSafe || self == .put || self == .delete
    }

    /// A read whose answer two sides can be compared on (a gray read comparison): GET and HEAD.
    public var isRead: Bool { self == .get || self == .head }
}

/// The side and backend a request goes to.
public struct RoutingTarget: Sendable, Hashable {
    /// Which side of the migration answers.
    public enum Side: String, Sendable, Hashable, CaseIterable, Codable {
        case old, new
    }

    /// Index into `config.routes`; nil when no route matched.
    public var route: Int?
    /// Index into `config.backends` of the backend that answers.
    public var backend: Int
    /// The migration side that answers.
    public var side: Side
    /// The request had no usable ID (counted); the route's `on_missing` chose the side.
    public var missingID: Bool

    /// Creates a target.
    public init(route: Int?, backend: Int, side: Side, missingID: Bool = false) {
        self.route = route
        self.backend = backend
        self.side = side
        self.missingID = missingID
    }
}

/// What the gateway does with a request, decided by ``RoutingTable`` from its route's flags, its method and its ID.
/// The data plane carries a plan out; every policy (what may be copied, where a read comparison goes, when a
/// request is refused) is decided here.
public enum RoutingPlan: Sendable, Hashable {
    /// Send the request to one backend.
    case forward(RoutingTarget)
    /// Phase shadow: `primary` answers the client; a copy goes to backend `copy`, and to `noise` (a second old
    /// instance measuring noise) when one is configured and the request is safe to send twice.
    case shadow(primary: RoutingTarget, copy: Int, noise: Int?)
    /// Gray or drain, a read routed by its ID on a route that compares reads: `primary` answers, the other side's
    /// backend `other` gets a copy for a share `sample` of requests (chosen by request ID).
    case readCompare(primary: RoutingTarget, other: Int, sample: Double)
    /// A list read of a route in gray: both sides are asked and their pages merged (`primary` names the route and
    /// the backend whose limits apply; a request with a body is forwarded to it instead).
    case aggregate(primary: RoutingTarget)
    /// The route's ID is in a header or the body: the plan is made once it is read
    /// (``RoutingTable/resolve(route:id:method:flags:)``).
    case awaitID(primary: RoutingTarget, from: IDSource.From)
    /// The request is refused before it reaches a backend: the status, the reason given to the client, the label it
    /// is counted under (`cutover_rejected_requests_total{reason}`).
    case reject(primary: RoutingTarget, status: Int, reason: String, label: String)

    /// Where the request goes (or would have gone): the answering side for metrics, limits and evidence.
    public var target: RoutingTarget {
        switch self {
        case .forward(let target): return target
        case .shadow(let primary, _, _), .readCompare(let primary, _, _), .aggregate(let primary), .awaitID(let primary, _),
             .reject(let primary, _, _, _):
            return primary
        }
    }
}

extension ShadowSettings {
    /// Why a request of a shadow route is not copied (`write`, `sample`, `body_too_large`), or nil to copy it.
    /// `bodyLength` is the announced length when there is one.
    public func skipReason(method: RequestMethod, requestID: String, bodyLength: Int?) -> String? {
        if !method.isSafe, writes == .skip { return "write" }
        if sample < 1, Self.sampleFraction(requestID) >= sample { return "sample" }
        if let bodyLength, bodyLength > maxBody { return "body_too_large" }
        return nil
    }

    /// Where a request ID falls in [0, 1): the same ID always lands in the same place (FNV-1a, then the 64-bit
    /// finaliser of MurmurHash3: FNV-1a alone moves its high bits little for a change in the last bytes, so IDs that
    /// differ only at their end — sequential IDs, time-ordered UUIDs — would all fall on one side of the sample).
    public static func sampleFraction(_ requestID: String) -> Double {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in requestID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        hash ^= hash >> 33
        hash &*= 0xFF51_AFD7_ED55_8CCD
        hash ^= hash >> 33
        hash &*= 0xC4CE_B9FE_1A85_EC53
        hash ^= hash >> 33
        return Double(hash >> 11) / Double(1 << 53)
    }
}
