import CutoverCore
/// The parts of a DNS message (RFC 1035 §4.1) that the DNS float sends and reads: queries and their answers,
/// dynamic updates (RFC 2136) and their TSIG signatures (RFC 8945).
public enum DNSType: UInt16, Sendable {
    case a = 1, ns = 2, cname = 5, soa = 6, aaaa = 28, opt = 41, tsig = 250, any = 255

    /// The record type that holds `address`.
    static func of(_ address: IPAddressBytes) -> DNSType { address.count == 16 ? .aaaa : .a }
}

/// A run of address bytes (4 or 16), as records carry them.
typealias IPAddressBytes = [UInt8]

public enum DNSClass: UInt16, Sendable {
    case inet = 1, none = 254, any = 255
}

/// The response codes the float tells apart (RFC 1035, RFC 2136 §2.2, RFC 8945 §3 for the TSIG errors).
public enum DNSResponseCode: UInt16, Sendable, CustomStringConvertible {
    case noError = 0, formErr = 1, servFail = 2, nxDomain = 3, notImp = 4, refused = 5
    case yxDomain = 6, yxRRSet = 7, nxRRSet = 8, notAuth = 9, notZone = 10
    case badSig = 16, badKey = 17, badTime = 18, badTrunc = 22

    public var description: String {
        switch self {
        case .noError: return "NOERROR"
        case .formErr: return "FORMERR (the server could not read the message)"
        case .servFail: return "SERVFAIL (the server failed)"
        case .nxDomain: return "NXDOMAIN"
        case .notImp: return "NOTIMP (the server does not take this kind of message)"
        case .refused: return "REFUSED (the server's policy does not allow it)"
        case .yxDomain: return "YXDOMAIN"
        case .yxRRSet: return "YXRRSET (the record exists, and was expected not to)"
        case .nxRRSet: return "NXRRSET (the record is not what it was read as: it changed meanwhile)"
        case .notAuth: return "NOTAUTH (the server is not authoritative for the zone, or the key was not accepted)"
        case .notZone: return "NOTZONE (the name is not in the zone)"
        case .badSig: return "BADSIG (the signature did not verify: wrong secret)"
        case .badKey: return "BADKEY (the server does not know the key name or its algorithm)"
        case .badTime: return "BADTIME (the clocks differ by more than the allowed fudge)"
        case .badTrunc: return "BADTRUNC"
        }
    }
}

/// A resource record: its owner, type, class, TTL and data as bytes.
struct DNSRecord: Sendable, Hashable {
    var name: DNSName
    var type: UInt16
    var recordClass: UInt16
    var ttl: UInt32
    var data: [UInt8]

    init(name: DNSName, type: DNSType, recordClass: DNSClass, ttl: UInt32, data: [UInt8]) {
        self.init(name: name, rawType: type.rawValue, rawClass: recordClass.rawValue, ttl: ttl, data: data)
    }

    init(name: DNSName, rawType: UInt16, rawClass: UInt16, ttl: UInt32, data: [UInt8]) {
        self.name = name
        self.type = rawType
        self.recordClass = rawClass
        self.ttl = ttl
        self.data = data
    }

    func write(into bytes: inout [UInt8]) {
        name.write(into: &bytes)
        bytes.appendBigEndian(type)
        bytes.appendBigEndian(recordClass)
        bytes.appendBigEndian(ttl)
        bytes.appendBigEndian(UInt16(data.count))
        bytes += data
    }
}

/// A DNS message: header fields and its four sections (for an update: zone, prerequisites, updates, additional).
struct DNSMessage: Sendable {
    static let opcodeQuery: UInt8 = 0
    static let opcodeUpdate: UInt8 = 5

    struct Question: Sendable, Hashable {
        var name: DNSName
        var type: UInt16
        var questionClass: UInt16
    }

    var id: UInt16
    var isResponse = false
    var opcode: UInt8
    var authoritative = false
    var truncated = false
    var recursionDesired = false
    var rcode: UInt16 = 0
    var questions: [Question] = []
    var answers: [DNSRecord] = []
    var authority: [DNSRecord] = []
    var additional: [DNSRecord] = []

