import Foundation
import Yams

/// Builds the typed configuration from a YAML tree, validating as it goes.
/// Returns nil when anything is wrong; every problem lands in `reader.issues`.
final class ConfigBuilder {
    let reader: NodeReader
    let baseDirectory: String

    init(reader: NodeReader, baseDirectory: String) {
        self.reader = reader
        self.baseDirectory = baseDirectory
    }

    static let topKeys = ["listen", "tls", "server_names", "threads", "limits", "client_timeout", "shutdown", "admin", "store",
                          "diff_queue", "backends", "routes", "reconcile", "host_cutover", "plan"]

    func build(_ root: Node) -> CutoverConfig? {
        guard let top = reader.mapping(root, at: .root, keys: Self.topKeys) else { return nil }

        let listen = required(top, "listen").flatMap { address($0, at: top.path("listen")) }
        let tls = top["tls"].flatMap { listenerTLS($0, at: top.path("tls")) }
        let serverNames = top["server_names"].flatMap { strings($0, at: top.path("server_names")) } ?? []
        let threads = top["threads"].flatMap { reader.int($0, at: top.path("threads"), in: 1...256) }
        let (limits, gatewayLimits) = top["limits"].flatMap { self.topLimits($0, at: top.path("limits")) } ?? (.defaults, .defaults)
        var drainTimeout: Duration = .seconds(30)
        if let node = top["shutdown"], let shutdown = reader.mapping(node, at: top.path("shutdown"), keys: ["drain_timeout"]) {
            if let value = shutdown["drain_timeout"] { drainTimeout = reader.duration(value, at: shutdown.path("drain_timeout")) ?? drainTimeout }
        }
        let clientTimeout = top["client_timeout"].flatMap { reader.duration($0, at: top.path("client_timeout"), minimum: .milliseconds(1)) }
        let admin = required(top, "admin").flatMap { self.admin($0, at: top.path("admin")) }
        let store = self.store(top)
        let reconcile = top["reconcile"].flatMap { self.reconcile($0, at: top.path("reconcile")) }
        let hostCutover = top["host_cutover"].flatMap { self.hostCutover($0, at: top.path("host_cutover")) }
        var diffQueue = DiffQueueSettings.defaults
        if let node = top["diff_queue"], let queue = reader.mapping(node, at: top.path("diff_queue"), keys: ["size", "max_bytes"]) {
            if let value = queue["size"] { diffQueue.size = reader.int(value, at: queue.path("size"), in: 1...10_000_000) ?? diffQueue.size }
            if let value = queue["max_bytes"] { diffQueue.maxBytes = reader.byteSize(value, at: queue.path("max_bytes"), minimum: 1024) ?? diffQueue.maxBytes }
        }
        let backends = required(top, "backends").flatMap { self.backends($0, at: top.path("backends")) } ?? []
        let routes = top["routes"].flatMap { self.routes($0, at: top.path("routes"), backends: backends, limits: limits) } ?? []

        let plan = top["plan"].flatMap {
            self.plan($0, at: top.path("plan"), routes: routes, reconciled: reconcile != nil, hostTasks: hostCutover?.tasks.map(\.name) ?? [])
        }
        if !backends.isEmpty, !backends.contains(where: { $0.name == CutoverConfig.defaultBackendName }), let node = top["backends"] {
            reader.report(top.path("backends"), node, "no backend named 'old'",
                          fix: "requests that match no route go to 'old'; add backends.old with the old service's URL")
        }
        if let listen, let admin, listen == admin.listen, listen.port != 0 {
            reader.report(top.path("admin").appending("listen"), top["admin"], "the admin listener uses the proxy's address \(listen)",
                          fix: "give the admin API its own port")
        }
        if let listen, let tls, tls.listen == listen, listen.port != 0 {
            reader.report(top.path("tls").appending("listen"), top["tls"], "the TLS listener uses the plain listener's address \(listen)",
                          fix: "give the TLS listener its own port")
        }

        guard reader.issues.isEmpty, let listen, let admin else { return nil }
        return CutoverConfig(listen: listen, tls: tls, serverNames: serverNames, threads: threads, limits: limits,
                             gatewayLimits: gatewayLimits, drainTimeout: drainTimeout, clientTimeout: clientTimeout ?? .seconds(60),
                             admin: admin, store: store, diffQueue: diffQueue, backends: backends, routes: routes, reconcile: reconcile,
                             hostCutover: hostCutover, plan: plan)
    }

