/// A domain name as DNS carries it (RFC 1035 §3.1): labels of 1–63 bytes, at most 255 bytes on the wire. Names are
/// written as a user does (`www.example.test`, a trailing dot allowed) and compared without regard to ASCII case
/// (RFC 4343). Only the letters, digits, `-` and `_` of host and service names are taken from a user.
public struct DNSName: Sendable, Hashable, CustomStringConvertible {
    /// The labels, lowercased (the canonical form TSIG signs, RFC 8945 §4.3.3).
    public let labels: [String]

    /// Why a name was refused.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// The root.
    public static let root = DNSName(canonical: [])

    private init(canonical: [String]) {
        labels = canonical
    }

    /// Parses a name a user wrote.
    public init(parsing text: String) throws(Invalid) {
        var body = Substring(text)
        if body.hasSuffix(".") { body = body.dropLast() }
        guard !body.isEmpty else {
            if text == "." { self = .root; return }
            throw Invalid(description: "'\(text)' is empty: write a name such as www.example.test")
        }
        var labels: [String] = []
        for label in body.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { throw Invalid(description: "'\(text)' has an empty label (two dots in a row)") }
            guard label.utf8.count <= 63 else { throw Invalid(description: "'\(text)': the label '\(label.prefix(20))…' is longer than 63 bytes") }
            guard label.utf8.allSatisfy({ Self.allowed($0) }) else {
                throw Invalid(description: "'\(text)': the label '\(label)' has a character other than a letter, a digit, '-' or '_'")
            }
            guard label.first != "-", label.last != "-" else { throw Invalid(description: "'\(text)': the label '\(label)' starts or ends with '-'") }
            labels.append(label.lowercased())
        }
        self.labels = labels
        guard wireLength <= 255 else { throw Invalid(description: "'\(text)' is longer than 255 bytes on the wire") }
    }

    /// A name read from a message: any bytes in a label, lowercased in ASCII only.
    public init(wireLabels: [[UInt8]]) {
        labels = wireLabels.map { bytes in String(decoding: bytes.map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self) }
    }

    private static func allowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }

    /// Its length on the wire, uncompressed.
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.utf8.count } }

    /// Whether this name is `zone` or below it.
    public func isInside(_ zone: DNSName) -> Bool {
        labels.count >= zone.labels.count && Array(labels.suffix(zone.labels.count)) == zone.labels
    }

    /// The name with a trailing dot, as zone files and `dig` write it.
    public var description: String { labels.isEmpty ? "." : labels.joined(separator: ".") + "." }
}
