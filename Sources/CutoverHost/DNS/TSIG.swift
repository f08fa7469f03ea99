import CutoverCore
import Crypto
import Foundation

/// A TSIG key (RFC 8945): the name the server knows it by, its HMAC algorithm and its secret, as BIND's
/// `tsig-keygen` writes them (the secret in base64).
public struct TSIGKey: Sendable {
    public enum Algorithm: String, Sendable, CaseIterable {
        case hmacSHA1 = "hmac-sha1", hmacSHA256 = "hmac-sha256", hmacSHA384 = "hmac-sha384", hmacSHA512 = "hmac-sha512"

        /// The algorithm's name in the TSIG record.
        var name: DNSName { try! DNSName(parsing: rawValue) }

        func mac(_ data: [UInt8], key: SymmetricKey) -> [UInt8] {
            switch self {
            case .hmacSHA1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: key))
            case .hmacSHA256: return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
            case .hmacSHA384: return Array(HMAC<SHA384>.authenticationCode(for: data, using: key))
            case .hmacSHA512: return Array(HMAC<SHA512>.authenticationCode(for: data, using: key))
            }
        }
    }

    public let name: DNSName
    public let algorithm: Algorithm
    /// The secret's bytes (kept as bytes: Crypto's key type is not Sendable).
    private let secretBytes: [UInt8]
    var secret: SymmetricKey { SymmetricKey(data: secretBytes) }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// A key from its name, algorithm name and base64 secret; every part checked.
    public init(name: String, algorithm: String, base64Secret: String) throws(Invalid) {
        do {
            self.name = try DNSName(parsing: name)
        } catch {
            throw Invalid(description: "the TSIG key name \(error)")
        }
        guard let algorithm = Algorithm(rawValue: algorithm.lowercased()) else {
            throw Invalid(description: "the TSIG algorithm '\(algorithm)' is not one of \(Algorithm.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.algorithm = algorithm
        let trimmed = base64Secret.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let secret = Data(base64Encoded: trimmed), !secret.isEmpty else {
            throw Invalid(description: "the TSIG secret is not base64 (as tsig-keygen writes it in the key's secret \"…\";)")
        }
        secretBytes = Array(secret)
    }
}

/// Signs a message and checks the signature of its answer (RFC 8945 §4–5).
struct TSIGSigner {
    let key: TSIGKey
    /// The seconds of difference between the two clocks the server accepts (RFC 8945 recommends 300).
    var fudge: UInt16 = 300

    /// What the signature of a request is kept for: the answer's MAC covers it.
    struct Signed {
        var bytes: [UInt8]
        var mac: [UInt8]
        var id: UInt16
    }

    /// The message's bytes with its TSIG record appended.
    func sign(_ message: DNSMessage, at time: UInt64) -> Signed {
        let unsigned = message.encoded()
        var digest = unsigned
        appendVariables(to: &digest, time: time, fudge: fudge, error: 0, other: [])
        let mac = key.algorithm.mac(digest, key: key.secret)
        var signed = message
        signed.additional.append(record(time: time, mac: mac, originalID: message.id))
        return Signed(bytes: signed.encoded(), mac: mac, id: message.id)
    }

    /// Why an answer's signature was not accepted.
    enum Failure: Error, Equatable, CustomStringConvertible {
        /// The server answered without a signature: it did not know the key, or refused before checking.
        case unsigned(DNSResponseCode?)
        /// The server signed with an error of its own (the request's signature did not verify there).
        case serverError(DNSResponseCode?, raw: UInt16)
        /// The answer's signature is not the key's: it did not come from the server holding the secret.
        case badMAC
        case wrongKey(String)
        /// The answer was signed further from this machine's clock than the fudge allows (RFC 8945 §5.4.3).
        case badTime(signed: UInt64, now: UInt64)

        var description: String {
            switch self {
            case .unsigned(let code):
                return "the server's answer is not signed" + (code.map { " (it answered \($0))" } ?? "")
            case .serverError(let code, let raw):
                return "the server did not accept the request's signature: " + (code?.description ?? "TSIG error \(raw)")
            case .badMAC:
                return "the answer's TSIG signature does not verify with the key: it is not from a server holding this secret"
            case .wrongKey(let detail):
                return "the answer is signed with another key (\(detail))"
            case .badTime(let signed, let now):
                return "the answer was signed at \(signed), \(signed > now ? signed - now : now - signed) s from this machine's clock (\(now)): more than the fudge allows"
            }
        }
    }

    /// Checks the answer's TSIG record against the request's MAC. `bytes` is the answer as received.
    func verify(_ answer: DNSMessage, bytes: [UInt8], request: Signed, now: UInt64) throws(Failure) {
        guard let tsigOffset = answer.lastRecordOffset, let record = answer.additional.last, record.type == DNSType.tsig.rawValue else {
            throw .unsigned(DNSResponseCode(rawValue: answer.rcode))
        }
        guard let fields = TSIGFields(record.data) else { throw .badMAC }
        guard record.name == key.name, fields.algorithm == key.algorithm.name else {
            throw .wrongKey("\(record.name) \(fields.algorithm)")
        }
        if fields.error != 0 { throw .serverError(DNSResponseCode(rawValue: fields.error), raw: fields.error) }
        // The digest covers the request's MAC, then the answer as it was before its TSIG record was added
        // (its original ID, one additional record fewer), then the TSIG variables.
        var digest: [UInt8] = []
        digest.appendBigEndian(UInt16(request.mac.count))
        digest += request.mac
        var unsigned = Array(bytes[..<tsigOffset])
        unsigned[0] = UInt8(fields.originalID >> 8)
        unsigned[1] = UInt8(fields.originalID & 0xFF)
        let count = UInt16(unsigned[10]) << 8 | UInt16(unsigned[11])
        unsigned[10] = UInt8((count - 1) >> 8)
        unsigned[11] = UInt8((count - 1) & 0xFF)
        digest += unsigned
        appendVariables(to: &digest, time: fields.time, fudge: fields.fudge, error: fields.error, other: fields.other)
        let expected = key.algorithm.mac(digest, key: key.secret)
        guard fields.mac.count == expected.count, zip(fields.mac, expected).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else {
            throw .badMAC
        }
        // Checked after the MAC, so that a forged answer is told as one (RFC 8945 §5.4.3).
        let distance = fields.time > now ? fields.time - now : now - fields.time
        guard distance <= UInt64(fields.fudge) else { throw .badTime(signed: fields.time, now: now) }
    }

    /// The TSIG variables a MAC covers after the message (RFC 8945 §4.3.3), for a request and for an answer alike.
    private func appendVariables(to digest: inout [UInt8], time: UInt64, fudge: UInt16, error: UInt16, other: [UInt8]) {
        key.name.write(into: &digest)
        digest.appendBigEndian(DNSClass.any.rawValue)
        digest.appendBigEndian(UInt32(0))
        key.algorithm.name.write(into: &digest)
        Self.appendTime(time, to: &digest)
        digest.appendBigEndian(fudge)
        digest.appendBigEndian(error)
        digest.appendBigEndian(UInt16(other.count))
        digest += other
    }

    private func record(time: UInt64, mac: [UInt8], originalID: UInt16) -> DNSRecord {
        var data: [UInt8] = []
        key.algorithm.name.write(into: &data)
        Self.appendTime(time, to: &data)
        data.appendBigEndian(fudge)
        data.appendBigEndian(UInt16(mac.count))
        data += mac
        data.appendBigEndian(originalID)
        data.appendBigEndian(UInt16(0))
        data.appendBigEndian(UInt16(0))
        return DNSRecord(name: key.name, type: .tsig, recordClass: .any, ttl: 0, data: data)
    }

    /// Time Signed: 48 bits of seconds since the epoch.
    static func appendTime(_ time: UInt64, to bytes: inout [UInt8]) {
        bytes.appendBigEndian(UInt16(time >> 32 & 0xFFFF))
        bytes.appendBigEndian(UInt32(time & 0xFFFF_FFFF))
    }
}

/// The fields of a TSIG record's data.
struct TSIGFields {
    var algorithm: DNSName
    var time: UInt64
    var fudge: UInt16
    var mac: [UInt8]
    var originalID: UInt16
    var error: UInt16
    var other: [UInt8]

    init?(_ data: [UInt8]) {
        var reader = DNSReader(bytes: data)
        guard let algorithm = try? reader.name(), let high = try? reader.uint16(), let low = try? reader.uint32(),
              let fudge = try? reader.uint16(), let macSize = try? reader.uint16(), let mac = try? reader.take(Int(macSize)),
              let originalID = try? reader.uint16(), let error = try? reader.uint16(), let otherSize = try? reader.uint16(),
              let other = try? reader.take(Int(otherSize)), reader.offset == data.count else { return nil }
        self.algorithm = algorithm
        time = UInt64(high) << 32 | UInt64(low)
        self.fudge = fudge
        self.mac = Array(mac)
        self.originalID = originalID
        self.error = error
        self.other = Array(other)
    }
}