    /// Only what `cutover host` needs: the `host_cutover:` section (required) and the store.
    /// The gateway's keys may be present (one file can serve both); `check-config` validates them.
    func buildHost(_ root: Node) -> HostConfig? {
        guard let top = reader.mapping(root, at: .root, keys: Self.topKeys) else { return nil }
        let store = self.store(top)
        guard let node = top["host_cutover"] else {
            reader.report(.root, root, "no host_cutover section", fix: "add host_cutover: { hosts: {...}, tasks: [...] }")
            return nil
        }
        let settings = self.hostCutover(node, at: top.path("host_cutover"))
        guard reader.issues.isEmpty, let settings else { return nil }
        return HostConfig(hostCutover: settings, store: store)
    }

    /// Only what `cutover reconcile` needs: the `reconcile:` section (required) and the store.
    /// The gateway's keys may be present (one file can serve both); `check-config` validates them.
    func buildReconcile(_ root: Node) -> ReconcileConfig? {
        guard let top = reader.mapping(root, at: .root, keys: Self.topKeys) else { return nil }
        let store = self.store(top)
        guard let node = top["reconcile"] else {
            reader.report(.root, root, "no reconcile section", fix: "add reconcile: { old: postgres://…, new: postgres://…, tables: [...] }")
            return nil
        }
        let reconcile = self.reconcile(node, at: top.path("reconcile"))
        guard reader.issues.isEmpty, let reconcile else { return nil }
        return ReconcileConfig(reconcile: reconcile, store: store)
    }

    func store(_ top: MappingView) -> StoreLocation {
        if let node = top["store"], let text = reader.string(node, at: top.path("store")) {
            switch StoreLocation.parse(text) {
            case .success(let location): return location
            case .failure(let error): reader.report(top.path("store"), node, "'\(text)' is not a store URL: \(error)")
            }
        }
        return .sqlite(path: "cutover.db")
    }

    // MARK: - Pieces

    func required(_ mapping: MappingView, _ key: String) -> Node? {
        if let node = mapping[key] { return node }
        reader.report(mapping.path(key), mapping.node, "missing required key '\(key)'")
        return nil
    }

    func address(_ node: Node, at path: ConfigPath) -> ListenAddress? {
        guard let text = reader.string(node, at: path) else { return nil }
        switch ListenAddress.parse(text) {
        case .success(let address): return address
        case .failure(let error):
            reader.report(path, node, "'\(text)' is not a listen address: \(error)", fix: "write HOST:PORT, as 127.0.0.1:8080")
            return nil
        }
    }

