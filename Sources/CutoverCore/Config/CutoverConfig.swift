/// A validated Cutover configuration: everything `cutover serve` needs to run.
/// Built only by ``ConfigLoader``, which guarantees the invariants noted on
/// each field (names unique, references resolved, values in range).
public struct CutoverConfig: Sendable, Hashable {
    /// The proxy listener.
    public var listen: ListenAddress
    /// An optional TLS listener for clients, beside the plain one.
    public var tls: ListenerTLS?
    /// Host names the proxy answers for; an absolute-form request naming any
    /// other host is refused. The listen addresses and `localhost` always count.
    public var serverNames: [String]
    /// Event-loop threads; nil means one per core.
    public var threads: Int?
    /// Request limits that apply where a route does not override them.
    public var limits: Limits
    /// Limits on the gateway as a whole (connections, memory held for request bodies).
    public var gatewayLimits: GatewayLimits = .defaults
    /// How long a graceful shutdown waits for in-flight requests.
    public var drainTimeout: Duration
    /// How long a client connection may sit idle, or take to send a request head, before it is closed
    /// (408 when a request was under way). Request bodies are bounded by ``Limits/bodyTimeout`` and ``Limits/bodyMinRate``.
    public var clientTimeout: Duration
    /// The admin listener and its tokens.
    public var admin: AdminSettings
    /// Where state is kept.
    public var store: StoreLocation
    /// The queue between the proxy and the comparator.
    public var diffQueue: DiffQueueSettings
    /// The configured upstreams, in document order; names are unique.
    public var backends: [Backend]
    /// The routes, in match order (first match wins); names are unique and
    /// every backend they name exists.
    public var routes: [Route]
    /// The databases and tables `cutover reconcile` compares, if configured.
    public var reconcile: ReconcileSettings? = nil
    /// The hosts and tasks `cutover host` moves the service with, if configured.
    public var hostCutover: HostCutoverSettings? = nil
    /// The migration plan (`plan:`), if configured.
    public var plan: PlanSettings? = nil

    /// The backend with this name, if configured.
    public func backend(named name: String) -> Backend? {
        backends.first { $0.name == name }
    }

    /// The name of the backend that answers requests no route matches.
    public static let defaultBackendName = "old"
    /// The name of the second old instance whose answers measure noise, when configured.
    public static let noiseBackendName = "old-secondary"
}

/// Bounds of the queue of response pairs waiting to be compared: when either is
/// reached, new pairs are dropped (and counted) rather than the queue growing.
public struct DiffQueueSettings: Sendable, Hashable {
    /// The most pairs waiting.
    public var size: Int
    /// The most bytes of captured bodies waiting.
    public var maxBytes: Int

    /// 10,000 pairs, 256 MiB.
    public static let defaults = DiffQueueSettings(size: 10_000, maxBytes: 256 * 1024 * 1024)

    public init(size: Int, maxBytes: Int) {
        self.size = size
        self.maxBytes = maxBytes
    }
}

/// How a route in phase `shadow` copies requests to the new backend.
public struct ShadowSettings: Sendable, Hashable {
    /// What happens to requests that change data (POST, PUT, PATCH, DELETE).
    public enum Writes: String, Sendable, Hashable, CaseIterable {
        /// They are not sent to new (the default).
        case skip
        /// They are sent to new too, marked `X-Cutover-Shadow: 1`.
        case mirror
    }

    /// When the copy goes to new.
    public enum Order: String, Sendable, Hashable, CaseIterable {
        /// At the same time as to old.
        case parallel
        /// Only after old answered 2xx, with values from old's answer as headers.
        case afterPrimary = "after-primary"
    }

    /// A header sent to new with a value taken from old's answer.
    public struct PrimaryHeader: Sendable, Hashable {
        public var name: String
        public var pointer: JSONPointer
        public init(name: String, pointer: JSONPointer) {
            self.name = name
            self.pointer = pointer
        }
    }

    public var writes: Writes
    public var order: Order
    /// The share of requests copied, chosen by request ID (the same ID is always in or out).
    public var sample: Double
    /// Request bodies larger than this are not copied; answers are compared up to this size.
    public var maxBody: Int
    /// How long new may take to answer a copy; nil means the new backend's response timeout.
    public var timeout: Duration?
    /// Headers for new taken from old's answer (with `order: after-primary`).
    public var primaryHeaders: [PrimaryHeader]

    /// Writes skipped, parallel, every request, 1 MiB.
    public static let defaults = ShadowSettings(writes: .skip, order: .parallel, sample: 1, maxBody: 1024 * 1024,
                                                timeout: nil, primaryHeaders: [])

