import CutoverCore
import CutoverHost
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// BIND's `named`, started for a test on a loopback port: one primary zone whose updates need a TSIG key made for the
/// test. Always stopped after the test (``stop()``).
public struct TestDNSServer: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let folder: String
    public let port: UInt16
    public let zone: String
    /// The key updates are signed with: its name and base64 secret.
    public let keyName: String
    public let secret: String

    public var server: String { "127.0.0.1:\(port)" }

    /// Starts `named` serving `zone` with `records` (zone-file lines below the SOA and NS, e.g. `www 300 IN A 198.18.0.10`).
    public static func start(zone: String = "example.test", records: [String]) async throws -> TestDNSServer {
        let named = try TestTools.executable("named", debianPackage: "bind9", folders: ["/usr/sbin"])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-named-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let secret = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let port = try freeLoopbackPort()
        let server = TestDNSServer(folder: folder, port: port, zone: zone, keyName: "cutover-test-key", secret: secret)
        try """
            options {
                directory "\(folder)";
                listen-on port \(port) { 127.0.0.1; };
                listen-on-v6 { none; };
                pid-file "\(folder)/named.pid";
                recursion no;
                dnssec-validation no;
                notify no;
            };
            key "cutover-test-key" { algorithm hmac-sha256; secret "\(secret)"; };
            controls { };
            zone "\(zone)" { type primary; file "\(folder)/zone.db"; allow-update { key "cutover-test-key"; }; };

            """.write(toFile: folder + "/named.conf", atomically: true, encoding: .utf8)
        try """
            $TTL 300
            @ IN SOA ns.\(zone). admin.\(zone). 1 60 60 600 60
            @ IN NS ns.\(zone).
            ns IN A 127.0.0.1
            \(records.joined(separator: "\n"))

            """.write(toFile: folder + "/zone.db", atomically: true, encoding: .utf8)
        let started = try ProcessRunner.runBlocking([named, "-c", folder + "/named.conf", "-n", "1"], timeout: .seconds(30))
        guard started.succeeded else {
            try? FileManager.default.removeItem(atPath: folder)
            throw Failure(description: "named did not start: \(started.summary)")
        }
        // Serving once it answers for the zone with authority (the daemon loads the zone after its parent returned).
        let editor = try DNSZoneEditor(server: DNSServer(parsing: server.server), zone: DNSName(parsing: zone), name: DNSName(parsing: zone),
                                       key: nil, timeout: .milliseconds(200))
        for _ in 0..<200 {
            if (try? editor.serial()) != nil { return server }
            try await Task.sleep(for: .milliseconds(20))
        }
        server.stop()
        throw Failure(description: "named did not answer for \(zone) on 127.0.0.1:\(port) within 4 s")
    }

    /// The test's key.
    public func key() throws -> TSIGKey { try TSIGKey(name: keyName, algorithm: "hmac-sha256", base64Secret: secret) }

    /// What `dig` asks the server for `name` `type` (`+short`: the addresses, one per line).
    public func dig(_ name: String, _ type: String) throws -> [String] {
        let dig = try TestTools.executable("dig", debianPackage: "bind9-dnsutils")
        let answer = try Spawn.run([dig, "@127.0.0.1", "-p", String(port), "+norecurse", "+tcp", "+short", name, type])
        return answer.split(separator: "\n").map(String.init).sorted()
    }

    /// What `dig` says the TTL of `name` `type` is.
    public func digTTL(_ name: String, _ type: String) throws -> Int? {
        let dig = try TestTools.executable("dig", debianPackage: "bind9-dnsutils")
        let answer = try Spawn.run([dig, "@127.0.0.1", "-p", String(port), "+norecurse", "+tcp", "+noall", "+answer", name, type])
        return answer.split(separator: "\n").first.flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first }.flatMap { Int($0) }
    }

    /// Stops the server and removes its files.
    public func stop() {
        if let text = try? String(contentsOfFile: folder + "/named.pid", encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(pid, SIGKILL)
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// A port free for both TCP and UDP on 127.0.0.1 now (named listens on both).
    public static func freeLoopbackPort() throws -> UInt16 {
        for _ in 0..<20 {
            let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(tcp) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(tcp, $0, length) == 0 && getsockname(tcp, $0, &length) == 0 }
            }
            guard bound else { continue }
            let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(udp) }
            let udpBound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(udp, $0, length) == 0 } }
            if udpBound { return UInt16(bigEndian: address.sin_port) }
        }
        throw Failure(description: "no loopback port was free for both TCP and UDP")
    }
}
