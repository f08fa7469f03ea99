import CutoverCore

/// Asks a segment who holds an address, from an interface on it: an ARP probe (sender 0.0.0.0, which changes no
/// neighbour's cache) for IPv4, a Neighbour Solicitation from the unspecified address for IPv6; every holder answers.
public final class NeighbourProbe {
    private let socket: PacketSocket
    public let address: IPAddress

    public init(address: IPAddress, interface: String, namespace: String?) throws {
        self.address = address
        socket = try PacketSocket(interface: interface, namespace: namespace,
                                  protocol: address.isIPv6 ? NeighbourFrames.etherTypeIPv6 : NeighbourFrames.etherTypeARP)
    }

    /// The MAC address of the probing interface.
    public var mac: MACAddress { socket.mac }

    /// Sends one probe.
    public func ask() throws {
        try socket.send(address.isIPv6 ? NeighbourFrames.solicitation(address: address, mac: socket.mac)
                                       : NeighbourFrames.probe(address: address, mac: socket.mac))
    }

    /// The holders that answer within `window` (each MAC once, in the order heard). Blocks the calling thread.
    public func holders(within window: Duration) throws -> [MACAddress] {
        try ask()
        let clock = ContinuousClock()
        let end = clock.now + window
        var holders: [MACAddress] = []
        while clock.now < end {
            guard let frame = try socket.receive(within: end - clock.now) else { break }
            if let holder = heard(frame), !holders.contains(holder) { holders.append(holder) }
        }
        return holders
    }

    /// The holder a received frame names for this probe's address (frames the probing interface sent itself left out).
    public func heard(_ frame: [UInt8]) -> MACAddress? {
        guard let (holding, mac) = NeighbourFrames.holder(in: frame), holding == address, mac != socket.mac else { return nil }
        return mac
    }

    /// The next frame received within `timeout`, or nil.
    public func receive(within timeout: Duration) throws -> [UInt8]? {
        try socket.receive(within: timeout)
    }
}
