/// The structural comparison of two JSON documents under a route's rules,
/// producing typed differences at JSON-pointer paths.
///
/// It works on the documents' nodes and bytes: keys are compared as bytes and
/// turned into strings only for the differences it reports.
public struct JSONDiff {
    let rules: CompareRules
    let old: JSONDocument
    let new: JSONDocument
    /// The path to the values being compared (keys are node indexes in `old`, or in `new` for extra members).
    private var path: [PathToken] = []
    private(set) var differences: [FieldDifference] = []
    /// Pattern tokens as bytes, so matching paths costs no string.
    private let ignore: [CompiledPattern]
    private let sortRules: [(pattern: CompiledPattern, key: JSONPointer)]

    /// The most differences kept for one pair; the rest are not worth a reviewer's time.
    public static let maxDifferences = 200

    /// One step of a path.
    private enum PathToken {
        /// An object key: the key node's index in the old (or, for members only new has, the new) document.
        case key(Int32, inNew: Bool)
        /// An array position.
        case index(Int)
    }

    /// Compares two documents; returns their differences.
    public static func differences(old: JSONDocument, new: JSONDocument, rules: CompareRules) -> [FieldDifference] {
        var diff = JSONDiff(rules: rules, old: old, new: new)
        diff.compare(0, 0)
        return diff.differences
    }

    private init(rules: CompareRules, old: JSONDocument, new: JSONDocument) {
        self.rules = rules
        self.old = old
        self.new = new
        self.ignore = rules.ignore.map(CompiledPattern.init)
        self.sortRules = rules.sortArrays.map { (CompiledPattern($0.array), $0.key) }
    }

    private var isFull: Bool { differences.count >= Self.maxDifferences }

    private func isIgnored() -> Bool {
        !ignore.isEmpty && ignore.contains { matches($0) }
    }

    private mutating func compare(_ a: Int, _ b: Int) {
        if isFull || isIgnored() { return }
        let nodeA = old.nodes[a], nodeB = new.nodes[b]
        guard nodeA.kind == nodeB.kind else {
            record(.type, old: a, new: b)
            return
        }
        switch nodeA.kind {
        case .null:
            return
        case .bool:
            if nodeA.flag != nodeB.flag { record(.value, old: a, new: b) }
        case .number:
            if !numbersEqual(a, b) { record(.value, old: a, new: b) }
        case .string:
            if !Self.stringsEqual(old, a, new, b) { record(.value, old: a, new: b) }
        case .object:
            compareObjects(a, b)
        case .array:
            compareArrays(a, b)
        }
    }

    // MARK: - Objects

