import CutoverAdmin
import CutoverCore
import Foundation
import NIOCore

/// The fuzz harnesses: each takes any bytes and drives one piece of Cutover that a client or an operator feeds,
/// checking that it never traps and that what it promises holds (a failed `finding` check is a finding).
enum Harness: String, CaseIterable {
    /// The configuration loader: YAML in, a configuration or errors out, every error with its line.
    case config
    /// The JSON parser, diff, normaliser (sorted arrays, ignores) and redactor, on two documents.
    case json
    /// ID extraction from request bodies and from answers (`max_id_seen`).
    case id
    /// The list cursor a client sends back: decoded, merged with pages, never moving a side backwards.
    case cursor
    /// Path templates: parsed from configuration text, matched against request paths.
    case path
    /// The admin API's request decoding: query parameters, path parameters, JSON bodies.
    case admin
    /// The request parser against NIOHTTP1's llhttp-based decoder: framing must agree (``RequestDifferential``).
    case requestDiff = "request-diff"
    /// The response parser against NIOHTTP1's llhttp-based response decoder (``ResponseDifferential``).
    case responseDiff = "response-diff"

    /// Runs the harness on one input.
    func run(_ bytes: [UInt8]) {
        switch self {
        case .config: Self.config(bytes)
        case .json: Self.json(bytes)
        case .id: Self.id(bytes)
        case .cursor: Self.cursor(bytes)
        case .path: Self.path(bytes)
        case .admin: Self.admin(bytes)
        case .requestDiff: RequestDifferential.check(bytes)
        case .responseDiff: ResponseDifferential.check(bytes)
        }
    }

    /// Splits an input in two at its first byte's share of the rest.
    static func halves(_ bytes: [UInt8]) -> ([UInt8], [UInt8]) {
        guard let first = bytes.first else { return ([], []) }
        let rest = Array(bytes.dropFirst())
        let cut = rest.isEmpty ? 0 : Int(first) * rest.count / 256
        return (Array(rest[..<cut]), Array(rest[cut...]))
    }

    static func config(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        switch ConfigLoader.load(yaml: text, source: "fuzz.yaml", baseDirectory: "/nonexistent") {
        case .success(let config):
            finding(!config.backends.isEmpty, "a loaded configuration has its backends")
        case .failure(let error):
            finding(!error.issues.isEmpty, "a refused configuration says why")
            for issue in error.issues {
                finding(issue.line.map { $0 >= 1 } ?? false, "every error names its line: \(issue)")
                _ = issue.formatted(source: "fuzz.yaml")
            }
        }
    }

    static let patterns = ["/a", "/a/*/b", "/*", "/items/*/id", "/card/number"].compactMap(PointerPattern.parse)

    static func json(_ bytes: [UInt8]) {
        let (a, b) = halves(bytes)
        let documentA = JSONDocument.parse(a), documentB = JSONDocument.parse(b)
        var rules = CompareRules.defaults
        rules.ignore = [patterns[1]]
        rules.sortArrays = [SortRule(array: PointerPattern.parse("/items")!, key: JSONPointer.parse("/id")!)]
        rules.floatTolerance = 0.001
        if let documentA {
            finding(JSONDiff.differences(old: documentA, new: documentA, rules: rules).isEmpty, "a document equals itself")
            let redacted = JSONRedactor.redact(a, patterns: patterns)
            finding(JSONDocument.parse(redacted) != nil, "a redacted document is still JSON")
        }
        if let documentA, let documentB {
            let differences = JSONDiff.differences(old: documentA, new: documentB, rules: rules)
            _ = JSONRedactor.redact(differences, patterns: patterns)
            let backwards = JSONDiff.differences(old: documentB, new: documentA, rules: rules)
            finding(differences.isEmpty == backwards.isEmpty, "equality is symmetric")
        }
        let comparison = ResponseComparison.compare(CapturedResponse(status: 200, headers: [], body: a, truncated: false),
                                                    CapturedResponse(status: 200, headers: [], body: b, truncated: false), rules: rules)
        finding(comparison.bodyCompared)
    }

