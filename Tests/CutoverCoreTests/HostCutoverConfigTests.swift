import CutoverCore
import Testing

/// The `host_cutover:` section: a full task read as written, defaults where it is silent, and every bad input named
/// with its path and line.
@Suite("Host cutover configuration")
struct HostCutoverConfigTests {
    static let example = """
        store: "sqlite:cutover.db"
        host_cutover:
          hosts:
            shop-old: { executor: "netns:old", interface: eth0, address: 198.18.0.1/24 }
            shop-new: { executor: "ssh://root@198.18.0.2", interface: eth0, host_key_check: false, identity_file: /root/.ssh/cutover }
          tasks:
            - name: shop
              from: shop-old
              to: shop-new
              service:
                stop:  "systemctl stop shop"
                start: "systemctl start shop"
                health: "curl -fsS http://127.0.0.1:8080/healthz"
                ports: [8080]
              data:
                - { path: /var/lib/shop/ }
                - { path: /etc/shop/, to_path: /srv/shop-config/ }
              sync: { max_passes: 6, converge_bytes: 2MiB, min_shrink: 0.2 }
              downtime_budget: 3s
              vip: { address: 198.18.0.100/24, address6: "fd00::100/64", vantage: "netns:watch:eth0" }
              verify: { url: "http://198.18.0.100:8080/healthz", every: 20ms, timeout: 5s }
              garp: { repeat: 3, interval: 100ms, refresh_after: 0 }
          groups:
            - { name: wave-1, tasks: [shop] }
          max_parallel_groups: 2
          gateway: { admin: "http://127.0.0.1:9090" }
        """

    func issues(_ yaml: String) -> [ConfigIssue] {
        guard case .failure(let error) = ConfigLoader.loadHost(yaml: yaml) else {
            Issue.record("expected the configuration to be refused")
            return []
        }
        return error.issues
    }

    func hosts(_ task: String, extraHosts: String = "") -> String {
        """
        host_cutover:
          hosts:
            a: { executor: "netns:a", interface: eth0, address: 198.18.0.1/24 }
            b: { executor: local, interface: eth1 }
        \(extraHosts)
          tasks:
        \(task)
        """
    }

    static let service = "service: { stop: 'x', start: 'y', health: 'z' }"

    @Test func aFullTaskIsReadAsWritten() throws {
        let config = try ConfigLoader.loadHost(yaml: Self.example).get()
        let settings = config.hostCutover
        #expect(config.store == .sqlite(path: "cutover.db"))
        #expect(settings.hosts.map(\.name) == ["shop-old", "shop-new"])
        let new = try #require(settings.host(named: "shop-new"))
        #expect(new.executor == .ssh(user: "root", host: "198.18.0.2", port: 22))
        #expect(!new.hostKeyCheck && new.identityFile == "/root/.ssh/cutover")
        #expect(settings.host(named: "shop-old")?.hostKeyCheck == true, "host keys are checked unless the configuration says no")
        let task = try #require(settings.task(named: "shop"))
        #expect(task.from == "shop-old" && task.to == "shop-new")
        #expect(task.service.ports == [8080])
        #expect(task.data == [.init(path: "/var/lib/shop/", toPath: nil), .init(path: "/etc/shop/", toPath: "/srv/shop-config/")])
        #expect(task.sync == .init(maxPasses: 6, convergeBytes: 2 * 1024 * 1024, minShrink: 0.2))
        #expect(task.downtimeBudget == .seconds(3))
        #expect(task.vip?.description == "198.18.0.100/24" && task.vip6?.description == "fd00::100/64")
        #expect(task.vantage == .init(executor: .netns("watch"), interface: "eth0"))
        #expect(task.verify == .init(url: "http://198.18.0.100:8080/healthz", every: .milliseconds(20), timeout: .seconds(5)))
        #expect(task.announcements == .init(count: 3, interval: .milliseconds(100), refreshAfter: .zero))
        #expect(settings.groups == [.init(name: "wave-1", tasks: ["shop"])])
        #expect(settings.maxParallelGroups == 2)
        #expect(settings.gatewayAdmin == "http://127.0.0.1:9090")
    }

