import CutoverCore
import CutoverHost
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A lab of network namespaces on one bridge, made for one test and always removed after it: `old` and `new` (the
/// two hosts) and `client` (a neighbour that caches who holds the service address), each with an `eth0` on the
/// bridge and an address of 198.18.1.0/24 (RFC 2544's benchmarking range) and fd00:1::/64.
public struct Lab {
    public enum Host: Int, CaseIterable, Sendable {
        case old = 1, new = 2, client = 3
    }

    public let id: String
    public var old: String { "\(id)o" }
    public var new: String { "\(id)n" }
    public var client: String { "\(id)c" }
    public var bridge: String { "\(id)b" }

    public func namespace(_ host: Host) -> String {
        switch host {
        case .old: return old
        case .new: return new
        case .client: return client
        }
    }

    public func address(_ host: Host) -> IPAddress { .v4(198, 18, 1, UInt8(host.rawValue)) }
    public let vip = InterfaceAddress(address: .v4(198, 18, 1, 100), prefixLength: 24)
    public let vip6 = InterfaceAddress(address: IPAddress("fd00:1::100")!, prefixLength: 64)

    /// Whether this machine can make the lab: root, with `ip` and network namespaces.
    public static let available: Bool = {
        guard getuid() == 0, (try? TestTools.executable("ip", debianPackage: "iproute2")) != nil else { return false }
        let probe = "cvtprobe\(getpid() % 100_000)"
        guard (try? Spawn.run(["ip", "netns", "add", probe])) != nil else { return false }
        _ = try? Spawn.run(["ip", "netns", "del", probe])
        return true
    }()

    public static let unavailableReason: Comment = "network namespaces cannot be made here (the lab needs root and `ip netns`)"

    nonisolated(unsafe) private static var made = 0

    /// Makes a lab, runs `body` with it, and removes the lab whatever happens.
    public static func with(_ body: (Lab) async throws -> Void) async throws {
        made += 1
        let lab = Lab(id: "cvt\(getpid() % 100_000)\(made)")
        do {
            try lab.build()
            try await body(lab)
        } catch {
            lab.remove()
            throw error
        }
        lab.remove()
    }

    private func build() throws {
        try Spawn.run(["ip", "link", "add", bridge, "type", "bridge"])
        try Spawn.run(["ip", "link", "set", bridge, "up"])
        for host in Host.allCases {
            let ns = namespace(host), peer = "\(ns)v"
            try Spawn.run(["ip", "netns", "add", ns])
            try Spawn.run(["ip", "link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", ns])
            try Spawn.run(["ip", "link", "set", peer, "master", bridge])
            try Spawn.run(["ip", "link", "set", peer, "up"])
            try Spawn.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.eth0.accept_dad=0"])
            try Spawn.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.neigh.eth0.locktime=0"])
            try Spawn.run(["ip", "-n", ns, "link", "set", "lo", "up"])
            try Spawn.run(["ip", "-n", ns, "link", "set", "eth0", "up"])
            try Spawn.run(["ip", "-n", ns, "addr", "add", "\(address(host))/24", "dev", "eth0"])
            try Spawn.run(["ip", "-n", ns, "addr", "add", "fd00:1::\(host.rawValue)/64", "dev", "eth0", "nodad"])
        }
    }

    /// Removes the namespaces (with their veth ends) and the bridge; what is already gone is skipped.
    public func remove() {
        for host in Host.allCases { _ = try? Spawn.run(["ip", "netns", "del", namespace(host)]) }
        _ = try? Spawn.run(["ip", "link", "del", bridge])
    }

    /// Gives this machine's own namespace an address on the lab's bridge (198.18.1.254/24), so that it can reach
    /// the lab's addresses, as a runbook's vantage point does.
    public func reachFromHere() throws {
        try Spawn.run(["ip", "addr", "add", "198.18.1.254/24", "dev", bridge])
    }

    /// `host`'s MAC on the bridge.
    public func mac(_ host: Host) throws -> MACAddress {
        try PacketSocket(interface: "eth0", namespace: namespace(host), protocol: NeighbourFrames.etherTypeARP).mac
    }

    /// Gives `host` an address (as the service's old holder has it before a float).
    public func hold(_ address: InterfaceAddress, on host: Host) throws {
        try NetworkNamespace.perform(namespace(host)) { try LinkAddresses.add(address, to: "eth0") }
    }

    /// Whether `host` holds `address`.
    public func holds(_ address: IPAddress, _ host: Host) throws -> Bool {
        try NetworkNamespace.perform(namespace(host)) { try LinkAddresses.holds(address, interface: "eth0") }
    }

    /// Makes the client cache `mac` for `address`, as it would after talking to the address's holder.
    public func clientCaches(_ address: IPAddress, as mac: MACAddress) throws {
        try Spawn.run(["ip", "-n", client, "neigh", "replace", address.description, "lladdr", mac.description, "dev", "eth0", "nud", "stale"])
    }

    /// The MAC the client caches for `address`, if any.
    public func clientCache(_ address: IPAddress) throws -> String? {
        let line = try Spawn.run(["ip", "-n", client, "neigh", "show", address.description, "dev", "eth0"])
        let words = line.split(whereSeparator: \.isWhitespace)
        guard let index = words.firstIndex(of: "lladdr"), index + 1 < words.count else { return nil }
        return String(words[index + 1])
    }

    /// Waits (at most 2 s, polling) until the client caches `mac` for `address`; returns what it caches then.
    public func clientCache(_ address: IPAddress, becomes mac: MACAddress) async throws -> String? {
        for _ in 0..<200 {
            if try clientCache(address) == mac.description { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        return try clientCache(address)
    }
}
