import CutoverCore
@testable import CutoverHost
import CutoverTestSupport
import Foundation
import Testing

/// The DNS float against BIND's `named` on loopback, with a TSIG key made for the test: the TTL lowered and the old
/// one waited out, the record switched and seen by `dig` at the server; a wrong secret, an unknown key, a zone the
/// server does not serve and a record changed meanwhile are refused, with the record left as it was.
@Suite("DNS float against BIND", .serialized, .timeLimit(.minutes(2)))
struct DNSFloatLabTests {
    static let name = "www.example.test"

    func editor(_ server: TestDNSServer, key: TSIGKey? = nil, zone: String = "example.test", name: String = Self.name) throws -> DNSZoneEditor {
        DNSZoneEditor(server: try DNSServer(parsing: server.server), zone: try DNSName(parsing: zone), name: try DNSName(parsing: name),
                      key: try key ?? server.key())
    }

    @Test func theTTLIsLoweredAheadThenTheRecordSwitchesAndDigSeesIt() async throws {
        let server = try await TestDNSServer.start(records: ["www 120 IN A 198.18.0.10", "www 120 IN AAAA fd00::10"])
        defer { server.stop() }
        let float = DNSFloat(editor: try editor(server), addresses: [IPAddress("198.18.0.20")!], ttlAhead: .seconds(5), ttl: nil)
        let waits = WaitLog()
        let report = try await float.run { waits.append($0) }
        // The old TTL (120 s) is what caches may still hold the old address for once the TTL is lowered: it is waited out.
        #expect(waits.all == [.seconds(120)])
        #expect(report.lowered && report.waited == .seconds(120))
        #expect(report.before[.a] == AddressRecords(addresses: [IPAddress("198.18.0.10")!], ttl: 5), "as it stood after the lowering")
        #expect(report.after[.a] == AddressRecords(addresses: [IPAddress("198.18.0.20")!], ttl: 5), "the low TTL stays for the switch")
        #expect(report.serialAfter == report.serialBefore + 2, "one update lowered the TTL, one switched the record")
        #expect(report.otherFamily[.aaaa]?.addresses == [IPAddress("fd00::10")!], "an AAAA left pointing at the old host is said")
        #expect(try server.dig(Self.name, "A") == ["198.18.0.20"])
        #expect(try server.digTTL(Self.name, "A") == 5)
        #expect(try server.dig(Self.name, "AAAA") == ["fd00::10"], "only the family given is replaced")
    }

    @Test func bothFamiliesSwitchInOneUpdateAndAMissingRecordIsAdded() async throws {
        let server = try await TestDNSServer.start(records: ["www 60 IN A 198.18.0.10"])
        defer { server.stop() }
        let float = DNSFloat(editor: try editor(server), addresses: [IPAddress("198.18.0.21")!, IPAddress("198.18.0.22")!, IPAddress("fd00::21")!],
                             ttlAhead: nil, ttl: .seconds(30))
        let report = try await float.run { _ in Issue.record("nothing to wait for without --ttl-ahead") }
        #expect(!report.lowered)
        #expect(report.serialAfter == report.serialBefore + 1)
        #expect(try server.dig(Self.name, "A") == ["198.18.0.21", "198.18.0.22"])
        #expect(try server.dig(Self.name, "AAAA") == ["fd00::21"])
        #expect(try server.digTTL(Self.name, "AAAA") == 30)
    }

    @Test func aWrongSecretIsRefusedAndTheRecordStays() async throws {
        let server = try await TestDNSServer.start(records: ["www 60 IN A 198.18.0.10"])
        defer { server.stop() }
        let wrong = try TSIGKey(name: server.keyName, algorithm: "hmac-sha256", base64Secret: Data(repeating: 7, count: 32).base64EncodedString())
        let float = DNSFloat(editor: try editor(server, key: wrong), addresses: [IPAddress("198.18.0.20")!], ttlAhead: nil, ttl: nil)
        let failure = await #expect(throws: DNSFailure.self) { try await float.run { _ in } }
        #expect(failure?.kind == .refused)
        #expect(failure?.description.contains("BADSIG") == true, "\(failure?.description ?? "")")
        #expect(try server.dig(Self.name, "A") == ["198.18.0.10"])
    }

    @Test func aKeyTheServerDoesNotKnowIsRefusedAndTheRecordStays() async throws {
        let server = try await TestDNSServer.start(records: ["www 60 IN A 198.18.0.10"])
        defer { server.stop() }
        let unknown = try TSIGKey(name: "someone-else", algorithm: "hmac-sha256", base64Secret: server.secret)
        let float = DNSFloat(editor: try editor(server, key: unknown), addresses: [IPAddress("198.18.0.20")!], ttlAhead: nil, ttl: nil)
        let failure = await #expect(throws: DNSFailure.self) { try await float.run { _ in } }
        #expect(failure?.kind == .refused)
        #expect(failure?.description.contains("BADKEY") == true, "\(failure?.description ?? "")")
        #expect(try server.dig(Self.name, "A") == ["198.18.0.10"])
    }

    @Test func aZoneTheServerDoesNotServeIsSaidSo() async throws {
        let server = try await TestDNSServer.start(records: ["www 60 IN A 198.18.0.10"])
        defer { server.stop() }
        let float = DNSFloat(editor: try editor(server, zone: "other.test", name: "www.other.test"), addresses: [IPAddress("198.18.0.20")!],
                             ttlAhead: nil, ttl: nil)
        let failure = await #expect(throws: DNSFailure.self) { try await float.run { _ in } }
        #expect(failure?.kind == .notServed)
        #expect(failure?.description.contains("does not serve the zone other.test.") == true, "\(failure?.description ?? "")")
    }

    @Test func aRecordChangedAfterItWasReadIsNotOverwritten() async throws {
        let server = try await TestDNSServer.start(records: ["www 60 IN A 198.18.0.10"])
        defer { server.stop() }
        let ours = DNSFloat(editor: try editor(server), addresses: [IPAddress("198.18.0.20")!], ttlAhead: nil, ttl: nil)
        let read = try ours.lowerTTL().records
        // Someone else moves the name between our read and our switch.
        try DNSFloat(editor: try editor(server), addresses: [IPAddress("198.18.0.99")!], ttlAhead: nil, ttl: nil).switchRecords(from: read)
        let failure = #expect(throws: DNSFailure.self) { try ours.switchRecords(from: read) }
        #expect(failure?.kind == .refused)
        #expect(failure?.description.contains("NXRRSET") == true, "\(failure?.description ?? "")")
        #expect(try server.dig(Self.name, "A") == ["198.18.0.99"], "the other change stands")
    }

    @Test func aServerThatDoesNotListenIsUnreachable() throws {
        let port = try TestDNSServer.freeLoopbackPort()
        let editor = DNSZoneEditor(server: try DNSServer(parsing: "127.0.0.1:\(port)"), zone: try DNSName(parsing: "example.test"),
                                   name: try DNSName(parsing: Self.name), key: try TSIGKey(name: "k", algorithm: "hmac-sha256", base64Secret: "AAAA"))
        let failure = #expect(throws: DNSFailure.self) { try editor.serial() }
        #expect(failure?.kind == .unreachable)
        #expect(failure?.description.contains("cannot connect to 127.0.0.1:\(port)") == true, "\(failure?.description ?? "")")
    }
}

/// The waits a float asked for.
final class WaitLog: @unchecked Sendable {
    private let lock = NSLock()
    private var waits: [Duration] = []
    func append(_ wait: Duration) { lock.withLock { waits.append(wait) } }
    var all: [Duration] { lock.withLock { waits } }
}