    func strings(_ node: Node, at path: ConfigPath) -> [String]? {
        guard let items = reader.list(node, at: path) else { return nil }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            if let text = reader.string(item, at: path.appending(index: index)) { result.append(text) }
        }
        return result
    }

    func file(_ node: Node, at path: ConfigPath, what: String) -> String? {
        guard let name = reader.string(node, at: path) else { return nil }
        let resolved = name.hasPrefix("/") ? name : baseDirectory + "/" + name
        guard FileManager.default.isReadableFile(atPath: resolved) else {
            reader.report(path, node, "\(what) '\(name)' does not exist or cannot be read", fix: "give a readable file; relative names start from the config file's folder")
            return nil
        }
        return resolved
    }

    func listenerTLS(_ node: Node, at path: ConfigPath) -> ListenerTLS? {
        guard let tls = reader.mapping(node, at: path, keys: ["listen", "cert", "key"]) else { return nil }
        let listen = required(tls, "listen").flatMap { address($0, at: tls.path("listen")) }
        let cert = required(tls, "cert").flatMap { file($0, at: tls.path("cert"), what: "certificate file") }
        let key = required(tls, "key").flatMap { file($0, at: tls.path("key"), what: "key file") }
        guard let listen, let cert, let key else { return nil }
        return ListenerTLS(listen: listen, certificateFile: cert, keyFile: key)
    }

    static let routeLimitKeys = ["max_header_bytes", "max_body_bytes", "request_buffer", "body_timeout", "body_min_rate"]
    static let gatewayLimitKeys = ["max_client_connections", "buffer_memory"]

    /// The top-level `limits`: the route defaults and the gateway's own.
    func topLimits(_ node: Node, at path: ConfigPath) -> (Limits, GatewayLimits)? {
        guard let mapping = reader.mapping(node, at: path, keys: Self.routeLimitKeys + Self.gatewayLimitKeys) else { return nil }
        var gateway = GatewayLimits.defaults
        if let value = mapping["max_client_connections"] {
            gateway.maxClientConnections = reader.int(value, at: mapping.path("max_client_connections"), in: 1...10_000_000) ?? gateway.maxClientConnections
        }
        if let value = mapping["buffer_memory"] {
            gateway.bufferMemory = reader.byteSize(value, at: mapping.path("buffer_memory"), minimum: 64 * 1024) ?? gateway.bufferMemory
        }
        guard let limits = limits(mapping, defaults: .defaults) else { return nil }
        return (limits, gateway)
    }

    func limits(_ node: Node, at path: ConfigPath, defaults: Limits) -> Limits? {
        guard let mapping = reader.mapping(node, at: path, keys: Self.routeLimitKeys) else { return nil }
        return limits(mapping, defaults: defaults)
    }

    private func limits(_ mapping: MappingView, defaults: Limits) -> Limits? {
        var limits = defaults
        if let value = mapping["request_buffer"] {
            limits.requestBuffer = reader.byteSize(value, at: mapping.path("request_buffer"), minimum: 1024) ?? limits.requestBuffer
        }
        if let value = mapping["body_timeout"] {
            limits.bodyTimeout = reader.duration(value, at: mapping.path("body_timeout"), minimum: .milliseconds(1)) ?? limits.bodyTimeout
        }
        if let value = mapping["body_min_rate"] {
            limits.bodyMinRate = reader.byteSize(value, at: mapping.path("body_min_rate")) ?? limits.bodyMinRate
        }
        if let value = mapping["max_header_bytes"] {
            limits.maxHeaderBytes = reader.byteSize(value, at: mapping.path("max_header_bytes"), minimum: 1024) ?? limits.maxHeaderBytes
        }
        if let value = mapping["max_body_bytes"] {
            limits.maxBodyBytes = reader.byteSize(value, at: mapping.path("max_body_bytes")) ?? limits.maxBodyBytes
        }
        return limits
    }

    func admin(_ node: Node, at path: ConfigPath) -> AdminSettings? {
        guard let admin = reader.mapping(node, at: path, keys: ["listen", "tokens", "tls", "failed_auth"]) else { return nil }
        let listen = required(admin, "listen").flatMap { address($0, at: admin.path("listen")) }
        var tokens: [AdminToken] = []
        var names: Set<String> = []
        var digests: Set<String> = []
        if let list = admin["tokens"].flatMap({ reader.list($0, at: admin.path("tokens")) }) {
            for (index, item) in list.enumerated() {
                let itemPath = admin.path("tokens").appending(index: index)
                guard let token = reader.mapping(item, at: itemPath, keys: ["name", "role", "sha256"]) else { continue }
                let name = required(token, "name").flatMap { reader.string($0, at: token.path("name")) }
                let role = required(token, "role").flatMap { reader.choice($0, at: token.path("role"), as: AdminToken.Role.self) }
                var digest: String?
                if let node = required(token, "sha256"), let text = reader.string(node, at: token.path("sha256")) {
                    let lower = text.lowercased()
                    if lower.utf8.count == 64, lower.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) {
                        digest = lower
                    } else {
                        reader.report(token.path("sha256"), node, "not a SHA-256 digest (64 hex digits)",
                                      fix: "store the token's digest, as printed by: printf %s TOKEN | sha256sum")
                    }
                }
                if let name, !names.insert(name).inserted {
                    reader.report(token.path("name"), token["name"], "a token named '\(name)' is already listed", fix: "give every token its own name")
                }
                if let digest, !digests.insert(digest).inserted {
                    reader.report(token.path("sha256"), token["sha256"], "the same token is listed twice", fix: "issue a distinct token per holder")
                }
                if let name, let role, let digest { tokens.append(AdminToken(name: name, role: role, sha256: digest)) }
            }
        }
        var tlsSettings: AdminTLS?
        if let node = admin["tls"], let tls = reader.mapping(node, at: admin.path("tls"), keys: ["cert", "key", "client_ca"]) {
            let cert = required(tls, "cert").flatMap { file($0, at: tls.path("cert"), what: "certificate file") }
            let key = required(tls, "key").flatMap { file($0, at: tls.path("key"), what: "key file") }
            let clientCA = tls["client_ca"].flatMap { file($0, at: tls.path("client_ca"), what: "client CA file") }
            if let cert, let key { tlsSettings = AdminTLS(certificateFile: cert, keyFile: key, clientCAFile: clientCA) }
        }
        guard let listen else { return nil }
        var settings = AdminSettings(listen: listen, tokens: tokens, tls: tlsSettings)
        if let node = admin["failed_auth"], let limit = reader.mapping(node, at: admin.path("failed_auth"), keys: ["burst", "per_second"]) {
            if let value = limit["burst"] { settings.failedAuthBurst = reader.int(value, at: limit.path("burst"), in: 1...1_000_000) ?? settings.failedAuthBurst }
            if let value = limit["per_second"] {
                settings.failedAuthPerSecond = reader.double(value, at: limit.path("per_second"), in: 0.001...1_000_000) ?? settings.failedAuthPerSecond
            }
        }
        return settings
    }

    static let backendKeys = ["url", "pool_size", "max_queue", "connect_timeout", "response_timeout", "host_header", "tls"]

    func backends(_ node: Node, at path: ConfigPath) -> [Backend]? {
        guard case .mapping(let mapping) = node else {
            reader.report(path, node, "expected a mapping from backend name to its settings, found \(reader.kind(node))",
                          fix: "write backends: { old: { url: \"http://127.0.0.1:9001\" }, new: { url: \"http://127.0.0.1:9002\" } }")
            return nil
        }
        guard !mapping.isEmpty else {
            reader.report(path, node, "no backends: requests need at least 'old'",
                          fix: "write backends: { old: { url: \"http://127.0.0.1:9001\" }, new: { url: \"http://127.0.0.1:9002\" } }")
            return nil
        }
        var result: [Backend] = []
        for (keyNode, value) in mapping {
            guard let name = reader.name(keyNode, at: path, of: "a backend's name") else { continue }
            let itemPath = path.appending(name)
            if !isName(name) {
                reader.report(itemPath, keyNode, "backend name '\(name)' may use letters, digits, '-' and '_' only")
            }
            guard let settings = reader.mapping(value, at: itemPath, keys: Self.backendKeys) else { continue }
            var url: BackendURL?
            if let node = required(settings, "url"), let text = reader.string(node, at: settings.path("url")) {
                switch BackendURL.parse(text) {
                case .success(let parsed): url = parsed
                case .failure(let error):
                    reader.report(settings.path("url"), node, "'\(text)' is not a backend URL: \(error)", fix: "write http://HOST:PORT or https://HOST:PORT")
                }
            }
            let poolSize = settings["pool_size"].flatMap { reader.int($0, at: settings.path("pool_size"), in: 1...100_000) }
            let maxQueue = settings["max_queue"].flatMap { reader.int($0, at: settings.path("max_queue"), in: 0...1_000_000) }
            let connectTimeout = settings["connect_timeout"].flatMap { reader.duration($0, at: settings.path("connect_timeout"), minimum: .milliseconds(1)) }
            let responseTimeout = settings["response_timeout"].flatMap { reader.duration($0, at: settings.path("response_timeout"), minimum: .milliseconds(1)) }
            let hostHeader = settings["host_header"].flatMap { reader.string($0, at: settings.path("host_header")) }
            var tls = BackendTLS.defaults
            if let node = settings["tls"] {
                if let url, url.scheme == .http {
                    reader.report(settings.path("tls"), node, "tls settings apply to https:// backends only", fix: "remove tls or use an https:// URL")
                }
                tls = backendTLS(node, at: settings.path("tls")) ?? tls
            }
            guard let url else { continue }
            result.append(Backend(name: name, url: url, poolSize: poolSize ?? Backend.defaultPoolSize, maxQueue: maxQueue ?? Backend.defaultMaxQueue,
                                  connectTimeout: connectTimeout ?? Backend.defaultConnectTimeout,
                                  responseTimeout: responseTimeout ?? Backend.defaultResponseTimeout,
                                  hostHeader: hostHeader, tls: tls))
        }
        return result
    }

    func backendTLS(_ node: Node, at path: ConfigPath) -> BackendTLS? {
        guard let tls = reader.mapping(node, at: path, keys: ["ca_file", "verify", "server_name"]) else { return nil }
        var result = BackendTLS.defaults
        if let node = tls["ca_file"] { result.caFile = file(node, at: tls.path("ca_file"), what: "CA file") }
        if let node = tls["verify"] { result.verify = reader.bool(node, at: tls.path("verify")) ?? true }
        if let node = tls["server_name"] { result.serverName = reader.string(node, at: tls.path("server_name")) }
        return result
    }

    static let routeKeys = ["name", "match", "phase", "backends", "limits", "shadow", "compare",
                            "id", "max_id_seen", "gray", "gates", "auto_rollback", "aggregate"]

    func routes(_ node: Node, at path: ConfigPath, backends: [Backend], limits: Limits) -> [Route]? {
        guard let items = reader.list(node, at: path) else { return nil }
        var result: [Route] = []
        var seenNames: Set<String> = []
        for (index, item) in items.enumerated() {
            let itemPath = path.appending(index: index)
            guard let route = reader.mapping(item, at: itemPath, keys: Self.routeKeys) else { continue }
            var name: String?
            if let node = required(route, "name"), let text = reader.string(node, at: route.path("name")) {
                if !isName(text) || text.hasPrefix("_") || text.hasPrefix("-") {
                    reader.report(route.path("name"), node, "route name '\(text)' may use letters, digits, '-', '_' and '.', and starts with a letter or digit")
                } else if !seenNames.insert(text).inserted {
                    reader.report(route.path("name"), node, "another route is already named '\(text)'", fix: "give every route its own name")
                } else {
                    name = text
                }
            }
            let match = required(route, "match").flatMap { self.match($0, at: route.path("match")) }
            let phase = required(route, "phase").flatMap { self.phase($0, at: route.path("phase")) }
            var oldBackend = "old", newBackend = "new"
            let known = backends.map(\.name)
            var noiseBackend: String? = known.contains(CutoverConfig.noiseBackendName) ? CutoverConfig.noiseBackendName : nil
            var backendNodes: [String: Node] = [:]
            var roles = [("old", oldBackend), ("new", newBackend)]
            if let node = route["backends"], let pair = reader.mapping(node, at: route.path("backends"), keys: ["old", "new", "old-secondary"]) {
                if let node = pair["old"] { oldBackend = reader.string(node, at: pair.path("old")) ?? oldBackend; backendNodes["old"] = node }
                if let node = pair["new"] { newBackend = reader.string(node, at: pair.path("new")) ?? newBackend; backendNodes["new"] = node }
                if let node = pair["old-secondary"] {
                    noiseBackend = reader.string(node, at: pair.path("old-secondary"))
                    backendNodes["old-secondary"] = node
                }
                roles = [("old", oldBackend), ("new", newBackend)]
                if let noiseBackend, pair["old-secondary"] != nil { roles.append(("old-secondary", noiseBackend)) }
            }
            for (role, backendName) in roles where !known.contains(backendName) && !known.isEmpty {
                let explicit = backendNodes[role]
                var fix = "configured backends: \(known.joined(separator: ", "))"
                if let near = NodeReader.nearest(backendName, in: known) { fix = "did you mean '\(near)'? " + fix }
                if explicit == nil { fix = "add backends.\(backendName), or set this route's backends.\(role); " + fix }
                reader.report(route.path("backends").appending(role), explicit ?? item,
                              "route '\(name ?? "?")' names backend '\(backendName)' as its \(role) side, but no such backend is configured", fix: fix)
            }
            let routeLimits = route["limits"].flatMap { self.limits($0, at: route.path("limits"), defaults: limits) } ?? limits
            let shadow = route["shadow"].flatMap { self.shadow($0, at: route.path("shadow")) } ?? .defaults
            let compare = route["compare"].flatMap { self.compare($0, at: route.path("compare")) } ?? .defaults
            if let name, let match, let phase {
                var built = Route(name: name, match: match, phase: phase, oldBackend: oldBackend, newBackend: newBackend, limits: routeLimits,
                                  noiseBackend: noiseBackend, shadow: shadow, compare: compare)
                grayKeys(route, into: &built, phaseNode: route["phase"])
                result.append(built)
            }
        }
        return result
    }

    func match(_ node: Node, at path: ConfigPath) -> RouteMatch? {
        guard let match = reader.mapping(node, at: path, keys: ["methods", "path", "prefix"]) else { return nil }
        var result = RouteMatch(methods: [], path: nil, prefix: nil)
        if let node = match["methods"], let list = reader.list(node, at: match.path("methods")) {
            for (index, item) in list.enumerated() {
                let itemPath = match.path("methods").appending(index: index)
                guard let method = reader.string(item, at: itemPath) else { continue }
                if method.isEmpty || !method.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || $0 == 45 || $0 == 95 }) {
                    reader.report(itemPath, item, "'\(method)' is not an HTTP method", fix: "methods are upper case, as GET or POST")
                } else if method == "CONNECT" {
                    reader.report(itemPath, item, "CONNECT is never proxied", fix: "remove it")
                } else {
                    result.methods.append(method)
                }
            }
        }
        if let node = match["path"], let text = reader.string(node, at: match.path("path")) {
            switch PathTemplate.parse(text) {
            case .success(let template): result.path = template
            case .failure(let error): reader.report(match.path("path"), node, "'\(text)' is not a path template: \(error)", fix: "write a path like /orders/{id}")
            }
        }
        if let node = match["prefix"], let text = reader.string(node, at: match.path("prefix")) {
            if text.hasPrefix("/") { result.prefix = text } else {
                reader.report(match.path("prefix"), node, "prefix '\(text)' does not start with '/'", fix: "write it as /\(text)")
            }
        }
        if result.path != nil, result.prefix != nil {
            reader.report(path, node, "a route matches by path or by prefix, not both", fix: "keep one of path and prefix")
        }
        return result
    }

    func pointer(_ node: Node, at path: ConfigPath) -> JSONPointer? {
        guard let text = reader.string(node, at: path) else { return nil }
        guard let pointer = JSONPointer.parse(text) else {
            reader.report(path, node, "'\(text)' is not a JSON pointer", fix: "write /field/sub-field, with ~1 for '/' and ~0 for '~' inside names")
            return nil
        }
        return pointer
    }

    func pattern(_ node: Node, at path: ConfigPath) -> PointerPattern? {
        guard let text = reader.string(node, at: path) else { return nil }
        guard let pattern = PointerPattern.parse(text), !text.isEmpty else {
            reader.report(path, node, "'\(text)' is not a JSON pointer pattern", fix: "write /items/*/field: '*' stands for any one name or index")
            return nil
        }
        return pattern
    }

    func shadow(_ node: Node, at path: ConfigPath) -> ShadowSettings? {
        guard let shadow = reader.mapping(node, at: path, keys: ["writes", "order", "sample", "max_body", "timeout", "primary_headers"]) else {
            return nil
        }
        var result = ShadowSettings.defaults
        if let node = shadow["writes"] { result.writes = reader.choice(node, at: shadow.path("writes"), as: ShadowSettings.Writes.self) ?? result.writes }
        if let node = shadow["order"] { result.order = reader.choice(node, at: shadow.path("order"), as: ShadowSettings.Order.self) ?? result.order }
        if let node = shadow["sample"] { result.sample = reader.double(node, at: shadow.path("sample"), in: 0...1) ?? result.sample }
        if let node = shadow["max_body"] { result.maxBody = reader.byteSize(node, at: shadow.path("max_body")) ?? result.maxBody }
        if let node = shadow["timeout"] { result.timeout = reader.duration(node, at: shadow.path("timeout"), minimum: .milliseconds(1)) }
        if let node = shadow["primary_headers"] {
            let headersPath = shadow.path("primary_headers")
            if case .mapping(let mapping) = node {
                for (keyNode, value) in mapping {
                    guard let name = reader.name(keyNode, at: headersPath, of: "a header name") else { continue }
                    guard !name.isEmpty, name.utf8.allSatisfy({ isTokenByte($0) }) else {
                        reader.report(headersPath.appending(name), keyNode, "'\(name)' is not a header name")
                        continue
                    }
                    if let pointer = self.pointer(value, at: headersPath.appending(name)) {
                        result.primaryHeaders.append(.init(name: name, pointer: pointer))
                    }
                }
            } else {
                reader.report(headersPath, node, "expected a mapping from header name to a JSON pointer into old's answer, found \(reader.kind(node))",
                              fix: "write primary_headers: { X-Cutover-Primary-Id: /id }")
            }
        }
        return result
    }

    func compare(_ node: Node, at path: ConfigPath) -> CompareRules? {
        guard let compare = reader.mapping(node, at: path, keys: ["headers", "ignore", "redact", "redact_query", "sort_arrays", "float_tolerance", "noise"]) else {
            return nil
        }
        var result = CompareRules.defaults
        if let node = compare["headers"], let names = strings(node, at: compare.path("headers")) {
            result.headers = names.map { $0.lowercased() }
        }
        if let node = compare["redact_query"], let names = strings(node, at: compare.path("redact_query")) {
            result.redactQuery = Set(names.map { $0.lowercased() })
        }
        for key in ["ignore", "redact"] {
            guard let node = compare[key], let items = reader.list(node, at: compare.path(key)) else { continue }
            let patterns = items.enumerated().compactMap { pattern($1, at: compare.path(key).appending(index: $0)) }
            if key == "ignore" { result.ignore = patterns } else { result.redact = patterns }
        }
        if let node = compare["sort_arrays"] {
            let sortPath = compare.path("sort_arrays")
            if case .mapping(let mapping) = node {
                for (keyNode, value) in mapping {
                    guard let arrayText = reader.name(keyNode, at: sortPath, of: "an array's path") else { continue }
                    let array = self.pattern(keyNode, at: sortPath.appending(arrayText))
                    let key = self.pointer(value, at: sortPath.appending(arrayText))
                    if let array, let key { result.sortArrays.append(SortRule(array: array, key: key)) }
                }
            } else {
                reader.report(sortPath, node, "expected a mapping from an array's path to the key's pointer, found \(reader.kind(node))",
                              fix: "write sort_arrays: { \"/items\": \"/id\" }")
            }
        }
        if let node = compare["float_tolerance"] {
            result.floatTolerance = reader.double(node, at: compare.path("float_tolerance"), in: 0...Double(Int.max)) ?? 0
        }
        if let node = compare["noise"], let noise = reader.mapping(node, at: compare.path("noise"), keys: ["relative", "absolute"]) {
            if let value = noise["relative"] { result.noise.relative = reader.double(value, at: noise.path("relative"), in: 0...1) ?? result.noise.relative }
            if let value = noise["absolute"] { result.noise.absolute = reader.double(value, at: noise.path("absolute"), in: 0...1) ?? result.noise.absolute }
        }
        return result
    }

    private func isTokenByte(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }

    func phase(_ node: Node, at path: ConfigPath) -> Phase? {
        reader.choice(node, at: path, as: Phase.self)
    }

    func isName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95 || $0 == 46 }
    }
}