    static func id(_ bytes: [UInt8]) {
        for name in ["/id", "/order/id", "/items/0/id"] {
            let source = IDSource(from: .body, name: name, pointer: JSONPointer.parse(name), onMissing: .old)
            if let id = source.id(inBody: bytes) { finding(id >= 0 || id < 0) }
            _ = source.id(inHeader: Substring(String(decoding: bytes.prefix(64), as: UTF8.self)))
        }
        for pattern in ["/id", "/items/*/id", "/*/*"] {
            _ = IDSource.maxID(in: bytes, at: JSONPointer.parse(pattern)!)
        }
    }

    static let aggregate = AggregateSettings(array: JSONPointer.parse("/items")!, key: JSONPointer.parse("/id")!, order: .desc,
                                             limitParam: "limit", cursorParam: "cursor", nextCursor: JSONPointer.parse("/next_cursor")!,
                                             onPartial: .degrade, defaultLimit: 50, maxLimit: 1000)

    static func cursor(_ bytes: [UInt8]) {
        let (cursorBytes, pageBytes) = halves(bytes)
        let text = String(decoding: cursorBytes, as: UTF8.self)
        let query = "limit=3&cursor=" + text
        guard case .success(let parameters) = ListMerge.parameters(query: Substring(query), settings: aggregate) else { return }
        let cursor = parameters.cursor
        // A decoded cursor survives a round trip.
        finding(ListMerge.Cursor.decode(cursor.encoded) == cursor, "a cursor reads back as written")
        // Pages a well-behaved backend would send after the cursor's positions (descending keys).
        func page(_ side: ListMerge.SideCursor, _ seed: ArraySlice<UInt8>) -> [(key: ListMerge.Key, text: String)] {
            var keys = seed.prefix(4).map { Double($0) }
            if case .number(let after, _)? = side.after { keys = keys.map { after - 1 - $0 } }
            return keys.sorted(by: >).map { (.number($0, text: String($0)), "{\"id\":\($0)}") }
        }
        let old = cursor.old.done ? nil : page(cursor.old, pageBytes[...])
        let new = cursor.new.done ? nil : page(cursor.new, pageBytes.dropFirst(4))
        let merged = ListMerge.merge(old: old, new: new, cursor: cursor, limit: parameters.limit, order: .desc)
        finding(merged.items.count <= parameters.limit)
        if let next = merged.next {
            for (before, after) in [(cursor.old, next.old), (cursor.new, next.new)] {
                finding(!before.done || after.done, "a side that ran out stays out")
                if let was = before.after, let now = after.after { finding(!(was < now), "a side never moves backwards") }
            }
            _ = next.encoded
        }
    }

    static func path(_ bytes: [UInt8]) {
        let (templateBytes, pathBytes) = halves(bytes)
        let templateText = String(decoding: templateBytes, as: UTF8.self)
        let pathText = String(decoding: pathBytes, as: UTF8.self)
        guard case .success(let template) = PathTemplate.parse(templateText) else { return }
        let matches = template.matches(Substring(pathText))
        var raw = pathText
        raw.withUTF8 { buffer in
            let bytes = UnsafeRawBufferPointer(buffer)
            finding(template.matches(bytes) == matches, "both matchers agree")
            for case .parameter(let name) in template.segments {
                if let range = template.parameterRange(name, in: bytes) {
                    finding(matches, "a parameter is found only in a matching path")
                    finding(range.lowerBound >= 0 && range.upperBound <= bytes.count, "a parameter lies inside the path")
                }
            }
        }
    }

    static func admin(_ bytes: [UInt8]) {
        let (a, b) = halves(bytes)
        let text = String(decoding: a, as: UTF8.self)
        if let date = try? AdminInput.since(text) { _ = AdminInput.minute(date) }
        _ = try? AdminInput.integer("limit", text: Substring(text), default: 20, in: 1...200)
        _ = try? AdminInput.positive("run id", text: Substring(text))
        let body = ByteBuffer(bytes: b)
        if let change = try? AdminInput.phaseChange(from: body) {
            finding(change.timeout > .zero && change.timeout <= AdminInput.maxWait, "a wait is bounded")
        }
        _ = try? AdminInput.body(FlagPatch.self, from: body)
    }
}

/// A harness's check. Unlike `precondition`, whose message a release build drops, a failed check prints what
/// disagreed, so a finding's log says it without a debug rebuild.
func finding(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = "a check failed") {
    if !condition() { fatalError(message()) }
}

/// A check that failed where it stands (see ``finding(_:_:)``).
func findingFailure(_ message: @autoclosure () -> String) -> Never {
    fatalError(message())
}
