import Yams

/// A host task's `float:` and `dns:`; the section's `inventory:` and `worksheet:`.
extension ConfigBuilder {
    static let dnsKeys = ["server", "zone", "name", "ttl_ahead", "ttl", "keep_old_for", "tsig", "old_addresses", "new_addresses"]

    /// How the task floats: as written, or what its `vip:` and `dns:` sections imply (both when both are there).
    func floatMethod(_ view: MappingView, hasVIP: Bool, hasDNS: Bool) -> HostCutoverSettings.FloatMethod? {
        guard let node = view["float"] else {
            switch (hasVIP, hasDNS) {
            case (true, true): return .both
            case (true, false): return .vip
            case (false, true): return .dns
            case (false, false): return nil
            }
        }
        guard let text = reader.string(node, at: view.path("float")) else { return nil }
        guard let method = HostCutoverSettings.FloatMethod(rawValue: text) else {
            reader.report(view.path("float"), node, "'\(text)' is not a float: vip, dns or both", fix: "write float: dns with a dns: section")
            return nil
        }
        if method != .dns, !hasVIP {
            reader.report(view.path("float"), node, "float: \(text) needs the service address", fix: "write vip: { address: 198.18.0.100/24 }")
        }
        if method != .vip, !hasDNS {
            reader.report(view.path("float"), node, "float: \(text) needs the name to move", fix: "write dns: { server: 198.18.0.53:53, zone: example.com, name: www.example.com, tsig: { name: cutover, secret_env: CUTOVER_TSIG } }")
        }
        if method == .vip, hasDNS {
            reader.report(view.path("float"), node, "float: vip leaves the dns: section unused", fix: "write float: both, or remove dns:")
        }
        return method
    }

