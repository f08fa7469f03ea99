import CutoverCore
import NIOCore

/// What a configuration load produces for the data plane: the routing table,
/// the prepared backends and the derived lookups. Immutable and shared by all
/// event loops; a reload builds a new one.
final class RuntimeConfig: Sendable {
    /// Routes and the decision function.
    let routing: RoutingTable
    /// The backends, indexed like `routing.config.backends`.
    let targets: [BackendTarget]
    /// Lower-case host names an absolute-form request may name.
    let serverNames: Set<String>
    /// Names used as metric labels, per route index.
    let routeNames: [String]
    /// The limits of requests no route overrides.
    let limits: Limits
    /// How long a client may idle or dawdle over a request head.
    let clientTimeout: TimeAmount
    /// Per route: how requests are copied in phase shadow, and how long a copy may take.
    let shadow: [(settings: ShadowSettings, timeout: TimeAmount)]
    /// Per route: how answers are compared.
    let compare: [CompareRules]
    /// Per route: what the gray release reads, resolved once.
    let gray: [GrayRoute]

    /// A route's gray-release settings.
    struct GrayRoute: Sendable {
        var id: IDSource?
        var maxIDSeen: JSONPointer?
        var aggregate: AggregateSettings?
    }

    /// Prepares a validated configuration; throws when a backend's TLS settings cannot be loaded.
    init(_ config: CutoverConfig) throws {
        self.routing = RoutingTable(config: config)
        self.targets = try config.backends.map { try BackendTarget($0) }
        var names = Set(config.serverNames.map { $0.lowercased() })
        names.insert("localhost")
        names.insert(config.listen.host.lowercased())
        if let tls = config.tls { names.insert(tls.listen.host.lowercased()) }
        self.serverNames = names
        self.routeNames = config.routes.map(\.name)
        self.limits = config.limits
        self.clientTimeout = .nanoseconds(config.clientTimeout.nanoseconds)
        let backendsByName = Dictionary(config.backends.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.shadow = config.routes.map { route in
            let timeout = route.shadow.timeout ?? backendsByName[route.newBackend]?.responseTimeout ?? Backend.defaultResponseTimeout
            return (route.shadow, TimeAmount.nanoseconds(timeout.nanoseconds))
        }
        self.compare = config.routes.map(\.compare)
        self.gray = config.routes.map { GrayRoute(id: $0.id, maxIDSeen: $0.maxIDSeen, aggregate: $0.aggregate) }
    }

    /// The configuration.
    var config: CutoverConfig { routing.config }

    /// The tightest timeout of any backend, which sets how often deadlines are checked.
    var shortestTimeout: TimeAmount {
        (targets.map { min($0.connectTimeout, $0.responseTimeout) } + [clientTimeout]).min()!
    }
}

/// The label a request with no matching route is counted under.
let unmatchedRouteLabel = "_unmatched"
