import CutoverCore

/// A link-layer (Ethernet) address.
public struct MACAddress: Sendable, Hashable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == 6, "a MAC address has 6 bytes, not \(bytes.count)")
        self.bytes = bytes
    }

    /// Reads `aa:bb:cc:dd:ee:ff` (as `/sys/class/net/IF/address` holds it); nil for anything else.
    public init?(_ text: Substring) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    public static let broadcast = MACAddress([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    public static let zero = MACAddress([0, 0, 0, 0, 0, 0])

    public var description: String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":") }
}

/// The frames that tell a segment who holds an address, and that ask it: built and read as bytes, with no socket
/// (``PacketSocket`` sends and receives them).
/// - IPv4 (RFC 826, RFC 5227, RFC 5944 §4.6): a gratuitous ARP in both forms, a request and a reply, each naming the
///   address as sender and target with the new holder's MAC (some switches and hosts take only one form); a probe
///   (sender address 0.0.0.0) that every holder of an address answers.
/// - IPv6 (RFC 4861): an unsolicited Neighbour Advertisement to all nodes (ff02::1) with the Override flag, hop limit
///   255 and the target link-layer option; a Neighbour Solicitation from the unspecified address to the target's
///   solicited-node group, which a holder answers with an advertisement to all nodes.
public enum NeighbourFrames {
    public static let etherTypeARP: UInt16 = 0x0806
    public static let etherTypeIPv6: UInt16 = 0x86DD

    /// A gratuitous ARP request announcing that `mac` holds `address`.
    public static func gratuitousRequest(address: IPAddress, mac: MACAddress) -> [UInt8] {
        arp(operation: 1, destination: .broadcast, senderMAC: mac, senderIP: address.bytes, targetMAC: .zero, targetIP: address.bytes)
    }

    /// A gratuitous ARP reply announcing that `mac` holds `address` (its target hardware address is `mac` too).
    public static func gratuitousReply(address: IPAddress, mac: MACAddress) -> [UInt8] {
        arp(operation: 2, destination: .broadcast, senderMAC: mac, senderIP: address.bytes, targetMAC: mac, targetIP: address.bytes)
    }

    /// An ARP probe asking who holds `address`, from `mac` with no address of its own (RFC 5227 §2.1.1).
    public static func probe(address: IPAddress, mac: MACAddress) -> [UInt8] {
        arp(operation: 1, destination: .broadcast, senderMAC: mac, senderIP: [0, 0, 0, 0], targetMAC: .zero, targetIP: address.bytes)
    }

    /// An unsolicited Neighbour Advertisement: `mac` holds `address`, overriding what neighbours have cached.
    public static func unsolicitedAdvertisement(address: IPAddress, mac: MACAddress) -> [UInt8] {
        let allNodes: [UInt8] = [0xFF, 0x02] + [UInt8](repeating: 0, count: 13) + [1]
        // Type 136, code 0, checksum, flags (Override), target, option 2 (target link-layer address, 8 bytes).
        var icmp: [UInt8] = [136, 0, 0, 0, 0x20, 0, 0, 0] + address.bytes + [2, 1] + mac.bytes
        setChecksum(&icmp, source: address.bytes, destination: allNodes)
        return ethernet(destination: MACAddress([0x33, 0x33, 0, 0, 0, 1]), source: mac, type: etherTypeIPv6)
            + ipv6(source: address.bytes, destination: allNodes, payload: icmp)
    }

    /// A Neighbour Solicitation for `address` from the unspecified address (RFC 4862 §5.4.2's form): its holder
    /// answers to all nodes.
    public static func solicitation(address: IPAddress, mac: MACAddress) -> [UInt8] {
        let target = address.bytes
        let group: [UInt8] = [0xFF, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, target[13], target[14], target[15]]
        let unspecified = [UInt8](repeating: 0, count: 16)
        // Type 135, code 0, checksum, reserved, target; no source link-layer option from the unspecified address.
        var icmp: [UInt8] = [135, 0, 0, 0, 0, 0, 0, 0] + target
        setChecksum(&icmp, source: unspecified, destination: group)
        return ethernet(destination: MACAddress([0x33, 0x33, 0xFF, target[13], target[14], target[15]]), source: mac, type: etherTypeIPv6)
            + ipv6(source: unspecified, destination: group, payload: icmp)
    }

    /// Who a received frame says holds an address: an ARP request or reply's sender, or a Neighbour Advertisement's
    /// target (its link-layer option, else the frame's source). Nil for anything else, and for ARP with a sender of
    /// 0.0.0.0 (a probe says nothing about who holds what).
    public static func holder(in frame: [UInt8]) -> (address: IPAddress, mac: MACAddress)? {
        guard frame.count >= 14 else { return nil }
        let type = UInt16(frame[12]) << 8 | UInt16(frame[13])
        if type == etherTypeARP {
            guard frame.count >= 42, frame[14..<22].elementsEqual([0, 1, 8, 0, 6, 4, 0, frame[21]]), frame[21] == 1 || frame[21] == 2 else { return nil }
            let sender = Array(frame[28..<32])
            guard sender != [0, 0, 0, 0] else { return nil }
            return (.v4(sender[0], sender[1], sender[2], sender[3]), MACAddress(Array(frame[22..<28])))
        }
        guard type == etherTypeIPv6, frame.count >= 14 + 40 + 24, frame[14] >> 4 == 6, frame[20] == 58, frame[21] == 255,
              frame[54] == 136, frame[55] == 0 else { return nil }
        let target = Array(frame[62..<78])
        var mac = MACAddress(Array(frame[6..<12]))
        var index = 78
        while index + 8 <= frame.count {
            let length = Int(frame[index + 1]) * 8
            guard length > 0, index + length <= frame.count else { break }
            if frame[index] == 2, length == 8 { mac = MACAddress(Array(frame[(index + 2)..<(index + 8)])) }
            index += length
        }
        return (.v6(target), mac)
    }

    // MARK: - Building blocks

    static func ethernet(destination: MACAddress, source: MACAddress, type: UInt16) -> [UInt8] {
        destination.bytes + source.bytes + [UInt8(type >> 8), UInt8(type & 0xFF)]
    }

    static func arp(operation: UInt8, destination: MACAddress, senderMAC: MACAddress, senderIP: [UInt8], targetMAC: MACAddress,
                    targetIP: [UInt8]) -> [UInt8] {
        ethernet(destination: destination, source: senderMAC, type: etherTypeARP)
            + [0, 1, 8, 0, 6, 4, 0, operation] + senderMAC.bytes + senderIP + targetMAC.bytes + targetIP
    }

    static func ipv6(source: [UInt8], destination: [UInt8], payload: [UInt8]) -> [UInt8] {
        [0x60, 0, 0, 0, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF), 58, 255] + source + destination + payload
    }

    /// The ICMPv6 checksum (RFC 4443 §2.3) over the pseudo-header and the message, written into bytes 2–3.
    static func setChecksum(_ icmp: inout [UInt8], source: [UInt8], destination: [UInt8]) {
        icmp[2] = 0
        icmp[3] = 0
        let length = icmp.count
        let pseudo = source + destination + [UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            + [0, 0, 0, 58]
        let sum = onesComplementSum(pseudo + icmp)
        icmp[2] = UInt8(sum >> 8)
        icmp[3] = UInt8(sum & 0xFF)
    }

    /// The Internet checksum of `bytes` (RFC 1071): the one's complement of their one's complement sum.
    static func onesComplementSum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