    func dnsFloat(_ node: Node, at path: ConfigPath, from: HostCutoverSettings.Host?, to: HostCutoverSettings.Host?) -> HostCutoverSettings.DNSFloatSettings? {
        guard let view = reader.mapping(node, at: path, keys: Self.dnsKeys) else { return nil }
        var server: DNSServer?
        if let value = required(view, "server"), let text = reader.string(value, at: view.path("server")) {
            do { server = try DNSServer(parsing: text) } catch { reader.report(view.path("server"), value, error.description, fix: "write HOST:PORT, as 198.18.0.53:53") }
        }
        func name(_ key: String, _ value: Node?) -> DNSName? {
            guard let value, let text = reader.string(value, at: view.path(key)) else { return nil }
            do { return try DNSName(parsing: text) } catch {
                reader.report(view.path(key), value, error.description)
                return nil
            }
        }
        let zone = name("zone", required(view, "zone"))
        let recordName = name("name", required(view, "name"))
        if let zone, let recordName, !recordName.isInside(zone) {
            reader.report(view.path("name"), view["name"], "\(recordName) is not in the zone \(zone)", fix: "name a record of the zone, as www.\(zone)")
        }
        var tsigName: DNSName?, algorithm = "hmac-sha256", secretEnv: String?
        if let value = required(view, "tsig"), let tsig = reader.mapping(value, at: view.path("tsig"), keys: ["name", "algorithm", "secret_env"]) {
            if let node = required(tsig, "name"), let text = reader.string(node, at: tsig.path("name")) {
                do { tsigName = try DNSName(parsing: text) } catch { reader.report(tsig.path("name"), node, "the key name \(error)") }
            }
            if let node = tsig["algorithm"], let text = reader.string(node, at: tsig.path("algorithm")) {
                if HostCutoverSettings.DNSFloatSettings.algorithms.contains(text.lowercased()) {
                    algorithm = text.lowercased()
                } else {
                    reader.report(tsig.path("algorithm"), node, "'\(text)' is not one of \(HostCutoverSettings.DNSFloatSettings.algorithms.joined(separator: ", "))")
                }
            }
            if let node = required(tsig, "secret_env"), let text = reader.string(node, at: tsig.path("secret_env")) {
                if !text.isEmpty, text.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || ($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 122) }),
                   !(text.first?.isNumber ?? true) {
                    secretEnv = text
                } else {
                    reader.report(tsig.path("secret_env"), node, "'\(text)' is not an environment variable's name",
                                  fix: "name the variable that holds the secret (the secret itself never goes in the file)")
                }
            }
        }
        func addresses(_ key: String, host: HostCutoverSettings.Host?) -> [IPAddress]? {
            guard let value = view[key] else {
                if let address = host?.address?.address { return [address] }
                reader.report(view.path(key), node, "no \(key), and \(host.map { "the host '\($0.name)'" } ?? "the host") has no address: to take them from",
                              fix: "write \(key): [198.18.1.20], or give the host an address: (its own address is then used)")
                return nil
            }
            guard let list = reader.list(value, at: view.path(key)) else { return nil }
            var result: [IPAddress] = []
            for (index, item) in list.enumerated() {
                guard let text = reader.string(item, at: view.path(key).appending(index: index)) else { continue }
                guard let address = IPAddress(text) else {
                    reader.report(view.path(key).appending(index: index), item, "'\(text)' is not an IPv4 or IPv6 address")
                    continue
                }
                result.append(address)
            }
            if list.isEmpty { reader.report(view.path(key), value, "the list is empty: the name needs at least one address") }
            return result
        }
        let old = addresses("old_addresses", host: from), new = addresses("new_addresses", host: to)
        let ttlAhead = view["ttl_ahead"].flatMap { reader.duration($0, at: view.path("ttl_ahead"), minimum: .seconds(1)) }
        let ttl = view["ttl"].flatMap { reader.duration($0, at: view.path("ttl"), minimum: .seconds(1)) }
        let keep = view["keep_old_for"].flatMap { reader.duration($0, at: view.path("keep_old_for")) }
        guard let server, let zone, let recordName, let tsigName, let secretEnv, let old, let new, !old.isEmpty, !new.isEmpty else { return nil }
        var settings = HostCutoverSettings.DNSFloatSettings(server: server, zone: zone, name: recordName, tsigName: tsigName, tsigAlgorithm: algorithm,
                                                            tsigSecretEnv: secretEnv, oldAddresses: old, newAddresses: new)
        if let ttlAhead { settings.ttlAhead = ttlAhead }
        settings.ttl = ttl
        if let keep { settings.keepOldFor = keep }
        return settings
    }

    func inventory(_ node: Node, at path: ConfigPath) -> HostCutoverSettings.Inventory {
        guard let view = reader.mapping(node, at: path, keys: ["config_roots", "extra_paths"]) else { return .init() }
        func paths(_ key: String) -> [String]? {
            guard let value = view[key], let list = reader.list(value, at: view.path(key)) else { return nil }
            return list.enumerated().compactMap { index, item in
                guard let text = reader.string(item, at: view.path(key).appending(index: index)) else { return nil }
                guard text.hasPrefix("/") else {
                    reader.report(view.path(key).appending(index: index), item, "'\(text)' is not an absolute path")
                    return nil
                }
                return text
            }
        }
        return HostCutoverSettings.Inventory(configRoots: paths("config_roots"), extraPaths: paths("extra_paths") ?? [])
    }

    func worksheetRules(_ node: Node, at path: ConfigPath) -> WorksheetRules {
        var rules = WorksheetRules.defaults
        guard let view = reader.mapping(node, at: path, keys: ["rules", "ignore"]) else { return rules }
        if let value = view["rules"] {
            let names = WorksheetRules.descriptions.map(\.name)
            if let mapping = reader.mapping(value, at: view.path("rules"), keys: names) {
                for name in names {
                    guard let node = mapping[name], let text = reader.string(node, at: mapping.path(name)) else { continue }
                    guard let verdict = WorksheetVerdict(rawValue: text) else {
                        reader.report(mapping.path(name), node, "'\(text)' is not blocker, differs or off")
                        continue
                    }
                    rules.verdicts[name] = verdict
                }
            }
        }
        if let value = view["ignore"], let patterns = strings(value, at: view.path("ignore")) { rules.ignore += patterns }
        return rules
    }
}
