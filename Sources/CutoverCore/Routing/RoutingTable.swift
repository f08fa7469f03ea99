/// The routes of a configuration compiled for fast matching, and the routing
/// decision for a request head. Immutable; a reload builds a new table.
public struct RoutingTable: Sendable {
    /// The configuration the table was built from.
    public let config: CutoverConfig
    /// Per route, the indexes into `config.backends` of its old and new sides.
    private let sides: [(old: Int, new: Int)]
    /// Index of the backend that answers unmatched requests.
    public let defaultBackend: Int

    /// Compiles a validated configuration.
    public init(config: CutoverConfig) {
        self.config = config
        func index(_ name: String) -> Int {
            guard let found = config.backends.firstIndex(where: { $0.name == name }) else {
                preconditionFailure("ConfigLoader guarantees backend '\(name)' exists")
            }
            return found
        }
        self.sides = config.routes.map { (index($0.oldBackend), index($0.newBackend)) }
        self.defaultBackend = index(CutoverConfig.defaultBackendName)
    }

    /// The index of the first route matching the method and request target, if any.
    /// The target's query (after `?`) is not part of the match.
    public func match(method: String, target: Substring) -> Int? {
        let path = target.utf8.firstIndex(of: UInt8(ascii: "?")).map { target[..<$0] } ?? target
        for (index, route) in config.routes.enumerated() where route.match.accepts(method: method, path: path) {
            return index
        }
        return nil
    }

    /// Where a request goes: its route and the backend that answers it.
    public func decide(method: String, target: Substring) -> RoutingDecision {
        guard let route = match(method: method, target: target) else {
            return RoutingDecision(route: nil, backend: defaultBackend, side: .old)
        }
        switch config.routes[route].phase {
        case .new:
            return RoutingDecision(route: route, backend: sides[route].new, side: .new)
        case .old, .shadow, .gray, .drain:
            // ConfigLoader admits only `old` and `new` until the later phases are built.
            return RoutingDecision(route: route, backend: sides[route].old, side: .old)
        }
    }
}

/// The outcome of routing one request.
public struct RoutingDecision: Sendable, Hashable {
    /// Which side of the migration answers.
    public enum Side: String, Sendable, Hashable {
        case old, new
    }

    /// Index into `config.routes`; nil when no route matched.
    public var route: Int?
    /// Index into `config.backends` of the backend that answers.
    public var backend: Int
    /// The migration side that answers.
    public var side: Side

    /// Creates a decision.
    public init(route: Int?, backend: Int, side: Side) {
        self.route = route
        self.backend = backend
        self.side = side
    }
}

extension RouteMatch {
    /// Whether a request with this method and path (no query) belongs to the route.
    func accepts(method: String, path: Substring) -> Bool {
        if !methods.isEmpty, !methods.contains(method) { return false }
        if let template = self.path, !template.matches(path) { return false }
        if let prefix, !path.utf8.starts(with: prefix.utf8) { return false }
        return true
    }
}
