import CutoverCore
import Foundation

/// A record set as the authoritative server holds it: its addresses and their TTL (absent: no such records).
public struct AddressRecords: Sendable, Hashable {
    public var addresses: [IPAddress]
    public var ttl: UInt32

    public static let none = AddressRecords(addresses: [], ttl: 0)

    public var isEmpty: Bool { addresses.isEmpty }
}

/// Why a DNS change did not happen (the record is as it was) or could not be confirmed.
public struct DNSFailure: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// The server could not be reached, or did not answer in time.
        case unreachable
        /// The server is not authoritative for the zone.
        case notServed = "not_served"
        /// The server answered the update with an error (a bad key, its policy, a record changed meanwhile).
        case refused
        /// The update was accepted, but the server does not answer what it was to hold.
        case notVerified = "not_verified"
    }

    public let kind: Kind
    public let description: String
}

/// Reads and changes address records at the zone's authoritative server: queries for what it holds, and
/// RFC 2136 updates signed with TSIG whose prerequisites make each change apply only to the records as they were read.
public struct DNSZoneEditor: Sendable {
    public let server: DNSServer
    public let zone: DNSName
    public let name: DNSName
    /// The key updates are signed with; nil for an editor that only reads.
    public let key: TSIGKey?
    public let timeout: Duration

    public init(server: DNSServer, zone: DNSName, name: DNSName, key: TSIGKey?, timeout: Duration = .seconds(5)) {
        self.server = server
        self.zone = zone
        self.name = name
        self.key = key
        self.timeout = timeout
    }

    private var client: DNSClient { DNSClient(server: server, timeout: timeout) }

    /// The zone's SOA serial, read from the server; fails unless the server answers for the zone with authority.
    public func serial() throws(DNSFailure) -> UInt32 {
        let answer: DNSMessage
        do {
            answer = try query(zone, .soa)
        } catch {
            guard error.kind == .notServed else { throw error }
            throw DNSFailure(kind: .notServed, description: "\(server) does not serve the zone \(zone): \(error.description)")
        }
        guard let soa = answer.answers.first(where: { $0.type == DNSType.soa.rawValue && $0.name == zone }), soa.data.count >= 20 else {
            throw DNSFailure(kind: .notServed, description: "\(server) has no SOA record for \(zone): it does not serve the zone")
        }
        let numbers = soa.data.suffix(20)
        return numbers.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The records of `type` (A or AAAA) the server holds for the name.
    public func records(_ type: DNSType) throws(DNSFailure) -> AddressRecords {
        let answer = try query(name, type)
        let matching = answer.answers.filter { $0.type == type.rawValue && $0.name == name && $0.recordClass == DNSClass.inet.rawValue }
        let addresses = matching.compactMap { record -> IPAddress? in
            switch record.data.count {
            case 4: return .v4(record.data[0], record.data[1], record.data[2], record.data[3])
            case 16: return .v6(record.data)
            default: return nil
            }
        }
        return AddressRecords(addresses: addresses, ttl: matching.map(\.ttl).min() ?? 0)
    }

    private func query(_ name: DNSName, _ type: DNSType) throws(DNSFailure) -> DNSMessage {
        var message = DNSMessage(id: UInt16.random(in: 0...UInt16.max), opcode: DNSMessage.opcodeQuery)
        message.questions = [.init(name: name, type: type.rawValue, questionClass: DNSClass.inet.rawValue)]
        let answer = try send(message.encoded(), id: message.id).message
        let code = DNSResponseCode(rawValue: answer.rcode)
        guard code == .noError || code == .nxDomain else {
            throw DNSFailure(kind: .notServed, description: "\(server) answered the query for \(name) \(type) with \(code?.description ?? "rcode \(answer.rcode)")")
        }
        guard answer.authoritative else {
            throw DNSFailure(kind: .notServed, description: "\(server) is not authoritative for \(zone) (its answer for \(name) lacks the AA bit)")
        }
        return answer
    }

    /// Replaces the name's records of each type in `changes` in one update: applied only if every set is still
    /// exactly as `expected` (RFC 2136 §2.4: "RRset exists (value dependent)", or "RRset does not exist" for an empty
    /// one), so a change made by someone else meanwhile is refused, not overwritten.
    public func replace(_ changes: [(type: DNSType, expected: AddressRecords, new: [IPAddress], ttl: UInt32)]) throws(DNSFailure) {
        var message = DNSMessage(id: UInt16.random(in: 0...UInt16.max), opcode: DNSMessage.opcodeUpdate)
        // Zone section: the zone's name, type SOA.
        message.questions = [.init(name: zone, type: DNSType.soa.rawValue, questionClass: DNSClass.inet.rawValue)]
        for change in changes {
            if change.expected.isEmpty {
                message.answers.append(DNSRecord(name: name, type: change.type, recordClass: .none, ttl: 0, data: []))
            } else {
                for address in change.expected.addresses {
                    message.answers.append(DNSRecord(name: name, type: change.type, recordClass: .inet, ttl: 0, data: address.bytes))
                }
            }
            message.authority.append(DNSRecord(name: name, type: change.type, recordClass: .any, ttl: 0, data: []))
            for address in change.new {
                message.authority.append(DNSRecord(name: name, type: change.type, recordClass: .inet, ttl: change.ttl, data: address.bytes))
            }
        }
        guard let key else { throw DNSFailure(kind: .refused, description: "no TSIG key: \(name) cannot be changed unsigned") }
        let signer = TSIGSigner(key: key)
        let signed = signer.sign(message, at: UInt64(max(0, Date().timeIntervalSince1970)))
        let (answer, bytes) = try send(signed.bytes, id: message.id)
        do {
            try signer.verify(answer, bytes: bytes, request: signed, now: UInt64(max(0, Date().timeIntervalSince1970)))
        } catch {
            throw DNSFailure(kind: .refused, description: "the update of \(name) was not accepted: \(error)")
        }
        let code = DNSResponseCode(rawValue: answer.rcode)
        guard code == .noError else {
            throw DNSFailure(kind: .refused, description: "\(server) refused the update of \(name): \(code?.description ?? "rcode \(answer.rcode)")")
        }
    }

    private func send(_ request: [UInt8], id: UInt16) throws(DNSFailure) -> (message: DNSMessage, bytes: [UInt8]) {
        let bytes: [UInt8]
        do {
            bytes = try client.exchange(request)
        } catch {
            throw DNSFailure(kind: .unreachable, description: error.description)
        }
        let answer: DNSMessage
        do {
            answer = try DNSMessage(decoding: bytes)
        } catch {
            throw DNSFailure(kind: .unreachable, description: "\(server) sent an answer that is not a DNS message: \(error)")
        }
        guard answer.isResponse, answer.id == id else {
            throw DNSFailure(kind: .unreachable, description: "\(server) sent a message that does not answer the request (ID \(answer.id), expected \(id))")
        }
        return (answer, bytes)
    }
}
