import CutoverCore
import Foundation
import Testing

/// Names and servers of the DNS float as a user writes them: taken lowercased, refused with the reason.
@Suite("DNS names and servers")
struct DNSNameTests {
    @Test(arguments: ["www.example.test", "WWW.Example.Test.", "_service._tcp.example.test", "a"])
    func namesAUserWritesAreTakenLowercased(text: String) throws {
        let name = try DNSName(parsing: text)
        #expect(name.description == text.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".")) + ".")
    }

    @Test(arguments: [
        ("", "is empty"), ("www..example", "has an empty label"), ("bad name.test", "a character other than"),
        ("-www.test", "starts or ends with '-'"), (String(repeating: "a", count: 64) + ".test", "longer than 63 bytes"),
        (Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: "."), "longer than 255 bytes"),
    ])
    func badNamesAreRefusedWithTheReason(text: String, reason: String) {
        #expect { try DNSName(parsing: text) } throws: { "\($0)".contains(reason) }
    }

    @Test func aNameIsInsideItsZoneOnly() throws {
        let zone = try DNSName(parsing: "example.test")
        #expect(try DNSName(parsing: "www.example.test").isInside(zone))
        #expect(try DNSName(parsing: "example.test").isInside(zone))
        #expect(try !DNSName(parsing: "www.badexample.test").isInside(zone))
        #expect(try !DNSName(parsing: "test").isInside(zone))
    }

    @Test(arguments: [
        ("127.0.0.1:5353", "127.0.0.1", 5353), ("ns1.example.test", "ns1.example.test", 53), ("[::1]:53", "::1", 53), ("198.18.0.1", "198.18.0.1", 53),
    ] as [(String, String, UInt16)])
    func serversAreReadAsHostAndPort(text: String, host: String, port: UInt16) throws {
        let server = try DNSServer(parsing: text)
        #expect(server.host == host && server.port == port)
    }

    @Test(arguments: [("127.0.0.1:0", "the port"), ("127.0.0.1:x", "the port"), ("[::1", "without closing"), (":53", "names no host"),
                      ("[198.18.0.1]:53", "is not an IPv6 address"), ("bad host:53", "neither an address nor a host name")])
    func badServersAreRefusedWithTheReason(text: String, reason: String) {
        #expect { try DNSServer(parsing: text) } throws: { "\($0)".contains(reason) }
    }
}
