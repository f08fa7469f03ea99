/// The switch flags of one route: what operators change at runtime through the
/// admin API. The configuration gives their first values; afterwards the store
/// holds them, with a version every gateway instance applies.
public struct RouteFlags: Sendable, Hashable, Codable {
    public var phase: Phase
    /// IDs at or above it are answered by new in `gray` and `drain`.
    public var threshold: Int64?
    /// Where creates go in `gray`.
    public var creates: RoutingTarget.Side
    /// The share of `gray` reads whose other side is read too, for comparison.
    public var compareSample: Double
    /// After a rollback from `gray` that kept new's data: IDs at or above it stay with new
    /// in the earlier phases, so nobody loses what they just wrote.
    public var newIDsFrom: Int64?

    enum CodingKeys: String, CodingKey {
        case phase, threshold, creates
        case compareSample = "compare_sample"
        case newIDsFrom = "new_ids_from"
    }

    public init(phase: Phase, threshold: Int64?, creates: RoutingTarget.Side, compareSample: Double, newIDsFrom: Int64? = nil) {
        self.phase = phase
        self.threshold = threshold
        self.creates = creates
        self.compareSample = compareSample
        self.newIDsFrom = newIDsFrom
    }

    /// The flags a route starts with, from its configuration.
    public init(route: Route) {
        self.init(phase: route.phase, threshold: route.gray.threshold, creates: route.gray.creates, compareSample: route.gray.compareSample)
    }
}

/// Every route's flags at one version. Routes the store does not know yet keep their configured flags.
public struct FlagSet: Sendable, Hashable {
    /// Grows with every change; instances report the version they applied.
    public var version: Int64
    public var routes: [String: RouteFlags]

    public init(version: Int64, routes: [String: RouteFlags]) {
        self.version = version
        self.routes = routes
    }

    /// The flags of every configured route: the stored ones where known, else the configured ones.
    public func resolved(for config: CutoverConfig) -> [RouteFlags] {
        config.routes.map { routes[$0.name] ?? RouteFlags(route: $0) }
    }
}
