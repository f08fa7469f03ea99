import Yams

/// The `host_cutover:` section.
extension ConfigBuilder {
    static let hostCutoverKeys = ["hosts", "tasks", "groups", "max_parallel_groups", "gateway", "inventory", "worksheet"]
    static let hostKeys = ["executor", "interface", "host_key_check", "identity_file", "known_hosts_file", "address"]
    static let taskKeys = ["name", "from", "to", "service", "data", "sync", "downtime_budget", "vip", "verify", "garp", "float", "dns", "require_worksheet"]

    func hostCutover(_ node: Node, at path: ConfigPath) -> HostCutoverSettings? {
        guard let section = reader.mapping(node, at: path, keys: Self.hostCutoverKeys) else { return nil }
        var hosts: [HostCutoverSettings.Host] = []
        if let node = required(section, "hosts") {
            if case .mapping(let mapping) = node {
                for (nameNode, hostNode) in mapping {
                    guard let name = reader.name(nameNode, at: section.path("hosts"), of: "a host's name") else { continue }
                    if let host = host(name, hostNode, at: section.path("hosts").appending(name)) { hosts.append(host) }
                }
            } else {
                reader.report(section.path("hosts"), node, "expected a mapping of host names to hosts, found \(reader.kind(node))",
                              fix: "write hosts: { shop-old: { executor: \"netns:old\", interface: eth0 } }")
            }
        }
        var tasks: [HostCutoverSettings.Task] = []
        if let node = section["tasks"], let list = reader.list(node, at: section.path("tasks")) {
            for (index, item) in list.enumerated() {
                let itemPath = section.path("tasks").appending(index: index)
                guard let task = task(item, at: itemPath, hosts: hosts) else { continue }
                if tasks.contains(where: { $0.name == task.name }) {
                    reader.report(itemPath.appending("name"), item, "a task named '\(task.name)' is already listed", fix: "give every task its own name")
                    continue
                }
                tasks.append(task)
            }
        }
        var groups: [HostCutoverSettings.Group] = []
        if let node = section["groups"], let list = reader.list(node, at: section.path("groups")) {
            for (index, item) in list.enumerated() {
                let itemPath = section.path("groups").appending(index: index)
                guard let group = reader.mapping(item, at: itemPath, keys: ["name", "tasks"]) else { continue }
                let name = required(group, "name").flatMap { reader.string($0, at: group.path("name")) }
                let members = required(group, "tasks").flatMap { strings($0, at: group.path("tasks")) } ?? []
                for (position, member) in members.enumerated() where !tasks.contains(where: { $0.name == member }) {
                    reader.report(group.path("tasks").appending(index: position), group["tasks"], "no task named '\(member)'",
                                  fix: "name tasks listed under host_cutover.tasks")
                }
                if members.isEmpty, let node = group["tasks"] { reader.report(group.path("tasks"), node, "a group needs at least one task") }
                guard let name else { continue }
                if groups.contains(where: { $0.name == name }) {
                    reader.report(group.path("name"), item, "a group named '\(name)' is already listed", fix: "give every group its own name")
                    continue
                }
                groups.append(HostCutoverSettings.Group(name: name, tasks: members))
            }
        }
        let parallel = section["max_parallel_groups"].flatMap { reader.int($0, at: section.path("max_parallel_groups"), in: 1...64) } ?? 3
        var gateway: String?
        if let node = section["gateway"], let view = reader.mapping(node, at: section.path("gateway"), keys: ["admin"]) {
            if let value = required(view, "admin"), let url = reader.string(value, at: view.path("admin")) {
                if url.hasPrefix("http://") || url.hasPrefix("https://") {
                    gateway = url
                } else {
                    reader.report(view.path("admin"), value, "'\(url)' is not an http:// or https:// URL", fix: "write the admin listener's URL, as http://127.0.0.1:9090")
                }
            }
        }
        var settings = HostCutoverSettings(hosts: hosts, tasks: tasks, groups: groups, maxParallelGroups: parallel, gatewayAdmin: gateway)
        if let node = section["inventory"] { settings.inventory = inventory(node, at: section.path("inventory")) }
        if let node = section["worksheet"] { settings.worksheet = worksheetRules(node, at: section.path("worksheet")) }
        return settings
    }

