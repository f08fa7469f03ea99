import Yams

/// The keys of routes that move past `shadow`: `id`, `max_id_seen`, `gray`,
/// `gates`, `auto_rollback` and `aggregate`.
extension ConfigBuilder {
    /// Reads the gray-release keys of one route into `route`, and checks that its phase can run.
    func grayKeys(_ mapping: MappingView, into route: inout Route, phaseNode: Node?) {
        if let node = mapping["id"] { route.id = idSource(node, at: mapping.path("id"), match: route.match) }
        if let node = mapping["max_id_seen"] { route.maxIDSeen = pointer(node, at: mapping.path("max_id_seen")) }
        if let node = mapping["gray"] { route.gray = gray(node, at: mapping.path("gray")) ?? route.gray }
        if let node = mapping["gates"] { route.gates = gates(node, at: mapping.path("gates")) ?? route.gates }
        if let node = mapping["auto_rollback"] { route.autoRollback = autoRollback(node, at: mapping.path("auto_rollback")) }
        if let node = mapping["aggregate"] { route.aggregate = aggregate(node, at: mapping.path("aggregate")) }
        if route.id != nil, route.aggregate != nil, let node = mapping["aggregate"] {
            reader.report(mapping.path("aggregate"), node, "a route is routed by ID or aggregated as a list, not both",
                          fix: "make the list its own route")
        }
        // A key that failed to read has been reported already.
        let keysRead = (mapping["id"] == nil || route.id != nil) && (mapping["aggregate"] == nil || route.aggregate != nil)
        if keysRead, let reason = route.refusal(of: route.phase, threshold: route.gray.threshold) {
            reader.report(mapping.path("phase"), phaseNode, reason, fix: "add id: and gray.threshold, or aggregate:, or start in another phase")
        }
    }

