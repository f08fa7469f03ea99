/// The routes of a configuration compiled for fast matching, and the routing
/// decision for a request head. Immutable (a reload builds a new table), and a
/// class so that the data plane reads it without copying its arrays.
public final class RoutingTable: Sendable {
    /// The configuration the table was built from.
    public let config: CutoverConfig
    /// What matching and deciding need of each route, in match order.
    private let routes: [CompiledRoute]
    /// Index of the backend that answers unmatched requests.
    public let defaultBackend: Int
    /// Each route's request limits, by route index.
    public let routeLimits: [Limits]

    /// Compiles a validated configuration.
    public init(config: CutoverConfig) {
        self.config = config
        func index(_ name: String) -> Int {
            guard let found = config.backends.firstIndex(where: { $0.name == name }) else {
                preconditionFailure("ConfigLoader guarantees backend '\(name)' exists")
            }
            return found
        }
        self.routes = config.routes.map { route in
            CompiledRoute(methods: route.match.methods.map { Array($0.utf8) }, path: route.match.path,
                          prefix: route.match.prefix.map { Array($0.utf8) },
                          phase: route.phase, old: index(route.oldBackend), new: index(route.newBackend),
                          noise: route.noiseBackend.map(index))
        }
        self.defaultBackend = index(CutoverConfig.defaultBackendName)
        self.routeLimits = config.routes.map(\.limits)
    }

    /// The index of the first route matching the method and request target, if any.
    /// The target's query (after `?`) is not part of the match.
    public func match(method: String, target: Substring) -> Int? {
        var method = method, target = target
        return method.withUTF8 { methodBytes in
            target.withUTF8 { targetBytes in
                match(method: UnsafeRawBufferPointer(methodBytes), target: UnsafeRawBufferPointer(targetBytes))
            }
        }
    }

    /// The index of the first route matching, with method and target given as bytes (the data plane's form).
    public func match(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer) -> Int? {
        var pathEnd = 0
        while pathEnd < target.count, target[pathEnd] != UInt8(ascii: "?") { pathEnd += 1 }
        let path = UnsafeRawBufferPointer(rebasing: target[0..<pathEnd])
        for index in routes.indices where routes[index].accepts(method: method, path: path) {
            return index
        }
        return nil
    }

    /// Where a request goes: its route and the backend that answers it.
    public func decide(method: String, target: Substring) -> RoutingDecision {
        var method = method, target = target
        return method.withUTF8 { methodBytes in
            target.withUTF8 { targetBytes in
                decide(method: UnsafeRawBufferPointer(methodBytes), target: UnsafeRawBufferPointer(targetBytes))
            }
        }
    }

    /// Where a request goes, with method and target given as bytes.
    public func decide(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer) -> RoutingDecision {
        guard let index = match(method: method, target: target) else {
            return RoutingDecision(route: nil, backend: defaultBackend, side: .old)
        }
        let route = routes[index]
        switch route.phase {
        case .new:
            return RoutingDecision(route: index, backend: route.new, side: .new)
        case .shadow:
            return RoutingDecision(route: index, backend: route.old, side: .old, mirror: route.new, noise: route.noise)
        case .old, .gray, .drain:
            // ConfigLoader admits `gray` and `drain` only once they are built.
            return RoutingDecision(route: index, backend: route.old, side: .old)
        }
    }
}

/// A route reduced to what matching and deciding read.
struct CompiledRoute: Sendable {
    let methods: [[UInt8]]
    let path: PathTemplate?
    let prefix: [UInt8]?
    let phase: Phase
    let old: Int
    let new: Int
    let noise: Int?

    /// Whether a request with this method and path (no query) belongs to the route.
    func accepts(method: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer) -> Bool {
        if !methods.isEmpty, !methods.contains(where: { $0.count == method.count && $0.elementsEqual(method) }) { return false }
        if let template = self.path, !template.matches(path) { return false }
        if let prefix, !path.starts(with: prefix) { return false }
        return true
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
    /// In phase `shadow`: the backend that gets a copy of the request (new).
    public var mirror: Int?
    /// In phase `shadow`: the second old instance whose answer measures noise, if configured.
    public var noise: Int?

    /// Creates a decision.
    public init(route: Int?, backend: Int, side: Side, mirror: Int? = nil, noise: Int? = nil) {
        self.route = route
        self.backend = backend
        self.side = side
        self.mirror = mirror
        self.noise = noise
    }
}