    public init(writes: Writes, order: Order, sample: Double, maxBody: Int, timeout: Duration?, primaryHeaders: [PrimaryHeader]) {
        self.writes = writes
        self.order = order
        self.sample = sample
        self.maxBody = maxBody
        self.timeout = timeout
        self.primaryHeaders = primaryHeaders
    }
}

/// Certificate and key for a TLS listener.
public struct ListenerTLS: Sendable, Hashable {
    /// Where the TLS listener binds.
    public var listen: ListenAddress
    /// PEM file with the certificate chain.
    public var certificateFile: String
    /// PEM file with the private key.
    public var keyFile: String
}

/// Limits on client requests; a route may override each.
public struct Limits: Sendable, Hashable {
    /// The most bytes the request line and headers together may take (431 beyond).
    public var maxHeaderBytes: Int
    /// The most bytes a request body may take (413 beyond).
    public var maxBodyBytes: Int
    /// How much of a request body is read before a backend connection is taken: a body that fits is read whole
    /// (and checked) first, so a slow client never holds a backend connection while it sends one.
    public var requestBuffer: Int
    /// The longest a client may take between two parts of its request body, and the grace every body starts with
    /// before ``bodyMinRate`` applies (408 beyond).
    public var bodyTimeout: Duration
    /// The least average rate, in bytes per second, a request body must arrive at once its ``bodyTimeout`` grace
    /// is used up (408 below); 0 turns the rate off.
    public var bodyMinRate: Int

    /// Creates limits.
    public init(maxHeaderBytes: Int, maxBodyBytes: Int, requestBuffer: Int = 64 * 1024, bodyTimeout: Duration = .seconds(60),
                bodyMinRate: Int = 1024) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.requestBuffer = requestBuffer
        self.bodyTimeout = bodyTimeout
        self.bodyMinRate = bodyMinRate
    }

    /// nginx-like defaults: 32 KiB of headers, 10 MiB of body, 64 KiB read before a backend is contacted,
    /// 60 s between body reads (nginx's `client_body_timeout`), and at least 1 KiB/s on average after that.
    public static let defaults = Limits(maxHeaderBytes: 32 * 1024, maxBodyBytes: 10 * 1024 * 1024)
}

/// Limits on the gateway as a whole, so that load is shed before memory grows.
public struct GatewayLimits: Sendable, Hashable {
    /// The most client connections open at once; one more is answered 503 with `Retry-After` and closed.
    public var maxClientConnections: Int
    /// The most bytes of request bodies held in memory at once (read ahead of a backend connection, or waiting for
    /// one); a request with a body that arrives beyond it is answered 503 with `Retry-After`.
    public var bufferMemory: Int

    public init(maxClientConnections: Int = 10_000, bufferMemory: Int = 256 * 1024 * 1024) {
        self.maxClientConnections = maxClientConnections
        self.bufferMemory = bufferMemory
    }

    /// 10,000 connections, 256 MiB of held bodies.
    public static let defaults = GatewayLimits()
}

/// The admin listener.
public struct AdminSettings: Sendable, Hashable {
    /// Where the admin API listens.
    public var listen: ListenAddress
    /// Bearer tokens allowed to call `/api/v1/`.
    public var tokens: [AdminToken]
    /// TLS for the admin listener, optionally requiring client certificates.
    public var tls: AdminTLS?
    /// How many failed authentications an address may make in a burst, and how many are forgiven per second.
    public var failedAuthBurst: Int = 20
    public var failedAuthPerSecond: Double = 1

    /// Creates admin settings.
    public init(listen: ListenAddress, tokens: [AdminToken], tls: AdminTLS? = nil) {
        self.listen = listen
        self.tokens = tokens
        self.tls = tls
    }
}

/// TLS on the admin listener. With a client CA, a client must present a certificate
/// that CA issued (mutual TLS) before any request, in addition to its bearer token.
public struct AdminTLS: Sendable, Hashable {
    /// PEM file with the listener's certificate chain.
    public var certificateFile: String
    /// PEM file with its private key.
    public var keyFile: String
    /// PEM file with the CAs whose client certificates are accepted; nil: no client certificate asked.
    public var clientCAFile: String?

    public init(certificateFile: String, keyFile: String, clientCAFile: String?) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
    }
}

/// A bearer token accepted by the admin API, stored as the SHA-256 of the token.
public struct AdminToken: Sendable, Hashable {
    /// What the token may do.
    public enum Role: String, Sendable, Hashable, CaseIterable {
        /// Reads everything.
        case viewer
        /// Reads everything and changes phases and flags.
        case `operator`
    }