    @Test func whereTheTaskIsSilentTheDefaultsHold() throws {
        let settings = try ConfigLoader.loadHost(yaml: hosts("    - { name: t, from: a, to: b, \(Self.service) }")).get().hostCutover
        let task = try #require(settings.tasks.first)
        #expect(task.sync == .defaults)
        #expect(task.sync.maxPasses == 8 && task.sync.convergeBytes == 1024 * 1024 && task.sync.minShrink == 0.10)
        #expect(task.downtimeBudget == .seconds(5))
        #expect(task.announcements == .init(count: 5, interval: .milliseconds(200), refreshAfter: .seconds(5)))
        #expect(task.data.isEmpty && task.vip == nil && task.verify == nil && task.vantage == nil)
        #expect(settings.maxParallelGroups == 3)
    }

    @Test func anUnknownHostAndATaskOntoItselfAreNamed() {
        let found = issues(hosts("""
                - { name: t, from: a, to: c, \(Self.service) }
                - { name: u, from: b, to: b, \(Self.service) }
            """))
        #expect(found.map(\.path.description) == ["host_cutover.tasks[0].to", "host_cutover.tasks[1].to"])
        #expect(found[0].message == "no host named 'c'")
        #expect(found[1].message == "the task moves 'b' to itself")
        #expect(found.allSatisfy { $0.line != nil })
    }

