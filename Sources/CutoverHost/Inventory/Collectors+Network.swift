/// How the host is reached and what it reaches: `/etc/hosts`, resolvers, interfaces and routes, and the peers of
/// its established connections.
extension InventoryCollector {
    static let network: [InventoryCollector] = [hosts, resolver, interfaces, peer]

    static let hosts = InventoryCollector(name: "hosts", script: { _ in "cat /etc/hosts" }, parse: { text, _ in
        var names: [String: [String]] = [:]
        for line in lines(text) {
            let content = line.prefix { $0 != "#" }
            let words = words(content)
            guard words.count >= 2 else { continue }
            for name in words.dropFirst() { names["hosts.\(name)", default: []].append(String(words[0])) }
        }
        return names.mapValues { $0.sorted().joined(separator: " ") }
    })

    static let resolver = InventoryCollector(name: "resolver", script: { _ in "cat /etc/resolv.conf" }, parse: { text, _ in
        var values: [String: [String]] = [:]
        for line in lines(text) where !line.hasPrefix("#") && !line.hasPrefix(";") {
            let words = words(line)
            guard let first = words.first, words.count >= 2 else { continue }
            values["resolver.\(first)", default: []] += words.dropFirst().map(String.init)
        }
        return values.mapValues { $0.joined(separator: " ") }
    })

    /// Interfaces with their addresses, and routes.
    static let interfaces = InventoryCollector(name: "network", script: { _ in
        "command -v ip >/dev/null || { echo 'ip is not installed (iproute2)' >&2; exit 127; }; ip -o addr show; echo @@routes; ip -o route show; echo @@routes6; ip -o -6 route show"
    }, parse: { text, _ in
        let parts = sections(text)
        var addresses: [String: [String]] = [:]
        for line in parts[""] ?? [] {
            let words = words(line)
            guard words.count >= 4, words[2] == "inet" || words[2] == "inet6" else { continue }
            addresses["network.interface.\(words[1])", default: []].append(String(words[3]))
        }
        var settings = addresses.mapValues { $0.sorted().joined(separator: " ") }
        for (section, kind) in [("routes", "route"), ("routes6", "route6")] {
          for line in parts[section] ?? [] {
            let words = words(line)
            guard let destination = words.first else { continue }
            // The route's gateway and device; protocol, scope and metric are how it was made, not where it goes.
            var target: [String] = []
            for (index, word) in words.enumerated() where (word == "via" || word == "dev") && index + 1 < words.count {
                target.append("\(word) \(words[index + 1])")
            }
            settings["network.\(kind).\(destination)"] = target.joined(separator: " ")
          }
        }
        return settings
    })

    /// The other ends of established TCP connections: servers the host connects to (address and port), and clients
    /// that connect to one of its listening ports (address only: their ports are ephemeral).
    static let peer = InventoryCollector(name: "peer", script: { _ in
        "command -v ss >/dev/null || { echo 'ss is not installed (iproute2)' >&2; exit 127; }; ss -Htn state established; echo @@listen; ss -Hltn"
    }, parse: { text, _ in
        let parts = sections(text)
        func port(_ endpoint: Substring) -> Substring { endpoint.split(separator: ":").last ?? "" }
        func host(_ endpoint: Substring) -> Substring {
            guard let colon = endpoint.lastIndex(of: ":") else { return endpoint }
            return endpoint[..<colon]
        }
        let listening = Set((parts["listen"] ?? []).compactMap { line in words(line).count >= 4 ? port(words(line)[3]) : nil })
        var settings: [String: String] = [:]
        for line in parts[""] ?? [] {
            let words = words(line)
            guard words.count >= 4 else { continue }
            let local = words[2], remote = words[3]
            if listening.contains(port(local)) {
                settings["peer.client.\(host(remote))"] = "connects to :\(port(local))"
            } else {
                settings["peer.server.\(remote)"] = "connected"
            }
        }
        return settings
    })
}
