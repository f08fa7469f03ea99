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
                          old: index(route.oldBackend), new: index(route.newBackend),
                          noise: route.noiseBackend.map(index), id: route.id, aggregate: route.aggregate != nil)
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

    /// The backends (indexes into `config.backends`) that play old and new for route `index`.
    public func sides(of index: Int) -> (old: Int, new: Int) {
        (routes[index].old, routes[index].new)
    }

    /// The flags of every route as configured, before the store says otherwise.
    public var configuredFlags: [RouteFlags] { config.routes.map(RouteFlags.init(route:)) }

    /// Where a request goes under the configured flags.
    public func decide(method: String, target: Substring) -> RoutingDecision {
        decide(method: method, target: target, flags: configuredFlags)
    }

    /// Where a request goes under `flags` (one per route, in route order).
    public func decide(method: String, target: Substring, flags: [RouteFlags]) -> RoutingDecision {
        var method = method, target = target
        return method.withUTF8 { methodBytes in
            target.withUTF8 { targetBytes in
                decide(method: UnsafeRawBufferPointer(methodBytes), target: UnsafeRawBufferPointer(targetBytes), flags: flags)
            }
        }
    }

    /// Where a request goes, with method and target given as bytes. When the route's ID is
    /// in a header or the body, the decision says so (`pendingID`) and ``resolve(route:id:isCreate:flags:)``
    /// finishes it once the ID is known.
    public func decide(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer, flags: [RouteFlags]) -> RoutingDecision {
        guard let index = match(method: method, target: target) else {
            return RoutingDecision(route: nil, backend: defaultBackend, side: .old)
        }
        let route = routes[index]
        let routeFlags = flags[index]
        let isCreate = method.count == 4 && method.elementsEqual("POST".utf8)
        let isRead = method.count == 3 && method.elementsEqual("GET".utf8)
        switch routeFlags.phase {
        case .new:
            return RoutingDecision(route: index, backend: route.new, side: .new)
        case .old, .shadow:
            // Only a route rolled back with new's IDs kept needs the ID in these phases.
            guard routeFlags.newIDsFrom != nil, let source = route.id else { return route.whole(index, phase: routeFlags.phase) }
            switch source.from {
            case .path, .query: return resolve(route: index, id: Self.id(in: target, source: source, route: route), isCreate: isCreate, flags: flags)
            case .header, .body: return RoutingDecision(route: index, backend: route.old, side: .old, pendingID: true)
            }
        case .gray, .drain:
            if route.aggregate {
                guard isRead else { break }
                if routeFlags.phase == .drain { return RoutingDecision(route: index, backend: route.new, side: .new) }
                return RoutingDecision(route: index, backend: route.old, side: .old, aggregate: true)
            }
            guard let source = route.id else { break }
            switch source.from {
            case .path, .query: return resolve(route: index, id: Self.id(in: target, source: source, route: route), isCreate: isCreate, flags: flags)
            case .header, .body: return RoutingDecision(route: index, backend: route.old, side: .old, pendingID: true)
            }
        }
        return resolve(route: index, id: nil, isCreate: isCreate, flags: flags)
    }

    /// The decision for a request of route `index` whose ID (nil: absent or not an integer) is known.
    public func resolve(route index: Int, id: Int64?, isCreate: Bool, flags: [RouteFlags]) -> RoutingDecision {
        let route = routes[index]
        let routeFlags = flags[index]
        let toOld = RoutingDecision(route: index, backend: route.old, side: .old)
        let toNew = RoutingDecision(route: index, backend: route.new, side: .new)
        switch routeFlags.phase {
        case .new:
            return toNew
        case .old, .shadow:
            if let id, let from = routeFlags.newIDsFrom, id >= from { return toNew }
            return route.whole(index, phase: routeFlags.phase)
        case .gray, .drain:
            guard route.hasID else { return toOld }
            if let id {
                guard let threshold = routeFlags.threshold else { return toOld }
                return id >= threshold ? toNew : toOld
            }
            if isCreate {
                return routeFlags.phase == .drain || routeFlags.creates == .new ? toNew : toOld
            }
            switch route.onMissing {
            case .old: return RoutingDecision(route: index, backend: route.old, side: .old, missingID: true)
            case .new: return RoutingDecision(route: index, backend: route.new, side: .new, missingID: true)
            case .reject:
                var decision = RoutingDecision(route: index, backend: route.old, side: .old, missingID: true)
                decision.reject = true
                return decision
            }
        }
    }

    /// The ID in the path or query of a request target, if there is one and it is an integer.
    static func id(in target: UnsafeRawBufferPointer, source: IDSource, route: CompiledRoute) -> Int64? {
        var pathEnd = 0
        while pathEnd < target.count, target[pathEnd] != UInt8(ascii: "?") { pathEnd += 1 }
        switch source.from {
        case .path:
            guard let template = route.path else { return nil }
            return template.parameterRange(source.name, in: UnsafeRawBufferPointer(rebasing: target[0..<pathEnd]))
                .flatMap { parseID(UnsafeRawBufferPointer(rebasing: target[$0])) }
        case .query:
            guard pathEnd < target.count else { return nil }
            return QueryString.value(of: source.name, in: UnsafeRawBufferPointer(rebasing: target[(pathEnd + 1)...]))
                .flatMap { parseID(UnsafeRawBufferPointer(rebasing: target[(pathEnd + 1)...])[$0]) }
        case .header, .body:
            return nil
        }
    }

    /// A decimal Int64 written in ASCII digits (an optional leading '-'), else nil.
    public static func parseID(_ bytes: some Collection<UInt8>) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        var value: Int64 = 0
        var negative = false
        for (offset, byte) in bytes.enumerated() {
            if offset == 0, byte == UInt8(ascii: "-"), bytes.count > 1 {
                negative = true
                continue
            }
            guard byte >= 48, byte <= 57 else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - 48))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return negative ? -value : value
    }
}

/// A route reduced to what matching and deciding read.
struct CompiledRoute: Sendable {
    let methods: [[UInt8]]
    let path: PathTemplate?
    let prefix: [UInt8]?
    let old: Int
    let new: Int
    let noise: Int?
    let id: IDSource?
    let aggregate: Bool

    var hasID: Bool { id != nil }

    /// The decision for a request of this route (index `index`) in phase old or shadow, where no ID splits it.
    func whole(_ index: Int, phase: Phase) -> RoutingDecision {
        phase == .shadow ? RoutingDecision(route: index, backend: old, side: .old, mirror: new, noise: noise)
            : RoutingDecision(route: index, backend: old, side: .old)
    }
    var onMissing: IDSource.OnMissing { id?.onMissing ?? .old }

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
    public enum Side: String, Sendable, Hashable, CaseIterable, Codable {
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
    /// The route's ID is in a header or the body: the decision is finished once it is read.
    public var pendingID = false
    /// A list route in `gray`: both sides are asked and their pages merged.
    public var aggregate = false
    /// The request had no usable ID (counted); the route's `on_missing` chose the side.
    public var missingID = false
    /// The request had no usable ID and the route rejects such requests (400).
    public var reject = false

    /// Creates a decision.
    public init(route: Int?, backend: Int, side: Side, mirror: Int? = nil, noise: Int? = nil,
                pendingID: Bool = false, aggregate: Bool = false, missingID: Bool = false) {
        self.route = route
        self.backend = backend
        self.side = side
        self.mirror = mirror
        self.noise = noise
        self.pendingID = pendingID
        self.aggregate = aggregate
        self.missingID = missingID
    }
}