    @Test func aBadExecutorOrInterfaceIsNamed() {
        let found = issues("""
            host_cutover:
              hosts:
                a: { executor: "ssh://h", interface: eth0 }
                b: { executor: "netns:b", interface: "eth/0" }
                c: { executor: "telnet:c", interface: eth0, port: 1 }
            """)
        #expect(found.map(\.path.description) == ["host_cutover.hosts.a.executor", "host_cutover.hosts.b.interface",
                                                  "host_cutover.hosts.c.executor", "host_cutover.hosts.c.port"])
        #expect(found[0].message == "'ssh://h' names no user: ssh executors are written ssh://user@host[:port]")
        #expect(found[1].message.hasPrefix("'eth/0' is not an interface name"))
        #expect(found[2].message == "'telnet:c' is not an executor: write local, netns:NAME or ssh://user@host[:port]")
        #expect(found[3].message == "unknown key 'port'")
    }

    @Test func aDataPathMustBeAbsolute() {
        let found = issues(hosts("    - { name: t, from: a, to: b, \(Self.service), data: [{ path: var/lib/shop }, { path: /a/../etc, to_path: /b }] }"))
        #expect(found.map(\.path.description) == ["host_cutover.tasks[0].data[0].path", "host_cutover.tasks[0].data[1].path"])
        #expect(found[0].message == "'var/lib/shop' is not an absolute path")
    }

    @Test func theServiceAddressMustBeOnTheHostsSubnetAndOfItsFamily() {
        let found = issues(hosts("    - { name: t, from: a, to: b, \(Self.service), vip: { address: 198.18.5.100/24, address6: 198.18.0.9/24 } }"))
        #expect(found.map(\.path.description) == ["host_cutover.tasks[0].vip.address", "host_cutover.tasks[0].vip.address6"])
        #expect(found[0].message == "198.18.5.100 is outside a's subnet 198.18.0.1/24")
        #expect(found[1].message == "198.18.0.9/24 is not an IPv6 address")
        let missing = issues(hosts("    - { name: t, from: a, to: b, \(Self.service), vip: {} }"))
        #expect(missing.first?.message == "the service address is missing")
        let bad = issues(hosts("    - { name: t, from: a, to: b, \(Self.service), vip: { address: 198.18.0.300/24 } }"))
        #expect(bad.first?.message == "'198.18.0.300' is not an IPv4 or IPv6 address")
    }

    @Test(arguments: [
        ("ssh://root@198.18.0.9/eth0", "'ssh://root@198.18.0.9/eth0' is not on this machine: the float is watched from here"),
        ("netns:watch", "'netns:watch' names no interface: write netns:NAME:INTERFACE, local:INTERFACE or ssh://user@host/INTERFACE"),
        ("local:eth 0", "'eth 0' is not an interface name (1 to 15 letters, digits, '.', '_', '-' or '@')"),
        ("telnet:x:eth0", "'telnet:x' is not an executor: write local, netns:NAME or ssh://user@host[:port]"),
    ])
    func theFloatsVantageIsAnInterfaceOnThisMachine(vantage: String, message: String) {
        let found = issues(hosts("    - { name: t, from: a, to: b, \(Self.service), vip: { address: 198.18.0.100/24, vantage: \"\(vantage)\" } }"))
        #expect(found.map(\.path.description) == ["host_cutover.tasks[0].vip.vantage"])
        #expect(found.first?.message == message)
        #expect(found.first?.line == 7)
    }

    @Test func theServiceSyncAndVerifyAreChecked() {
        let found = issues(hosts("""
                - name: t
                  from: a
                  to: b
                  service: { stop: x, start: y, ports: [0] }
                  sync: { max_passes: 0, min_shrink: 2 }
                  verify: { url: "ftp://x", every: soon }
                  downtime_budget: 0s
            """))
        #expect(found.map(\.path.description) == [
            "host_cutover.tasks[0].service.health", "host_cutover.tasks[0].service.ports[0]", "host_cutover.tasks[0].sync.max_passes",
            "host_cutover.tasks[0].sync.min_shrink", "host_cutover.tasks[0].verify.url", "host_cutover.tasks[0].verify.every",
            "host_cutover.tasks[0].downtime_budget",
        ])
    }

    @Test func groupsNameTasksThatExistAndNamesAreUnique() {
        let found = issues(hosts("""
                - { name: t, from: a, to: b, \(Self.service) }
                - { name: t, from: b, to: a, \(Self.service) }
              groups:
                - { name: g, tasks: [t, nope] }
                - { name: g, tasks: [t] }
              max_parallel_groups: 0
            """))
        #expect(found.map(\.path.description) == ["host_cutover.tasks[1].name", "host_cutover.groups[0].tasks[1]", "host_cutover.groups[1].name",
                                                  "host_cutover.max_parallel_groups"])
        #expect(found[1].message == "no task named 'nope'")
    }

    @Test func theSectionIsRequiredForTheHostCommandsAndValidatedWithTheGatewaysConfiguration() {
        #expect(issues("store: \"sqlite:x.db\"\n").first?.message == "no host_cutover section")
        let gateway = """
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: { old: { url: "http://127.0.0.1:9001" } }
            host_cutover: { hosts: { a: { executor: "netns:", interface: eth0 } } }
            """
        guard case .failure(let error) = ConfigLoader.load(yaml: gateway) else {
            Issue.record("a broken host_cutover section passed with the gateway's configuration")
            return
        }
        #expect(error.issues.map(\.path.description) == ["host_cutover.hosts.a.executor"])
    }

    @Test func theHealthURLIsProbedThroughTheAddressItself() {
        for url in ["https://198.18.0.100/healthz", "http://shop.example/healthz", "http://198.18.0.100:0/", "http://[fd00::100/"] {
            let found = issues(hosts("    - { name: t, from: a, to: b, \(Self.service), verify: { url: \"\(url)\" } }"))
            #expect(found.first?.message == "'\(url)' is not an http:// URL with an IP address", "\(url)")
        }
        for url in ["http://198.18.0.100:8080/healthz", "http://[fd00::100]:8080/", "http://198.18.0.100"] {
            #expect(throws: Never.self, "\(url)") {
                try ConfigLoader.loadHost(yaml: hosts("    - { name: t, from: a, to: b, \(Self.service), verify: { url: \"\(url)\" } }")).get()
            }
        }
    }
}