    /// The message's bytes, uncompressed.
    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        bytes.appendBigEndian(id)
        var flags = UInt16(opcode & 0x0F) << 11 | (rcode & 0x0F)
        if isResponse { flags |= 0x8000 }
        if authoritative { flags |= 0x0400 }
        if truncated { flags |= 0x0200 }
        if recursionDesired { flags |= 0x0100 }
        bytes.appendBigEndian(flags)
        for count in [questions.count, answers.count, authority.count, additional.count] { bytes.appendBigEndian(UInt16(count)) }
        for question in questions {
            question.name.write(into: &bytes)
            bytes.appendBigEndian(question.type)
            bytes.appendBigEndian(question.questionClass)
        }
        for record in answers + authority + additional { record.write(into: &bytes) }
        return bytes
    }

    /// Why a message could not be read.
    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads a message; names may be compressed (RFC 1035 §4.1.4). Every length is checked against the bytes.
    init(decoding bytes: [UInt8]) throws(Malformed) {
        var reader = DNSReader(bytes: bytes)
        id = try reader.uint16()
        let flags = try reader.uint16()
        isResponse = flags & 0x8000 != 0
        opcode = UInt8(flags >> 11 & 0x0F)
        authoritative = flags & 0x0400 != 0
        truncated = flags & 0x0200 != 0
        recursionDesired = flags & 0x0100 != 0
        rcode = flags & 0x0F
        let counts = [try reader.uint16(), try reader.uint16(), try reader.uint16(), try reader.uint16()]
        for _ in 0..<counts[0] {
            questions.append(Question(name: try reader.name(), type: try reader.uint16(), questionClass: try reader.uint16()))
        }
        answers = try (0..<counts[1]).map { _ throws(Malformed) in try reader.record() }
        authority = try (0..<counts[2]).map { _ throws(Malformed) in try reader.record() }
        for _ in 0..<counts[3] {
            lastRecordOffset = reader.offset
            additional.append(try reader.record())
        }
        guard reader.offset == bytes.count else { throw Malformed(description: "\(bytes.count - reader.offset) bytes after the last record") }
    }

    /// Where the additional section's last record begins in the bytes read: a TSIG record there signs everything
    /// before it (RFC 8945 §5.1).
    private(set) var lastRecordOffset: Int?

    init(id: UInt16, opcode: UInt8) {
        self.id = id
        self.opcode = opcode
    }
}

/// Reads a message's fields in order, every read bounded by the message.
struct DNSReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func take(_ count: Int) throws(DNSMessage.Malformed) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - offset >= count else {
            throw DNSMessage.Malformed(description: "the message ends inside a field (\(count) bytes wanted at offset \(offset) of \(bytes.count))")
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func uint16() throws(DNSMessage.Malformed) -> UInt16 {
        let field = try take(2)
        return UInt16(field[field.startIndex]) << 8 | UInt16(field[field.startIndex + 1])
    }

    mutating func uint32() throws(DNSMessage.Malformed) -> UInt32 {
        UInt32(try uint16()) << 16 | UInt32(try uint16())
    }

    /// A name at the current offset, following compression pointers backwards only (so a loop cannot be made).
    mutating func name() throws(DNSMessage.Malformed) -> DNSName {
        var labels: [[UInt8]] = []
        var position = offset
        var resumeAt: Int?
        var length = 1
        while true {
            guard position < bytes.count else { throw DNSMessage.Malformed(description: "a name runs past the end of the message") }
            let byte = bytes[position]
            switch byte & 0xC0 {
            case 0x00:
                position += 1
                if byte == 0 {
                    offset = resumeAt ?? position
                    return DNSName(wireLabels: labels)
                }
                let count = Int(byte)
                guard bytes.count - position >= count else { throw DNSMessage.Malformed(description: "a label runs past the end of the message") }
                length += count + 1
                guard length <= 255 else { throw DNSMessage.Malformed(description: "a name is longer than 255 bytes") }
                labels.append(Array(bytes[position..<position + count]))
                position += count
            case 0xC0:
                guard position + 1 < bytes.count else { throw DNSMessage.Malformed(description: "a compression pointer is cut off") }
                let target = Int(byte & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < position else { throw DNSMessage.Malformed(description: "a compression pointer points forwards") }
                if resumeAt == nil { resumeAt = position + 2 }
                position = target
            default:
                throw DNSMessage.Malformed(description: "a label has the reserved type bits \(byte >> 6)")
            }
        }
    }

    mutating func record() throws(DNSMessage.Malformed) -> DNSRecord {
        let name = try name()
        let type = try uint16(), recordClass = try uint16(), ttl = try uint32()
        let length = Int(try uint16())
        let dataStart = offset
        var data = Array(try take(length))
        if type == DNSType.soa.rawValue {
            // SOA data holds two names, which a server may compress: kept expanded, so the record reads alone.
            var inner = self
            inner.offset = dataStart
            var expanded: [UInt8] = []
            try inner.name().write(into: &expanded)
            try inner.name().write(into: &expanded)
            let numbers = try inner.take(20)
            guard inner.offset == dataStart + length else { throw DNSMessage.Malformed(description: "an SOA record's length does not match its fields") }
            data = expanded + numbers
        }
        return DNSRecord(name: name, rawType: type, rawClass: recordClass, ttl: ttl, data: data)
    }
}

extension DNSName {
    /// Writes the name uncompressed (every name Cutover sends is, which also keeps the TSIG digest's input simple).
    func write(into bytes: inout [UInt8]) {
        for label in labels {
            bytes.append(UInt8(label.utf8.count))
            bytes += label.utf8
        }
        bytes.append(0)
    }
}

extension [UInt8] {
    mutating func appendBigEndian(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }

    mutating func appendBigEndian(_ value: UInt32) {
        appendBigEndian(UInt16(value >> 16))
        appendBigEndian(UInt16(value & 0xFFFF))
    }
}