    /// Who holds the token; the audit log records this name.
    public var name: String
    /// The token's role.
    public var role: Role
    /// Lower-case hex SHA-256 of the token.
    public var sha256: String

    /// Creates a token entry.
    public init(name: String, role: Role, sha256: String) {
        self.name = name
        self.role = role
        self.sha256 = sha256
    }
}

/// A configured upstream.
public struct Backend: Sendable, Hashable {
    /// The name routes use (`old`, `new`, `old-secondary`, …).
    public var name: String
    /// Where it is.
    public var url: BackendURL
    /// The most connections to it per event loop (the pool's bound).
    public var poolSize: Int
    /// The most requests per event loop waiting for one of those connections; one more is answered 503 with `Retry-After` at once.
    public var maxQueue: Int = Backend.defaultMaxQueue
    /// How long establishing a connection (and its TLS handshake) may take: 502 beyond.
    public var connectTimeout: Duration
    /// How long the backend may take to start its response: 504 beyond. The same
    /// bound applies between reads of a response body.
    public var responseTimeout: Duration
    /// A `Host` header to send instead of the client's.
    public var hostHeader: String?
    /// TLS settings for `https://` backends.
    public var tls: BackendTLS

    /// Defaults for the optional backend settings.
    public static let defaultPoolSize = 256
    /// The line of requests waiting for a connection, per event loop, when none is configured.
    public static let defaultMaxQueue = 1024
    /// The connect timeout when none is configured.
    public static let defaultConnectTimeout: Duration = .seconds(5)
    /// The response timeout when none is configured.
    public static let defaultResponseTimeout: Duration = .seconds(60)
}

/// How Cutover verifies an `https://` backend.
public struct BackendTLS: Sendable, Hashable {
    /// Extra trust roots (PEM); the system's roots when nil.
    public var caFile: String?
    /// Whether the certificate is verified (chain and host name). On unless turned off.
    public var verify: Bool
    /// The name sent in SNI and checked against the certificate; the URL's host when nil.
    public var serverName: String?

    /// Creates TLS settings.
    public init(caFile: String?, verify: Bool, serverName: String?) {
        self.caFile = caFile
        self.verify = verify
        self.serverName = serverName
    }

    /// Verification on, system roots.
    public static let defaults = BackendTLS(caFile: nil, verify: true, serverName: nil)
}

/// A configured route: which requests it matches and where they go.
public struct Route: Sendable, Hashable {
    /// Unique name; metrics and the admin API use it.
    public var name: String
    /// Which requests belong to the route.
    public var match: RouteMatch
    /// The route's migration phase.
    public var phase: Phase
    /// The backend that plays "old" for this route.
    public var oldBackend: String
    /// The backend that plays "new" for this route.
    public var newBackend: String
    /// Limits for this route, defaulted from the top-level `limits`.
    public var limits: Limits
    /// The backend that plays a second old instance (noise baseline), if any.
    public var noiseBackend: String?
    /// How requests are copied to new in phase `shadow`.
    public var shadow: ShadowSettings
    /// How the two answers are compared.
    public var compare: CompareRules
    /// Where the entity ID of a request is, for routing by ID in `gray` and `drain`.
    public var id: IDSource? = nil
    /// Where the entity ID is in an answer: the highest seen per side is the evidence for the threshold.
    public var maxIDSeen: JSONPointer? = nil
    /// How the route answers in `gray`.
    public var gray: GraySettings = .defaults
    /// The evidence needed to move forward.
    public var gates: GateSettings = .defaults
    /// When the route steps back by itself.
    public var autoRollback: AutoRollbackSettings? = nil
    /// How an ID-less list route merges both sides in `gray`.
    public var aggregate: AggregateSettings? = nil

    /// Why the route cannot be in `phase`, if it cannot: `gray` and `drain` need an ID source
    /// or list aggregation, and with an ID source `gray` needs a threshold.
    public func refusal(of phase: Phase, threshold: Int64?) -> String? {
        guard phase == .gray || phase == .drain else { return nil }
        if id == nil, aggregate == nil {
            return "route '\(name)' has neither 'id' nor 'aggregate', so it cannot be routed in phase \(phase.rawValue)"
        }
        if id != nil, threshold == nil {
            return "route '\(name)' has no gray.threshold, so phase \(phase.rawValue) cannot split by ID"
        }
        return nil
    }
}

/// The request properties a route matches on. Every given property must match.
public struct RouteMatch: Sendable, Hashable {
    /// Allowed methods (upper case); empty means any.
    public var methods: [String]
    /// A path template (`/orders/{id}`) that must match the whole path.
    public var path: PathTemplate?
    /// A literal prefix the path must start with.
    public var prefix: String?
}