    func idSource(_ node: Node, at path: ConfigPath, match: RouteMatch) -> IDSource? {
        guard let id = reader.mapping(node, at: path, keys: ["from", "name", "on_missing"]) else { return nil }
        let from = required(id, "from").flatMap { reader.choice($0, at: id.path("from"), as: IDSource.From.self) }
        let nameNode = required(id, "name")
        let name = nameNode.flatMap { reader.string($0, at: id.path("name")) }
        let onMissing = id["on_missing"].flatMap { reader.choice($0, at: id.path("on_missing"), as: IDSource.OnMissing.self) } ?? .old
        guard let from, let name else { return nil }
        var result = IDSource(from: from, name: name, onMissing: onMissing)
        switch from {
        case .path:
            let names = match.path?.segments.compactMap { segment -> String? in
                if case .parameter(let parameter) = segment { return parameter }
                return nil
            } ?? []
            guard names.contains(name) else {
                reader.report(id.path("name"), nameNode, "the route's path has no parameter {\(name)}",
                              fix: names.isEmpty ? "match on a path template such as /orders/{\(name)}" : "use one of: \(names.joined(separator: ", "))")
                return nil
            }
        case .query, .header:
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "&") && $0 != UInt8(ascii: "=") }) else {
                reader.report(id.path("name"), nameNode, "'\(name)' is not a \(from.rawValue) name")
                return nil
            }
        case .body:
            guard let parsed = nameNode.flatMap({ pointer($0, at: id.path("name")) }) else { return nil }
            result.pointer = parsed
        }
        return result
    }

    func gray(_ node: Node, at path: ConfigPath) -> GraySettings? {
        guard let gray = reader.mapping(node, at: path, keys: ["threshold", "creates", "compare_sample"]) else { return nil }
        var result = GraySettings.defaults
        if let value = gray["threshold"] {
            result.threshold = reader.int(value, at: gray.path("threshold"), in: 1...Int.max).map(Int64.init)
        }
        if let value = gray["creates"] { result.creates = reader.choice(value, at: gray.path("creates"), as: RoutingTarget.Side.self) ?? result.creates }
        if let value = gray["compare_sample"] {
            result.compareSample = reader.double(value, at: gray.path("compare_sample"), in: 0...1) ?? result.compareSample
        }
        return result
    }

    func gates(_ node: Node, at path: ConfigPath) -> GateSettings? {
        guard let gates = reader.mapping(node, at: path, keys: ["min_compared", "max_diff_rate", "max_error_rate", "window"]) else { return nil }
        var result = GateSettings.defaults
        if let value = gates["min_compared"] {
            result.minCompared = reader.int(value, at: gates.path("min_compared"), in: 0...Int.max).map(Int64.init) ?? result.minCompared
        }
        if let value = gates["max_diff_rate"] { result.maxDiffRate = reader.double(value, at: gates.path("max_diff_rate"), in: 0...1) ?? result.maxDiffRate }
        if let value = gates["max_error_rate"] { result.maxErrorRate = reader.double(value, at: gates.path("max_error_rate"), in: 0...1) ?? result.maxErrorRate }
        if let value = gates["window"] { result.window = reader.duration(value, at: gates.path("window"), minimum: .seconds(60)) ?? result.window }
        return result
    }

    func autoRollback(_ node: Node, at path: ConfigPath) -> AutoRollbackSettings? {
        let keys = ["error_rate", "latency_p99", "window", "min_requests", "webhook"]
        guard let rollback = reader.mapping(node, at: path, keys: keys) else { return nil }
        var result = AutoRollbackSettings(errorRate: nil, latencyP99: nil, window: .seconds(60), minRequests: 50, webhook: nil)
        if let value = rollback["error_rate"] { result.errorRate = reader.double(value, at: rollback.path("error_rate"), in: 0...1) }
        if let value = rollback["latency_p99"] { result.latencyP99 = reader.duration(value, at: rollback.path("latency_p99"), minimum: .milliseconds(1)) }
        if let value = rollback["window"] { result.window = reader.duration(value, at: rollback.path("window"), minimum: .seconds(1)) ?? result.window }
        if let value = rollback["min_requests"] { result.minRequests = reader.int(value, at: rollback.path("min_requests"), in: 1...Int.max) ?? result.minRequests }
        if let value = rollback["webhook"], let text = reader.string(value, at: rollback.path("webhook")) {
            if text.hasPrefix("http://") || text.hasPrefix("https://") { result.webhook = text } else {
                reader.report(rollback.path("webhook"), value, "'\(text)' is not an http:// or https:// URL")
            }
        }
        if result.errorRate == nil, result.latencyP99 == nil {
            reader.report(path, node, "auto_rollback watches nothing", fix: "set error_rate, latency_p99 or both")
            return nil
        }
        return result
    }

    func aggregate(_ node: Node, at path: ConfigPath) -> AggregateSettings? {
        let keys = ["array", "key", "order", "limit_param", "cursor_param", "next_cursor", "on_partial", "default_limit", "max_limit"]
        guard let aggregate = reader.mapping(node, at: path, keys: keys) else { return nil }
        let array = required(aggregate, "array").flatMap { pointer($0, at: aggregate.path("array")) }
        let key = required(aggregate, "key").flatMap { pointer($0, at: aggregate.path("key")) }
        let order = aggregate["order"].flatMap { reader.choice($0, at: aggregate.path("order"), as: AggregateSettings.Order.self) } ?? .desc
        let limitParam = aggregate["limit_param"].flatMap { reader.string($0, at: aggregate.path("limit_param")) } ?? "limit"
        let cursorParam = aggregate["cursor_param"].flatMap { reader.string($0, at: aggregate.path("cursor_param")) } ?? "cursor"
        let nextCursor = aggregate["next_cursor"].flatMap { pointer($0, at: aggregate.path("next_cursor")) } ?? JSONPointer(tokens: ["next_cursor"])
        let onPartial = aggregate["on_partial"].flatMap { reader.choice($0, at: aggregate.path("on_partial"), as: AggregateSettings.OnPartial.self) } ?? .fail
        let defaultLimit = aggregate["default_limit"].flatMap { reader.int($0, at: aggregate.path("default_limit"), in: 1...10_000) } ?? 50
        let maxLimit = aggregate["max_limit"].flatMap { reader.int($0, at: aggregate.path("max_limit"), in: 1...10_000) } ?? 1000
        if let array, array.tokens.isEmpty, let node = aggregate["array"] {
            reader.report(aggregate.path("array"), node, "the list cannot be the whole answer: the cursor needs an envelope",
                          fix: "point at the array inside the answer, as /items")
            return nil
        }
        if nextCursor.tokens.isEmpty, let node = aggregate["next_cursor"] {
            reader.report(aggregate.path("next_cursor"), node, "the cursor needs a place inside the answer", fix: "write /next_cursor")
            return nil
        }
        guard let array, let key else { return nil }
        return AggregateSettings(array: array, key: key, order: order, limitParam: limitParam, cursorParam: cursorParam,
                                 nextCursor: nextCursor, onPartial: onPartial, defaultLimit: min(defaultLimit, maxLimit), maxLimit: maxLimit)
    }
}
