import CutoverCore

/// When announcements go out: `count` at once, `interval` apart, and the same again `refreshAfter` later (0: no
/// second round) — keepalived's and Pacemaker IPaddr2's practice. Linux neighbours ignore a second update within their
/// ARP lock time (1 s), so the first frame is the one that moves traffic; the rest are for neighbours that missed it.
public struct AnnouncementSchedule: Sendable, Equatable {
    public var count: Int
    public var interval: Duration
    public var refreshAfter: Duration

    public init(count: Int = 5, interval: Duration = .milliseconds(200), refreshAfter: Duration = .seconds(5)) {
        self.count = count
        self.interval = interval
        self.refreshAfter = refreshAfter
    }

    /// When each announcement goes out, counted from the first.
    public var offsets: [Duration] {
        let round = (0..<max(1, count)).map { interval * $0 }
        return refreshAfter > .zero ? round + round.map { $0 + refreshAfter } : round
    }
}

/// Tells a segment that an interface now holds some addresses, from a packet socket opened where the interface
/// lives: for IPv4 a gratuitous ARP request and reply, for IPv6 an unsolicited Neighbour Advertisement with the
/// Override flag. Opened before the addresses move, so the first announcement leaves the moment they are claimed.
public final class Announcer {
    public let addresses: [IPAddress]
    private let arp: PacketSocket?
    private let ipv6: PacketSocket?

    /// The interface's MAC address: what the announcements name.
    public var mac: MACAddress { (arp ?? ipv6)!.mac }

    public init(addresses: [IPAddress], interface: String, namespace: String?) throws {
        precondition(!addresses.isEmpty, "an announcement names at least one address")
        self.addresses = addresses
        arp = addresses.contains { !$0.isIPv6 } ? try PacketSocket(interface: interface, namespace: namespace, protocol: NeighbourFrames.etherTypeARP) : nil
        ipv6 = addresses.contains { $0.isIPv6 } ? try PacketSocket(interface: interface, namespace: namespace, protocol: NeighbourFrames.etherTypeIPv6) : nil
    }

    /// Sends one announcement for every address: frames of both forms for IPv4, one advertisement for IPv6.
    public func announce() throws {
        for address in addresses {
            if address.isIPv6, let ipv6 {
                try ipv6.send(NeighbourFrames.unsolicitedAdvertisement(address: address, mac: ipv6.mac))
            } else if let arp {
                try arp.send(NeighbourFrames.gratuitousRequest(address: address, mac: arp.mac))
                try arp.send(NeighbourFrames.gratuitousReply(address: address, mac: arp.mac))
            }
        }
    }

    /// Sends the announcements of `schedule` after the first (which the caller sent at `start`), sleeping between.
    /// Returns how many went out in all, the first included.
    public func repeatAnnouncements(_ schedule: AnnouncementSchedule, from start: ContinuousClock.Instant) async throws -> Int {
        var sent = 1
        for offset in schedule.offsets.dropFirst() {
            try await Task.sleep(until: start + offset, clock: .continuous)
            try announce()
            sent += 1
        }
        return sent
    }
}
