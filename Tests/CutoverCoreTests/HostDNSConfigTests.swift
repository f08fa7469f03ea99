import CutoverCore
import Testing

/// A host task's `float:` and `dns:`: read as written, the addresses taken from the hosts where the section is silent,
/// and every bad value named with its path.
@Suite("Host cutover configuration: the DNS float")
struct HostDNSConfigTests {
    func load(_ task: String) -> Result<HostConfig, ConfigError> {
        ConfigLoader.loadHost(yaml: """
            host_cutover:
              hosts:
                a: { executor: "netns:a", interface: eth0, address: 198.18.0.1/24 }
                b: { executor: local, interface: eth1, address: 198.18.0.2/24 }
                c: { executor: local, interface: eth2 }
              tasks:
                - name: t
                  service: { stop: x, start: y, health: z }
            \(task.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
            """)
    }

    func issues(_ task: String) -> [ConfigIssue] {
        guard case .failure(let error) = load(task) else {
            Issue.record("expected the configuration to be refused")
            return []
        }
        return error.issues
    }

    @Test func aDNSFloatIsReadAsWritten() throws {
        let task = try #require(try load("""
            from: a
            to: b
            float: dns
            dns:
              server: "198.18.0.53:5353"
              zone: Example.Test
              name: www.example.test.
              ttl_ahead: 30s
              ttl: 5m
              keep_old_for: 14d
              tsig: { name: cutover-key, algorithm: HMAC-SHA512, secret_env: CUTOVER_TSIG }
              old_addresses: [198.18.0.1, "fd00::1"]
              new_addresses: [198.18.1.2]
            """).get().hostCutover.tasks.first)
        #expect(task.float == .dns && task.floatsDNS && !task.floatsVIP)
        let dns = try #require(task.dns)
        #expect(dns.server == (try DNSServer(parsing: "198.18.0.53:5353")))
        #expect(dns.zone.description == "example.test." && dns.name.description == "www.example.test.")
        #expect(dns.ttlAhead == .seconds(30) && dns.ttl == .seconds(300) && dns.keepOldFor == .seconds(14 * 86_400))
        #expect(dns.tsigName.description == "cutover-key." && dns.tsigAlgorithm == "hmac-sha512" && dns.tsigSecretEnv == "CUTOVER_TSIG")
        #expect(dns.oldAddresses == [IPAddress("198.18.0.1")!, IPAddress("fd00::1")!] && dns.newAddresses == [IPAddress("198.18.1.2")!])
    }

    @Test func whereTheSectionIsSilentTheHostsAddressesAndTheDefaultsHold() throws {
        let task = try #require(try load("""
            from: a
            to: b
            dns: { server: 198.18.0.53, zone: example.test, name: www.example.test, tsig: { name: k, secret_env: K } }
            """).get().hostCutover.tasks.first)
        #expect(task.float == .dns, "a task with dns: and no vip: moves its name")
        let dns = try #require(task.dns)
        #expect(dns.server.port == 53 && dns.ttlAhead == .seconds(60) && dns.ttl == nil && dns.keepOldFor == .seconds(7 * 86_400))
        #expect(dns.tsigAlgorithm == "hmac-sha256")
        #expect(dns.oldAddresses == [IPAddress("198.18.0.1")!] && dns.newAddresses == [IPAddress("198.18.0.2")!])
        let both = try #require(try load("""
            from: a
            to: b
            vip: { address: 198.18.0.100/24 }
            dns: { server: 198.18.0.53, zone: example.test, name: www.example.test, tsig: { name: k, secret_env: K } }
            """).get().hostCutover.tasks.first)
        #expect(both.float == .both)
        let vipOnly = try #require(try load("from: a\nto: b\nvip: { address: 198.18.0.100/24 }").get().hostCutover.tasks.first)
        #expect(vipOnly.float == .vip && vipOnly.dns == nil)
        let none = try #require(try load("from: a\nto: b").get().hostCutover.tasks.first)
        #expect(none.float == nil)
    }

    @Test func badValuesAreNamedWithTheirPath() {
        let found = issues("""
            from: a
            to: c
            float: dns
            dns:
              server: "198.18.0.53:0"
              zone: example.test
              name: www.other.test
              ttl_ahead: 0s
              tsig: { name: "bad key", algorithm: hmac-md5, secret_env: "1-X" }
              old_addresses: [198.18.0.300]
            """)
        // In the order of their lines; the missing addresses at the section's own.
        #expect(found.map(\.path.description) == [
            "host_cutover.tasks[0].dns.new_addresses", "host_cutover.tasks[0].dns.server", "host_cutover.tasks[0].dns.name",
            "host_cutover.tasks[0].dns.ttl_ahead", "host_cutover.tasks[0].dns.tsig.name", "host_cutover.tasks[0].dns.tsig.algorithm",
            "host_cutover.tasks[0].dns.tsig.secret_env", "host_cutover.tasks[0].dns.old_addresses[0]",
        ], "\(found.map { "\($0.path): \($0.message)" })")
        #expect(found[0].message == "no new_addresses, and the host 'c' has no address: to take them from")
        #expect(found[2].message == "www.other.test. is not in the zone example.test.")
        #expect(found[5].message == "'hmac-md5' is not one of hmac-sha1, hmac-sha256, hmac-sha384, hmac-sha512")
        #expect(found[6].message == "'1-X' is not an environment variable's name")
    }

    @Test(arguments: [
        ("float: dns", "float: dns needs the name to move"),
        ("float: both\ndns: { server: h, zone: z, name: z, tsig: { name: k, secret_env: K } }", "float: both needs the service address"),
        ("float: vip\nvip: { address: 198.18.0.100/24 }\ndns: { server: h, zone: z, name: z, tsig: { name: k, secret_env: K } }",
         "float: vip leaves the dns: section unused"),
        ("float: bgp", "'bgp' is not a float: vip, dns or both"),
    ])
    func theFloatMustHaveWhatItMoves(lines: String, message: String) {
        let found = issues("from: a\nto: b\n" + lines)
        #expect(found.map(\.path.description) == ["host_cutover.tasks[0].float"])
        #expect(found.first?.message == message)
    }
}
