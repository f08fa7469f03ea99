/// A parsed JSON document kept as a flat array of nodes over its original
/// bytes: no string or dictionary is built while parsing, so parsing a response
/// costs little more than reading it. Strings and numbers are decoded only when
/// compared.
public struct JSONDocument: Sendable {
    /// The kind of a JSON value.
    public enum Kind: UInt8, Sendable {
        case null, bool, number, string, array, object

        /// The name used in differences ("number", "string", …).
        public var name: String {
            switch self {
            case .null: return "null"
            case .bool: return "boolean"
            case .number: return "number"
            case .string: return "string"
            case .array: return "array"
            case .object: return "object"
            }
        }
    }

    /// One value. Containers are followed by their children; an object's
    /// children alternate key (a string node) and value.
    struct Node: Sendable {
        var kind: Kind
        /// For bools: 1 when true. For strings: 1 when they contain escapes. For numbers: 1 when integral.
        var flag: UInt8
        /// First byte of the value (for strings, after the opening quote).
        var start: Int32
        /// One past the last byte (for strings, before the closing quote).
        var end: Int32
        /// Children: elements of an array, members (pairs) of an object.
        var count: Int32
        /// Index of the node after this value's subtree.
        var next: Int32
    }

    /// The document's bytes.
    public let bytes: [UInt8]
    /// The nodes, root first.
    let nodes: [Node]

    /// The deepest nesting accepted.
    public static let maxDepth = 512

    /// Parses `bytes`; nil when they are not one valid JSON value (surrounding whitespace allowed).
    public static func parse(_ bytes: [UInt8]) -> JSONDocument? {
        var parser = JSONParser(bytes: bytes)
        guard let nodes = parser.parse() else { return nil }
        return JSONDocument(bytes: bytes, nodes: nodes)
    }

    /// The root value.
    public var root: Value { Value(document: self, index: 0) }

    /// A value inside a document.
    public struct Value: Sendable {
        let document: JSONDocument
        let index: Int

        var node: Node { document.nodes[index] }

        /// The value's kind.
        public var kind: Kind { node.kind }

        /// The value as JSON text, as it appears in the document.
        public var text: String {
            let node = self.node
            if node.kind == .string {
                return String(decoding: document.bytes[Int(node.start - 1)..<Int(node.end + 1)], as: UTF8.self)
            }
            return String(decoding: document.bytes[Int(node.start)..<Int(node.end)], as: UTF8.self)
        }

        /// The members of an object, in document order.
        public var members: [(key: String, value: Value)] {
            guard node.kind == .object else { return [] }
            var result: [(String, Value)] = []
            var child = index + 1
            for _ in 0..<node.count {
                let key = document.string(at: child)
                let value = child + 1
                result.append((key, Value(document: document, index: value)))
                child = Int(document.nodes[value].next)
            }
            return result
        }

        /// The elements of an array, in order.
        public var elements: [Value] {
            guard node.kind == .array else { return [] }
            var result: [Value] = []
            var child = index + 1
            for _ in 0..<node.count {
                result.append(Value(document: document, index: child))
                child = Int(document.nodes[child].next)
            }
            return result
        }

        /// The value of a string, decoded.
        public var string: String? { node.kind == .string ? document.string(at: index) : nil }

        /// The value of a number.
        public var number: Double? { node.kind == .number ? document.double(at: index) : nil }

        /// The value of a boolean.
        public var bool: Bool? { node.kind == .bool ? node.flag == 1 : nil }

        /// The member with this key, if this is an object that has it.
        public subscript(key: String) -> Value? {
            members.first { $0.key == key }?.value
        }

        /// The value at a JSON pointer below this one.
        public func value(at pointer: JSONPointer) -> Value? {
            var current = self
            for token in pointer.tokens {
                switch current.kind {
                case .object:
                    guard let next = current[token] else { return nil }
                    current = next
                case .array:
                    guard let position = Int(token), position >= 0, position < current.elements.count else { return nil }
                    current = current.elements[position]
                default:
                    return nil
                }
            }
            return current
        }
    }

    /// The decoded text of the string node at `index`.
    func string(at index: Int) -> String {
        let node = nodes[index]
        let raw = bytes[Int(node.start)..<Int(node.end)]
        guard node.flag == 1 else { return String(decoding: raw, as: UTF8.self) }
        return JSONStrings.unescape(raw)
    }

    /// The value of the number node at `index`.
    func double(at index: Int) -> Double {
        let node = nodes[index]
        return Double(String(decoding: bytes[Int(node.start)..<Int(node.end)], as: UTF8.self)) ?? .nan
    }

    /// The value of an integral number node, when it fits 64 bits.
    func integer(at index: Int) -> Int64? {
        let node = nodes[index]
        guard node.flag == 1, node.end - node.start <= 19 else { return nil }
        var value: Int64 = 0
        var position = Int(node.start)
        let negative = bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        while position < Int(node.end) {
            let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = multiplied.addingReportingOverflow(Int64(bytes[position] - 48))
            if overflow1 || overflow2 { return nil }
            value = added
            position += 1
        }
        return negative ? -value : value
    }
}

/// Parses JSON (RFC 8259) into ``JSONDocument`` nodes, iteratively.
struct JSONParser {
    let bytes: [UInt8]
    var position = 0
    var nodes: [JSONDocument.Node] = []

    init(bytes: [UInt8]) {
        self.bytes = bytes
        nodes.reserveCapacity(bytes.count / 8 + 4)
    }

    /// The open containers: node index and whether the next token must be an object key.
    private var stack: [(node: Int, expectKey: Bool)] = []

    mutating func parse() -> [JSONDocument.Node]? {
        let ok: Bool = bytes.withUnsafeBufferPointer { buffer in parseAll(buffer) }
        return ok ? nodes : nil
    }

