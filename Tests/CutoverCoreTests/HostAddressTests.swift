import CutoverCore
import Testing

/// Addresses and executors as a host task's configuration and `cutover ip` write them: parsed strictly, written
/// canonically, and bad input named.
@Suite("Host addresses")
struct HostAddressTests {
    @Test func ipv4IsFourDecimalOctets() {
        #expect(IPAddress("198.18.0.100") == .v4(198, 18, 0, 100))
        for bad in ["198.18.0", "198.18.0.256", "198.18.0.01", "198.18..1", "1.2.3.4.5", "", "a.b.c.d", "198.18.0.1 "] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func ipv6IsWrittenTheCanonicalWay() {
        #expect(IPAddress("fd00::100")?.description == "fd00::100")
        #expect(IPAddress("FD00:0:0:0:0:0:0:100")?.description == "fd00::100")
        #expect(IPAddress("::1")?.description == "::1")
        #expect(IPAddress("::")?.description == "::")
        #expect(IPAddress("2001:db8:0:0:1:0:0:1")?.description == "2001:db8::1:0:0:1", "the first of two equal zero runs")
        #expect(IPAddress("2001:db8:0:1:1:1:1:1")?.description == "2001:db8:0:1:1:1:1:1", "a single zero group stays")
        #expect(IPAddress("::ffff:198.18.0.1")?.bytes.suffix(6) == [0xFF, 0xFF, 198, 18, 0, 1])
        for bad in ["fd00::1::2", "fd00:::1", "12345::1", "fd00:1:2:3:4:5:6:7:8", "fd00:1:2:3:4:5:6", "g::1", ":1"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func anInterfaceAddressKnowsItsSubnet() throws {
        let vip = try InterfaceAddress.parse("198.18.0.100/24").get()
        #expect(vip.description == "198.18.0.100/24")
        #expect(vip.contains(try #require(IPAddress("198.18.0.1"))))
        #expect(!vip.contains(try #require(IPAddress("198.18.1.1"))))
        #expect(!vip.contains(try #require(IPAddress("fd00::1"))), "another family is in no IPv4 subnet")
        let odd = try InterfaceAddress.parse("198.18.0.100/23").get()
        #expect(odd.contains(try #require(IPAddress("198.18.1.7"))))
        #expect(!odd.contains(try #require(IPAddress("198.18.2.7"))))
        let v6 = try InterfaceAddress.parse("fd00::100/64").get()
        #expect(v6.contains(try #require(IPAddress("fd00::1:2"))))
        #expect(!v6.contains(try #require(IPAddress("fd00:0:0:1::1"))))
    }

    @Test func aBadInterfaceAddressIsNamed() {
        #expect(InterfaceAddress.parse("198.18.0.100") == .failure(HostInputError("'198.18.0.100' is not an address with a prefix length (like 198.18.0.100/24 or fd00::100/64)")))
        #expect(InterfaceAddress.parse("198.18.0.300/24") == .failure(HostInputError("'198.18.0.300' is not an IPv4 or IPv6 address")))
        #expect(InterfaceAddress.parse("198.18.0.1/33") == .failure(HostInputError("'33' is not a prefix length of 0 to 32")))
        #expect(InterfaceAddress.parse("fd00::1/129") == .failure(HostInputError("'129' is not a prefix length of 0 to 128")))
        #expect(InterfaceAddress.parse("198.18.0.1/") == .failure(HostInputError("'' is not a prefix length of 0 to 32")))
    }

    @Test func executorsAreLocalANamespaceOrSSH() {
        #expect(ExecutorAddress.parse("local") == .success(.local))
        #expect(ExecutorAddress.parse("netns:old") == .success(.netns("old")))
        #expect(ExecutorAddress.parse("ssh://root@198.18.0.2") == .success(.ssh(user: "root", host: "198.18.0.2", port: 22)))
        #expect(ExecutorAddress.parse("ssh://deploy@shop-new.example:2222") == .success(.ssh(user: "deploy", host: "shop-new.example", port: 2222)))
        #expect(ExecutorAddress.parse("ssh://root@[fd00::2]:2200") == .success(.ssh(user: "root", host: "fd00::2", port: 2200)))
        #expect(ExecutorAddress.ssh(user: "root", host: "fd00::2", port: 2200).description == "ssh://root@[fd00::2]:2200")
        #expect(ExecutorAddress.ssh(user: "root", host: "h", port: 22).description == "ssh://root@h")
    }

    @Test func aBadExecutorIsNamed() {
        func error(_ text: String) -> String? {
            if case .failure(let error) = ExecutorAddress.parse(text) { return error.description }
            return nil
        }
        #expect(error("ssh:/root@h") == "'ssh:/root@h' is not an executor: write local, netns:NAME or ssh://user@host[:port]")
        #expect(error("netns:") == "'' is not a network namespace name (letters, digits, '.', '-', '_', at most 64)")
        #expect(error("netns:../etc") == "'../etc' is not a network namespace name (letters, digits, '.', '-', '_', at most 64)")
        #expect(error("ssh://h") == "'ssh://h' names no user: ssh executors are written ssh://user@host[:port]")
        #expect(error("ssh://root@h:0") == "'0' is not a port (1 to 65535)")
        #expect(error("ssh://root@h:x") == "'x' is not a port (1 to 65535)")
        #expect(error("ssh://root@-oProxyCommand=x") == "'-oProxyCommand=x' is not a host name or address", "never an ssh option")
        #expect(error("ssh://-l@h") == "'-l' is not a user name")
        #expect(error("ssh://root@h;rm") == "'h;rm' is not a host name or address")
    }
}