    private func host(_ name: String, _ node: Node, at path: ConfigPath) -> HostCutoverSettings.Host? {
        guard let view = reader.mapping(node, at: path, keys: Self.hostKeys) else { return nil }
        var executor: ExecutorAddress?
        if let value = required(view, "executor"), let text = reader.string(value, at: view.path("executor")) {
            switch ExecutorAddress.parse(text) {
            case .success(let parsed): executor = parsed
            case .failure(let error): reader.report(view.path("executor"), value, error.description)
            }
        }
        var interface: String?
        if let value = required(view, "interface"), let text = reader.string(value, at: view.path("interface")) {
            if InterfaceName.isValid(text) {
                interface = text
            } else {
                reader.report(view.path("interface"), value, "'\(text)' is not an interface name (1 to 15 letters, digits, '.', '_', '-' or '@')")
            }
        }
        let hostKeyCheck = view["host_key_check"].flatMap { reader.bool($0, at: view.path("host_key_check")) } ?? true
        let identity = view["identity_file"].flatMap { reader.string($0, at: view.path("identity_file")) }
        let knownHosts = view["known_hosts_file"].flatMap { reader.string($0, at: view.path("known_hosts_file")) }
        let address = view["address"].flatMap { interfaceAddress($0, at: view.path("address"), family: nil) }
        guard let executor, let interface else { return nil }
        return HostCutoverSettings.Host(name: name, executor: executor, interface: interface, hostKeyCheck: hostKeyCheck,
                                        identityFile: identity, knownHostsFile: knownHosts, address: address)
    }

    private func task(_ node: Node, at path: ConfigPath, hosts: [HostCutoverSettings.Host]) -> HostCutoverSettings.Task? {
        guard let view = reader.mapping(node, at: path, keys: Self.taskKeys) else { return nil }
        let name = required(view, "name").flatMap { reader.string($0, at: view.path("name")) }
        func hostName(_ key: String) -> String? {
            guard let value = required(view, key), let text = reader.string(value, at: view.path(key)) else { return nil }
            guard hosts.contains(where: { $0.name == text }) else {
                reader.report(view.path(key), value, "no host named '\(text)'", fix: "name a host of host_cutover.hosts")
                return nil
            }
            return text
        }
        let from = hostName("from"), to = hostName("to")
        if let from, let to, from == to {
            reader.report(view.path("to"), view["to"], "the task moves '\(from)' to itself", fix: "name two different hosts in from and to")
        }
        let service = required(view, "service").flatMap { self.service($0, at: view.path("service")) }
        var data: [HostCutoverSettings.DataPath] = []
        if let value = view["data"], let list = reader.list(value, at: view.path("data")) {
            for (index, item) in list.enumerated() {
                let itemPath = view.path("data").appending(index: index)
                guard let entry = reader.mapping(item, at: itemPath, keys: ["path", "to_path"]) else { continue }
                let path = required(entry, "path").flatMap { absolutePath($0, at: entry.path("path")) }
                let toPath = entry["to_path"].flatMap { absolutePath($0, at: entry.path("to_path")) }
                if let path { data.append(HostCutoverSettings.DataPath(path: path, toPath: toPath)) }
            }
        }
        var sync = HostCutoverSettings.SyncRules.defaults
        if let value = view["sync"], let rules = reader.mapping(value, at: view.path("sync"), keys: ["max_passes", "converge_bytes", "min_shrink"]) {
            if let node = rules["max_passes"] { sync.maxPasses = reader.int(node, at: rules.path("max_passes"), in: 1...100) ?? sync.maxPasses }
            if let node = rules["converge_bytes"] { sync.convergeBytes = reader.byteSize(node, at: rules.path("converge_bytes")) ?? sync.convergeBytes }
            if let node = rules["min_shrink"] { sync.minShrink = reader.double(node, at: rules.path("min_shrink"), in: 0...1) ?? sync.minShrink }
        }
        let budget = view["downtime_budget"].flatMap { reader.duration($0, at: view.path("downtime_budget"), minimum: .milliseconds(1)) } ?? .seconds(5)
        var vip: InterfaceAddress?, vip6: InterfaceAddress?
        var vantage: HostCutoverSettings.Vantage?
        if let value = view["vip"], let addresses = reader.mapping(value, at: view.path("vip"), keys: ["address", "address6", "vantage"]) {
            vip = addresses["address"].flatMap { interfaceAddress($0, at: addresses.path("address"), family: 4) }
            vip6 = addresses["address6"].flatMap { interfaceAddress($0, at: addresses.path("address6"), family: 6) }
            if let node = addresses["vantage"], let text = reader.string(node, at: addresses.path("vantage")) {
                switch ExecutorAddress.parseSide(text) {
                case .failure(let error):
                    reader.report(addresses.path("vantage"), node, error.description)
                case .success(let side):
                    if case .ssh = side.executor {
                        reader.report(addresses.path("vantage"), node, "'\(text)' is not on this machine: the float is watched from here",
                                      fix: "write netns:NAME:INTERFACE or local:INTERFACE, an interface on the service address's segment")
                    } else {
                        vantage = HostCutoverSettings.Vantage(executor: side.executor, interface: side.interface)
                    }
                }
            }
            if addresses["address"] == nil, addresses["address6"] == nil {
                reader.report(view.path("vip"), value, "the service address is missing", fix: "write vip: { address: 198.18.0.100/24 } (and/or address6:)")
            }
            for key in ["from", "to"] {
                guard let hostName = key == "from" ? from : to, let own = hosts.first(where: { $0.name == hostName })?.address else { continue }
                for (field, address) in [("address", vip), ("address6", vip6)] {
                    guard let address, own.address.isIPv6 == address.address.isIPv6, !own.contains(address.address) else { continue }
                    reader.report(addresses.path(field), value, "\(address.address) is outside \(hostName)'s subnet \(own)",
                                  fix: "the service address must be on the subnet of both hosts' interfaces")
                }
            }
        }
        var verify: HostCutoverSettings.Verify?
        if let value = view["verify"], let check = reader.mapping(value, at: view.path("verify"), keys: ["url", "every", "timeout"]) {
            if let node = required(check, "url"), let url = reader.string(node, at: check.path("url")) {
                if ProbeURL(url) != nil {
                    verify = HostCutoverSettings.Verify(url: url)
                } else {
                    reader.report(check.path("url"), node, "'\(url)' is not an http:// URL with an IP address",
                                  fix: "the health URL is probed through the service address itself, as http://198.18.0.100:8080/healthz")
                }
            }
            if let node = check["every"], let every = reader.duration(node, at: check.path("every"), minimum: .milliseconds(1)) { verify?.every = every }
            if let node = check["timeout"], let timeout = reader.duration(node, at: check.path("timeout"), minimum: .milliseconds(1)) { verify?.timeout = timeout }
        }
        var announcements = HostCutoverSettings.Announcements.defaults
        if let value = view["garp"], let garp = reader.mapping(value, at: view.path("garp"), keys: ["repeat", "interval", "refresh_after"]) {
            if let node = garp["repeat"] { announcements.count = reader.int(node, at: garp.path("repeat"), in: 1...100) ?? announcements.count }
            if let node = garp["interval"] { announcements.interval = reader.duration(node, at: garp.path("interval")) ?? announcements.interval }
            if let node = garp["refresh_after"] { announcements.refreshAfter = reader.duration(node, at: garp.path("refresh_after")) ?? announcements.refreshAfter }
        }
        let fromHost = hosts.first { $0.name == from }, toHost = hosts.first { $0.name == to }
        let dns = view["dns"].flatMap { dnsFloat($0, at: view.path("dns"), from: fromHost, to: toHost) }
        let method = floatMethod(view, hasVIP: vip != nil || vip6 != nil, hasDNS: view["dns"] != nil)
        let requireWorksheet = view["require_worksheet"].flatMap { reader.bool($0, at: view.path("require_worksheet")) } ?? false
        guard let name, let from, let to, from != to, let service else { return nil }
        return HostCutoverSettings.Task(name: name, from: from, to: to, service: service, data: data, sync: sync, downtimeBudget: budget,
                                        vip: vip, vip6: vip6, vantage: vantage, verify: verify, announcements: announcements,
                                        float: method, dns: dns, requireWorksheet: requireWorksheet)
    }

