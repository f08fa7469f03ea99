import CutoverCore
@testable import CutoverHost
import Testing

/// The announcement and probe frames, byte by byte, and what a received frame says about who holds an address.
@Suite("Neighbour frames")
struct NeighbourFramesTests {
    let mac = MACAddress([0x02, 0x00, 0x5E, 0x10, 0x00, 0x01])
    let vip = IPAddress("198.18.0.100")!
    let vip6 = IPAddress("fd00::100")!

    @Test func aMACIsReadAsTheKernelWritesIt() {
        #expect(MACAddress("02:00:5e:10:00:01") == mac)
        #expect(MACAddress("02:00:5E:10:00:01") == mac)
        for text in ["", "02:00:5e:10:00", "02:00:5e:10:00:01:02", "2:00:5e:10:00:01", "02:00:5e:10:00:zz", "02-00-5e-10-00-01"] {
            #expect(MACAddress(Substring(text)) == nil, "\(text)")
        }
    }

    @Test func aGratuitousARPNamesTheAddressAsSenderAndTarget() {
        let request = NeighbourFrames.gratuitousRequest(address: vip, mac: mac)
        #expect(request.count == 42)
        #expect(Array(request[0..<6]) == MACAddress.broadcast.bytes)
        #expect(Array(request[6..<12]) == mac.bytes)
        #expect(Array(request[12..<22]) == [0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1], "Ethernet ARP, IPv4 over Ethernet, a request")
        #expect(Array(request[22..<28]) == mac.bytes)
        #expect(Array(request[28..<32]) == [198, 18, 0, 100])
        #expect(Array(request[32..<38]) == MACAddress.zero.bytes)
        #expect(Array(request[38..<42]) == [198, 18, 0, 100])
        let reply = NeighbourFrames.gratuitousReply(address: vip, mac: mac)
        #expect(reply[21] == 2, "a reply")
        #expect(Array(reply[32..<38]) == mac.bytes, "its target hardware address is the new holder's")
        #expect(Array(reply[0..<6]) == MACAddress.broadcast.bytes, "broadcast, to every neighbour")
    }

    @Test func aProbeHasNoSenderAddressAndSaysNothingAboutHolders() {
        let probe = NeighbourFrames.probe(address: vip, mac: mac)
        #expect(Array(probe[28..<32]) == [0, 0, 0, 0])
        #expect(Array(probe[38..<42]) == [198, 18, 0, 100])
        #expect(NeighbourFrames.holder(in: probe) == nil)
    }

    @Test func anAnnouncementIsReadBackAsItsHolder() {
        let holder = NeighbourFrames.holder(in: NeighbourFrames.gratuitousReply(address: vip, mac: mac))
        #expect(holder?.address == vip && holder?.mac == mac)
        let advertised = NeighbourFrames.holder(in: NeighbourFrames.unsolicitedAdvertisement(address: vip6, mac: mac))
        #expect(advertised?.address == vip6 && advertised?.mac == mac)
        #expect(NeighbourFrames.holder(in: NeighbourFrames.solicitation(address: vip6, mac: mac)) == nil, "a solicitation asks")
        #expect(NeighbourFrames.holder(in: [UInt8](repeating: 0, count: 10)) == nil)
        #expect(NeighbourFrames.holder(in: Array(NeighbourFrames.gratuitousReply(address: vip, mac: mac).prefix(30))) == nil, "cut short")
    }

    @Test func anUnsolicitedAdvertisementOverridesFromAllNodesWithHopLimit255() {
        let frame = NeighbourFrames.unsolicitedAdvertisement(address: vip6, mac: mac)
        #expect(frame.count == 14 + 40 + 32)
        #expect(Array(frame[0..<6]) == [0x33, 0x33, 0, 0, 0, 1], "to the all-nodes group")
        #expect(Array(frame[12..<14]) == [0x86, 0xDD])
        #expect(frame[14] == 0x60 && frame[20] == 58 && frame[21] == 255, "IPv6, ICMPv6, hop limit 255")
        #expect(Array(frame[22..<38]) == vip6.bytes, "from the address itself")
        #expect(Array(frame[38..<54]) == [0xFF, 0x02] + [UInt8](repeating: 0, count: 13) + [1])
        #expect(frame[54] == 136 && frame[55] == 0, "a Neighbour Advertisement")
        #expect(frame[58] == 0x20, "Override set, Solicited and Router clear")
        #expect(Array(frame[62..<78]) == vip6.bytes)
        #expect(Array(frame[78..<86]) == [2, 1] + mac.bytes, "the target link-layer address option")
        #expect(checksumHolds(frame), "the ICMPv6 checksum over the pseudo-header")
    }

    @Test func aSolicitationGoesToTheSolicitedNodeGroupFromTheUnspecifiedAddress() {
        let frame = NeighbourFrames.solicitation(address: vip6, mac: mac)
        #expect(Array(frame[0..<6]) == [0x33, 0x33, 0xFF, 0x00, 0x01, 0x00])
        #expect(Array(frame[22..<38]) == [UInt8](repeating: 0, count: 16))
        #expect(Array(frame[38..<54]) == [0xFF, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0x00, 0x01, 0x00])
        #expect(frame[54] == 135)
        #expect(checksumHolds(frame))
    }

    @Test func theInternetChecksumMatchesRFC1071sExample() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2, so the checksum is its complement.
        #expect(NeighbourFrames.onesComplementSum([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]) == ~UInt16(0xDDF2))
    }

    /// Whether the ICMPv6 message of an IPv6 frame sums, with its pseudo-header, to all ones.
    func checksumHolds(_ frame: [UInt8]) -> Bool {
        let source = Array(frame[22..<38]), destination = Array(frame[38..<54]), icmp = Array(frame[54...])
        let pseudo = source + destination + [0, 0, UInt8(icmp.count >> 8), UInt8(icmp.count & 0xFF), 0, 0, 0, 58]
        return NeighbourFrames.onesComplementSum(pseudo + icmp) == 0
    }
}