    private mutating func compareObjects(_ a: Int, _ b: Int) {
        let countA = Int(old.nodes[a].count), countB = Int(new.nodes[b].count)
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: countB) { keysB in
            withUnsafeTemporaryAllocation(of: Bool.self, capacity: countB) { matched in
                var child = b + 1
                for position in 0..<countB {
                    keysB[position] = Int32(child)
                    matched[position] = false
                    child = Int(new.nodes[child + 1].next)
                }
                child = a + 1
                for position in 0..<countA {
                    let key = child, value = child + 1
                    // Members usually come in the same order: try the same position first.
                    var found: Int?
                    if position < countB, !matched[position], Self.stringsEqual(old, key, new, Int(keysB[position])) {
                        found = position
                    } else {
                        for candidate in 0..<countB where !matched[candidate] && Self.stringsEqual(old, key, new, Int(keysB[candidate])) {
                            found = candidate
                            break
                        }
                    }
                    path.append(.key(Int32(key), inNew: false))
                    if let found {
                        matched[found] = true
                        compare(value, Int(keysB[found]) + 1)
                    } else if !isIgnored() {
                        record(.missing, old: value, new: nil)
                    }
                    path.removeLast()
                    child = Int(old.nodes[value].next)
                }
                for position in 0..<countB where !matched[position] {
                    path.append(.key(keysB[position], inNew: true))
                    if !isIgnored() { record(.extra, old: nil, new: Int(keysB[position]) + 1) }
                    path.removeLast()
                }
            }
        }
    }

    // MARK: - Arrays

    private mutating func compareArrays(_ a: Int, _ b: Int) {
        var elementsA = Self.elementIndexes(old, a)
        var elementsB = Self.elementIndexes(new, b)
        if let rule = sortRules.first(where: { matches($0.pattern) }) {
            elementsA = Self.sorted(elementsA, in: old, by: rule.key)
            elementsB = Self.sorted(elementsB, in: new, by: rule.key)
        }
        let before = differences.count
        if elementsA.count != elementsB.count {
            recordText(.length, old: "\(elementsA.count) elements", new: "\(elementsB.count) elements")
        }
        var differingPositions: [Int] = []
        for position in 0..<min(elementsA.count, elementsB.count) {
            if isFull { break }
            let count = differences.count
            path.append(.index(position))
            compare(elementsA[position], elementsB[position])
            path.removeLast()
            if differences.count > count { differingPositions.append(position) }
        }
        // Same elements in another order: one difference, not one per element. Positions that
        // compared equal hold equal elements, so only the differing ones need their multisets compared.
        if elementsA.count == elementsB.count, differingPositions.count >= 2, !isFull,
           differingPositions.map({ Self.hash(old, elementsA[$0]) }).sorted()
            == differingPositions.map({ Self.hash(new, elementsB[$0]) }).sorted() {
            differences.removeSubrange(before...)
            recordText(.order, old: nil, new: nil)
        }
    }

    private static func elementIndexes(_ document: JSONDocument, _ array: Int) -> [Int] {
        let count = Int(document.nodes[array].count)
        var result: [Int] = []
        result.reserveCapacity(count)
        var child = array + 1
        for _ in 0..<count {
            result.append(child)
            child = Int(document.nodes[child].next)
        }
        return result
    }

    /// Elements ordered by the value at `key` (numbers before strings, then the rest in document order).
    private static func sorted(_ elements: [Int], in document: JSONDocument, by key: JSONPointer) -> [Int] {
        let keyed = elements.enumerated().map { offset, element -> (Int, SortKey) in
            guard let found = document.index(of: key, below: element) else { return (element, .other(offset)) }
            switch document.nodes[found].kind {
            case .number:
                if let integer = document.integer(at: found) { return (element, .number(Double(integer))) }
                return (element, .number(document.double(at: found)))
            case .string:
                return (element, .string(document.string(at: found)))
            default:
                return (element, .other(offset))
            }
        }
        return keyed.sorted { $0.1 < $1.1 }.map(\.0)
    }

    private enum SortKey: Comparable {
        case number(Double)
        case string(String)
        case other(Int)
    }

    /// A structural hash: equal for equal values, whatever the order of object members.
    static func hash(_ document: JSONDocument, _ index: Int) -> UInt64 {
        let node = document.nodes[index]
        switch node.kind {
        case .null: return 0x9E37_79B9_7F4A_7C15
        case .bool: return node.flag == 1 ? 0x1 : 0x2
        case .number:
            if let integer = document.integer(at: index) { return mix(UInt64(bitPattern: integer) &+ 3) }
            return mix(document.double(at: index).bitPattern &+ 5)
        case .string:
            var value: UInt64 = 0xCBF2_9CE4_8422_2325
            if node.flag == 0 {
                for position in Int(node.start)..<Int(node.end) { value = (value ^ UInt64(document.bytes[position])) &* 0x100_0000_01B3 }
            } else {
                for byte in document.string(at: index).utf8 { value = (value ^ UInt64(byte)) &* 0x100_0000_01B3 }
            }
            return mix(value)
        case .array:
            var value: UInt64 = 7
            var child = index + 1
            for _ in 0..<node.count {
                value = mix(value &* 31 &+ hash(document, child))
                child = Int(document.nodes[child].next)
            }
            return value
        case .object:
            var value: UInt64 = 11
            var child = index + 1
            for _ in 0..<node.count {
                value = value &+ mix(hash(document, child) ^ (hash(document, child + 1) &* 0x9E37_79B9_7F4A_7C15))
                child = Int(document.nodes[child + 1].next)
            }
            return mix(value)
        }
    }

    @inline(__always)
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    // MARK: - Scalars

    private func numbersEqual(_ a: Int, _ b: Int) -> Bool {
        let nodeA = old.nodes[a], nodeB = new.nodes[b]
        if Self.rawEqual(old, nodeA, new, nodeB) { return true }
        if nodeA.flag == 1, nodeB.flag == 1, let x = old.integer(at: a), let y = new.integer(at: b) { return x == y }
        let x = old.double(at: a), y = new.double(at: b)
        if x == y { return true }
        return rules.floatTolerance > 0 && abs(x - y) <= rules.floatTolerance
    }

    static func stringsEqual(_ documentA: JSONDocument, _ a: Int, _ documentB: JSONDocument, _ b: Int) -> Bool {
        let nodeA = documentA.nodes[a], nodeB = documentB.nodes[b]
        if nodeA.flag == 0, nodeB.flag == 0 { return rawEqual(documentA, nodeA, documentB, nodeB) }
        return documentA.string(at: a) == documentB.string(at: b)
    }

    @inline(__always)
    static func rawEqual(_ documentA: JSONDocument, _ nodeA: JSONDocument.Node, _ documentB: JSONDocument, _ nodeB: JSONDocument.Node) -> Bool {
        let length = Int(nodeA.end - nodeA.start)
        guard length == Int(nodeB.end - nodeB.start) else { return false }
        return documentA.bytes.withUnsafeBufferPointer { bufferA in
            documentB.bytes.withUnsafeBufferPointer { bufferB in
                let pointerA = bufferA.baseAddress! + Int(nodeA.start), pointerB = bufferB.baseAddress! + Int(nodeB.start)
                for offset in 0..<length where pointerA[offset] != pointerB[offset] { return false }
                return true
            }
        }
    }

    // MARK: - Paths and records

    /// A pointer pattern with its literal tokens as bytes (and as numbers, for array positions).
    private struct CompiledPattern {
        let tokens: [(bytes: [UInt8], position: Int?)?]

        init(_ pattern: PointerPattern) {
            tokens = pattern.tokens.map { token in token.map { (Array($0.utf8), Int($0)) } }
        }
    }

    /// Whether the current path matches a pattern.
    private func matches(_ pattern: CompiledPattern) -> Bool {
        guard pattern.tokens.count == path.count else { return false }
        for (token, step) in zip(pattern.tokens, path) {
            guard let token else { continue }
            switch step {
            case .index(let position):
                if token.position != position { return false }
            case .key(let node, let inNew):
                let document = inNew ? new : old
                let key = document.nodes[Int(node)]
                if key.flag == 0 {
                    let length = Int(key.end - key.start)
                    guard length == token.bytes.count else { return false }
                    for offset in 0..<length where document.bytes[Int(key.start) + offset] != token.bytes[offset] { return false }
                } else if Array(document.string(at: Int(node)).utf8) != token.bytes {
                    return false
                }
            }
        }
        return true
    }

    /// Keys that name entities rather than fields collapse to `*`: all digits, a UUID, or 16+ hex digits.
    static func looksLikeID(_ key: String) -> Bool {
        let utf8 = key.utf8
        guard !utf8.isEmpty else { return false }
        if utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) { return true }
        let isHex: (UInt8) -> Bool = { ($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 102) }
        if utf8.count >= 16, utf8.allSatisfy(isHex) { return true }
        if utf8.count == 36 {
            for (offset, byte) in utf8.enumerated() {
                if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                    if byte != UInt8(ascii: "-") { return false }
                } else if !isHex(byte) {
                    return false
                }
            }
            return true
        }
        return false
    }

    /// The concrete pointer and the field (indexes and ID-like keys as `*`) of the current path.
    private func pointers() -> (path: String, field: String) {
        guard !path.isEmpty else { return ("/", "/") }
        var concrete = "", field = ""
        for step in path {
            switch step {
            case .index(let position):
                concrete += "/\(position)"
                field += "/*"
            case .key(let node, let inNew):
                let key = (inNew ? new : old).string(at: Int(node))
                let escaped = JSONPointer.escape(key)
                concrete += "/" + escaped
                field += Self.looksLikeID(key) ? "/*" : "/" + escaped
            }
        }
        return (concrete, field)
    }

    private mutating func record(_ kind: FieldDifference.Kind, old a: Int?, new b: Int?) {
        recordText(kind, old: a.map { FieldDifference.shorten(JSONDocument.Value(document: old, index: $0).text) },
                   new: b.map { FieldDifference.shorten(JSONDocument.Value(document: new, index: $0).text) })
    }

    private mutating func recordText(_ kind: FieldDifference.Kind, old: String?, new: String?) {
        guard !isFull else { return }
        let (concrete, field) = pointers()
        differences.append(FieldDifference(field: field, path: concrete, kind: kind, old: old, new: new))
    }
}

extension JSONDocument {
    /// The node index of the value at `pointer` below the value at `index`, walking nodes only.
    func index(of pointer: JSONPointer, below index: Int) -> Int? {
        var current = index
        for token in pointer.tokens {
            let node = nodes[current]
            switch node.kind {
            case .object:
                var child = current + 1
                var found: Int?
                let bytes = Array(token.utf8)
                for _ in 0..<node.count {
                    let key = nodes[child]
                    if key.flag == 0 ? self.bytes[Int(key.start)..<Int(key.end)].elementsEqual(bytes) : string(at: child) == token {
                        found = child + 1
                        break
                    }
                    child = Int(nodes[child + 1].next)
                }
                guard let found else { return nil }
                current = found
            case .array:
                guard let position = Int(token), position >= 0, position < Int(node.count) else { return nil }
                var child = current + 1
                for _ in 0..<position { child = Int(nodes[child].next) }
                current = child
            default:
                return nil
            }
        }
        return current
    }
}