    private func service(_ node: Node, at path: ConfigPath) -> HostCutoverSettings.Service? {
        guard let view = reader.mapping(node, at: path, keys: ["stop", "start", "health", "ports"]) else { return nil }
        let stop = required(view, "stop").flatMap { reader.string($0, at: view.path("stop")) }
        let start = required(view, "start").flatMap { reader.string($0, at: view.path("start")) }
        let health = required(view, "health").flatMap { reader.string($0, at: view.path("health")) }
        var ports: [Int] = []
        if let value = view["ports"], let list = reader.list(value, at: view.path("ports")) {
            for (index, item) in list.enumerated() {
                if let port = reader.int(item, at: view.path("ports").appending(index: index), in: 1...65535) { ports.append(port) }
            }
        }
        guard let stop, let start, let health else { return nil }
        return HostCutoverSettings.Service(stop: stop, start: start, health: health, ports: ports)
    }

    private func absolutePath(_ node: Node, at path: ConfigPath) -> String? {
        guard let text = reader.string(node, at: path) else { return nil }
        guard text.hasPrefix("/"), !text.split(separator: "/").contains("..") else {
            reader.report(path, node, "'\(text)' is not an absolute path", fix: "write the folder's full path, as /var/lib/shop/")
            return nil
        }
        return text
    }

    /// An address with its prefix; `family` 4 or 6 when only one is allowed.
    private func interfaceAddress(_ node: Node, at path: ConfigPath, family: Int?) -> InterfaceAddress? {
        guard let text = reader.string(node, at: path) else { return nil }
        switch InterfaceAddress.parse(text) {
        case .failure(let error):
            reader.report(path, node, error.description)
            return nil
        case .success(let address):
            if let family, (family == 6) != address.address.isIPv6 {
                reader.report(path, node, "\(address) is not an IPv\(family) address",
                              fix: family == 4 ? "put an IPv6 address under address6" : "put an IPv4 address under address")
                return nil
            }
            return address
        }
    }
}
