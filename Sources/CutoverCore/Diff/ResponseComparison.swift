/// A backend's answer as the comparator sees it: status, headers and the body
/// (decompressed, chunk framing removed), possibly cut at a size cap.
public struct CapturedResponse: Sendable, Hashable {
    /// The status code.
    public var status: Int
    /// Header fields in order, names in lower case.
    public var headers: [Header]
    /// The body bytes (the first `cap` of them when `truncated`).
    public var body: [UInt8]
    /// Whether the body was longer than what was kept.
    public var truncated: Bool

    /// A header field.
    public struct Header: Sendable, Hashable, Codable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(status: Int, headers: [Header], body: [UInt8], truncated: Bool) {
        self.status = status
        self.headers = headers
        self.body = body
        self.truncated = truncated
    }

    /// The first value of a header (lower-case name).
    public func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }
}

/// The outcome of comparing two answers.
public struct Comparison: Sendable {
    /// The differences found, in document order.
    public var differences: [FieldDifference]
    /// False when a body was too long to compare (its fields are then not counted).
    public var bodyCompared: Bool

    /// The distinct fields that differ, sorted.
    public var fields: [String] { Array(Set(differences.map(\.field))).sorted() }
}

/// Compares two answers to the same request under a route's rules.
public enum ResponseComparison {
    public static func compare(_ old: CapturedResponse, _ new: CapturedResponse, rules: CompareRules) -> Comparison {
        var differences: [FieldDifference] = []
        if old.status != new.status {
            differences.append(FieldDifference(field: "status", path: "status", kind: .status, old: String(old.status), new: String(new.status)))
        }
        for name in rules.headers where !CompareRules.neverCompared.contains(name) {
            let a = old.header(name), b = new.header(name)
            if a != b {
                let field = "header:" + name
                differences.append(FieldDifference(field: field, path: field, kind: .header, old: a, new: b))
            }
        }
        guard !old.truncated, !new.truncated else {
            return Comparison(differences: differences, bodyCompared: false)
        }
        if old.body == new.body {
            return Comparison(differences: differences, bodyCompared: true)
        }
        let documentA = JSONDocument.parse(old.body), documentB = JSONDocument.parse(new.body)
        switch (documentA, documentB) {
        case let (a?, b?):
            differences += JSONDiff.differences(old: a, new: b, rules: rules)
        case (nil, nil):
            differences.append(FieldDifference(field: "body", path: "body", kind: .body,
                                               old: describe(old.body), new: describe(new.body)))
        default:
            differences.append(FieldDifference(field: "body", path: "body", kind: .type,
                                               old: documentA == nil ? describe(old.body) : "JSON", new: documentB == nil ? describe(new.body) : "JSON"))
        }
        return Comparison(differences: differences, bodyCompared: true)
    }

    /// A non-JSON body in a few words: its size and a hash.
    static func describe(_ body: [UInt8]) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in body { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        let hex = String(hash, radix: 16)
        return "\(body.count) bytes, fnv1a \(String(repeating: "0", count: 16 - hex.count))\(hex)"
    }
}