    private mutating func parseAll(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        skipSpace(b)
        guard parseValue(b) else { return false }
        while !stack.isEmpty {
            skipSpace(b)
            guard position < b.count else { return false }
            let top = stack[stack.count - 1]
            let byte = b[position]
            let container = top.node
            let isObject = nodes[container].kind == .object
            if byte == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                position += 1
                nodes[container].end = Int32(position)
                nodes[container].next = Int32(nodes.count)
                stack.removeLast()
                continue
            }
            if nodes[container].count > 0 {
                guard byte == UInt8(ascii: ",") else { return false }
                position += 1
                skipSpace(b)
            }
            nodes[container].count += 1
            if isObject {
                guard position < b.count, b[position] == UInt8(ascii: "\""), parseString(b) else { return false }
                skipSpace(b)
                guard position < b.count, b[position] == UInt8(ascii: ":") else { return false }
                position += 1
                skipSpace(b)
            }
            guard parseValue(b) else { return false }
        }
        skipSpace(b)
        return position == b.count
    }

    /// Parses one value; a container is opened (its children follow in `parseAll`).
    private mutating func parseValue(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard position < b.count else { return false }
        switch b[position] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard stack.count < JSONDocument.maxDepth else { return false }
            let kind: JSONDocument.Kind = b[position] == UInt8(ascii: "{") ? .object : .array
            nodes.append(.init(kind: kind, flag: 0, start: Int32(position), end: 0, count: 0, next: 0))
            stack.append((nodes.count - 1, false))
            position += 1
            return true
        case UInt8(ascii: "\""):
            return parseString(b)
        case UInt8(ascii: "t"):
            return literal(b, "true", kind: .bool, flag: 1)
        case UInt8(ascii: "f"):
            return literal(b, "false", kind: .bool, flag: 0)
        case UInt8(ascii: "n"):
            return literal(b, "null", kind: .null, flag: 0)
        default:
            return parseNumber(b)
        }
    }

    private mutating func literal(_ b: UnsafeBufferPointer<UInt8>, _ text: StaticString, kind: JSONDocument.Kind, flag: UInt8) -> Bool {
        let count = text.utf8CodeUnitCount
        guard position + count <= b.count else { return false }
        for offset in 0..<count where b[position + offset] != text.utf8Start[offset] { return false }
        nodes.append(.init(kind: kind, flag: flag, start: Int32(position), end: Int32(position + count), count: 0, next: Int32(nodes.count + 1)))
        position += count
        return true
    }

    private mutating func parseString(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        position += 1
        let start = position
        var escaped = false
        while position < b.count {
            let byte = b[position]
            if byte == UInt8(ascii: "\"") {
                nodes.append(.init(kind: .string, flag: escaped ? 1 : 0, start: Int32(start), end: Int32(position), count: 0,
                                   next: Int32(nodes.count + 1)))
                position += 1
                return true
            }
            if byte < 0x20 { return false }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                position += 1
                guard position < b.count else { return false }
                switch b[position] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard position + 4 < b.count else { return false }
                    for offset in 1...4 where !Self.isHex(b[position + offset]) { return false }
                    position += 4
                default:
                    return false
                }
            }
            position += 1
        }
        return false
    }

    private mutating func parseNumber(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = position
        var integral = true
        if b[position] == UInt8(ascii: "-") { position += 1 }
        guard position < b.count, Self.isDigit(b[position]) else { return false }
        if b[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            while position < b.count, Self.isDigit(b[position]) { position += 1 }
        }
        if position < b.count, b[position] == UInt8(ascii: ".") {
            integral = false
            position += 1
            guard position < b.count, Self.isDigit(b[position]) else { return false }
            while position < b.count, Self.isDigit(b[position]) { position += 1 }
        }
        if position < b.count, b[position] | 0x20 == UInt8(ascii: "e") {
            integral = false
            position += 1
            if position < b.count, b[position] == UInt8(ascii: "+") || b[position] == UInt8(ascii: "-") { position += 1 }
            guard position < b.count, Self.isDigit(b[position]) else { return false }
            while position < b.count, Self.isDigit(b[position]) { position += 1 }
        }
        nodes.append(.init(kind: .number, flag: integral ? 1 : 0, start: Int32(start), end: Int32(position), count: 0,
                           next: Int32(nodes.count + 1)))
        return true
    }

    private mutating func skipSpace(_ b: UnsafeBufferPointer<UInt8>) {
        while position < b.count {
            switch b[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
    @inline(__always) static func isHex(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte | 0x20 >= 97 && byte | 0x20 <= 102)
    }
}

/// Decoding of JSON string escapes.
enum JSONStrings {
    static func unescape(_ raw: ArraySlice<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        var index = raw.startIndex
        func flush() {
            if !utf8.isEmpty {
                scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
                utf8.removeAll(keepingCapacity: true)
            }
        }
        func hex4(_ at: Int) -> UInt32 {
            var value: UInt32 = 0
            for offset in 0..<4 {
                let byte = raw[at + offset]
                let digit: UInt32 = byte <= 57 ? UInt32(byte - 48) : UInt32((byte | 0x20) - 87)
                value = value * 16 + digit
            }
            return value
        }
        while index < raw.endIndex {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                index += 1
                continue
            }
            flush()
            let escape = raw[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = hex4(index)
                index += 4
                if (0xD800..<0xDC00).contains(code), index + 6 <= raw.endIndex, raw[index] == UInt8(ascii: "\\"),
                   raw[index + 1] == UInt8(ascii: "u") {
                    let low = hex4(index + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    }
                }
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default:
                scalars.append(Unicode.Scalar(escape))
            }
        }
        flush()
        return String(scalars)
    }
}
