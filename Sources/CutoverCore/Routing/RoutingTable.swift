/// The routes of a configuration compiled for fast matching, and the routing
/// plan for a request head. Immutable (a reload builds a new table), and a
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

    /// What to do with a request under the configured flags.
    public func decide(method: String, target: Substring) -> RoutingPlan {
        decide(method: method, target: target, flags: configuredFlags)
    }

    /// What to do with a request under `flags` (one per route, in route order).
    public func decide(method: String, target: Substring, flags: [RouteFlags]) -> RoutingPlan {
        var method = method, target = target
        return method.withUTF8 { methodBytes in
            target.withUTF8 { targetBytes in
                decide(method: UnsafeRawBufferPointer(methodBytes), target: UnsafeRawBufferPointer(targetBytes), flags: flags)
            }
        }
    }

    /// What to do with a request, with method and target given as bytes. When the route's ID is in a header or the
    /// body, the plan says so (`awaitID`) and ``resolve(route:id:method:flags:)`` makes it once the ID is known.
    public func decide(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer, flags: [RouteFlags]) -> RoutingPlan {
        decide(method: method, kind: RequestMethod(method), target: target, flags: flags)
    }

    /// The same, for a method its parser has already classified as `kind` (the data plane's request heads carry it).
    public func decide(method: UnsafeRawBufferPointer, kind: RequestMethod, target: UnsafeRawBufferPointer,
                       flags: [RouteFlags]) -> RoutingPlan {
        guard let index = match(method: method, target: target) else {
            return .forward(RoutingTarget(route: nil, backend: defaultBackend, side: .old))
        }
        let route = routes[index]
        let routeFlags = flags[index]
        let toOld = RoutingTarget(route: index, backend: route.old, side: .old)
        switch routeFlags.phase {
        case .new:
            return .forward(RoutingTarget(route: index, backend: route.new, side: .new))
        case .old, .shadow:
            // Only a route rolled back with new's IDs kept needs the ID in these phases.
            guard routeFlags.newIDsFrom != nil, let source = route.id else { return route.whole(index, phase: routeFlags.phase, method: kind) }
            switch source.from {
            case .path, .query: return resolve(route: index, id: Self.id(in: target, source: source, route: route), method: kind, flags: flags)
            case .header, .body: return .awaitID(primary: toOld, from: source.from)
            }
        case .gray, .drain:
            if route.aggregate {
                guard kind == .get else { break }
                if routeFlags.phase == .drain { return .forward(RoutingTarget(route: index, backend: route.new, side: .new)) }
                return .aggregate(primary: toOld)
            }
            guard let source = route.id else { break }
            switch source.from {
            case .path, .query: return resolve(route: index, id: Self.id(in: target, source: source, route: route), method: kind, flags: flags)
            case .header, .body: return .awaitID(primary: toOld, from: source.from)
            }
        }
        return resolve(route: index, id: nil, method: kind, flags: flags)
    }

    /// The plan for a request of route `index` whose ID (nil: absent or not an integer) is known: where the ID
    /// sends it, whether its read is compared with the other side, what a request without an ID gets.
    public func resolve(route index: Int, id: Int64?, method: RequestMethod, flags: [RouteFlags]) -> RoutingPlan {
        let route = routes[index]
        let routeFlags = flags[index]
        let toOld = RoutingTarget(route: index, backend: route.old, side: .old)
        let toNew = RoutingTarget(route: index, backend: route.new, side: .new)
        switch routeFlags.phase {
        case .new:
            return .forward(toNew)
        case .old, .shadow:
            if let id, let from = routeFlags.newIDsFrom, id >= from { return .forward(toNew) }
            return route.whole(index, phase: routeFlags.phase, method: method)
        case .gray, .drain:
            guard let source = route.id else { return .forward(toOld) }
            // A read routed by its ID is compared with the other side's answer when the route asks for it.
            func routed(_ target: RoutingTarget) -> RoutingPlan {
                guard routeFlags.compareSample > 0, method.isRead else { return .forward(target) }
                return .readCompare(primary: target, other: target.side == .old ? route.new : route.old, sample: routeFlags.compareSample)
            }
            if let id {
                guard let threshold = routeFlags.threshold else { return routed(toOld) }
                return routed(id >= threshold ? toNew : toOld)
            }
            if method == .post {
                return .forward(routeFlags.phase == .drain || routeFlags.creates == .new ? toNew : toOld)
            }
            switch route.onMissing {
            case .old:
                return .forward(RoutingTarget(route: index, backend: route.old, side: .old, missingID: true))
            case .new:
                return .forward(RoutingTarget(route: index, backend: route.new, side: .new, missingID: true))
            case .reject:
                return .reject(primary: RoutingTarget(route: index, backend: route.old, side: .old, missingID: true), status: 400,
                               reason: "the request has no integer ID in its \(source.from.rawValue) '\(source.name)'", label: "missing_id")
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

    /// The plan for a request of this route (index `index`) in phase old or shadow, where no ID splits it: a copy to
    /// new in shadow, and one to the noise instance when the request is safe to send twice.
    func whole(_ index: Int, phase: Phase, method: RequestMethod) -> RoutingPlan {
        let primary = RoutingTarget(route: index, backend: old, side: .old)
        guard phase == .shadow else { return .forward(primary) }
        return .shadow(primary: primary, copy: new, noise: method.isSafe ? noise : nil)
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
