import Foundation

/// Merges the pages two backends return for an ID-less list route in phase
/// `gray`: items in key order, duplicates removed (new's copy wins), the page
/// cut to the limit, with a composite cursor holding the last key consumed
/// from each side.
public enum ListMerge {
    /// The key of an item: numbers compare by value, strings by their bytes.
    public enum Key: Sendable, Hashable, Codable, Comparable {
        case number(Double, text: String)
        case string(String)

        /// The key as a backend takes it in its cursor parameter.
        public var parameter: String {
            switch self {
            case .number(_, let text): return text
            case .string(let text): return text
            }
        }

        public static func < (lhs: Key, rhs: Key) -> Bool {
            switch (lhs, rhs) {
            case (.number(let a, _), .number(let b, _)): return a < b
            case (.string(let a), .string(let b)): return Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
            case (.number, .string): return true
            case (.string, .number): return false
            }
        }

        public static func == (lhs: Key, rhs: Key) -> Bool {
            switch (lhs, rhs) {
            case (.number(let a, _), .number(let b, _)): return a == b
            case (.string(let a), .string(let b)): return a == b
            default: return false
            }
        }

        public func hash(into hasher: inout Hasher) {
            switch self {
            case .number(let value, _): hasher.combine(value)
            case .string(let text): hasher.combine(text)
            }
        }
    }

    /// Where one side's listing stands between pages.
    public struct SideCursor: Sendable, Hashable, Codable {
        /// The last key consumed from this side; nil before the first page.
        public var after: Key?
        /// The side has no more items: it is not asked again.
        public var done: Bool

        public init(after: Key? = nil, done: Bool = false) {
            self.after = after
            self.done = done
        }
    }

    /// The cursor handed to the client: both sides' positions.
    public struct Cursor: Sendable, Hashable, Codable {
        public var old: SideCursor
        public var new: SideCursor

        public init(old: SideCursor = .init(), new: SideCursor = .init()) {
            self.old = old
            self.new = new
        }

        static let prefix = "c1."

        /// The opaque text form: `c1.` and base64url of its JSON.
        public var encoded: String {
            let data = (try? JSONEncoder().encode(self)) ?? Data()
            return Self.prefix + data.base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }

        /// Reads a cursor this gateway issued; nil for anything else.
        public static func decode(_ text: String) -> Cursor? {
            guard text.hasPrefix(prefix) else { return nil }
            var base64 = String(text.dropFirst(prefix.count)).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while base64.count % 4 != 0 { base64 += "=" }
            guard let data = Data(base64Encoded: base64) else { return nil }
            return try? JSONDecoder().decode(Cursor.self, from: data)
        }
    }

    /// One side's answer, read: its items (keys and JSON texts) and the document for its envelope.
    public struct Page: Sendable {
        public var document: JSONDocument
        public var items: [(key: Key, text: String)]
    }

    /// Why an answer cannot be merged.
    public struct PageError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// Reads one side's answer body.
    public static func page(_ body: [UInt8], settings: AggregateSettings) -> Swift.Result<Page, PageError> {
        guard let document = JSONDocument.parse(body) else { return .failure(PageError(description: "the answer is not JSON")) }
        guard let array = document.root.value(at: settings.array), array.kind == .array else {
            return .failure(PageError(description: "the answer has no array at \(settings.array)"))
        }
        var items: [(Key, String)] = []
        for (position, element) in array.elements.enumerated() {
            guard let value = element.value(at: settings.key) else {
                return .failure(PageError(description: "item \(position) has no key at \(settings.key)"))
            }
            switch value.kind {
            case .number: items.append((.number(value.number ?? .nan, text: value.text), element.text))
            case .string: items.append((.string(value.string ?? ""), element.text))
            default: return .failure(PageError(description: "item \(position)'s key at \(settings.key) is a \(value.kind.name), not a number or string"))
            }
        }
        return .success(Page(document: document, items: items))
    }

    /// Why a client's list request cannot be served: a bad page size or a cursor the gateway did not issue.
    public struct RequestError: Error, Sendable, Equatable {
        public var reason: String
        public init(reason: String) { self.reason = reason }
    }

    /// The client's page size and cursor, read from its query (both client-controlled: checked before use).
    public static func parameters(query: Substring, settings: AggregateSettings) -> Swift.Result<(limit: Int, cursor: Cursor), RequestError> {
        var limit = settings.defaultLimit
        if let text = QueryString.value(of: settings.limitParam, in: query) {
            guard let value = Int(text), value > 0 else {
                return .failure(RequestError(reason: "\(settings.limitParam) '\(text)' is not a positive whole number"))
            }
            guard value <= settings.maxLimit else {
                return .failure(RequestError(reason: "\(settings.limitParam) \(value) is above the route's max_limit of \(settings.maxLimit)"))
            }
            limit = value
        }
        var cursor = Cursor()
        if let text = QueryString.value(of: settings.cursorParam, in: query), !text.isEmpty {
            guard let decoded = Cursor.decode(text) else {
                return .failure(RequestError(reason: "\(settings.cursorParam) '\(text)' is not a cursor this gateway issued"))
            }
            cursor = decoded
        }
        return .success((limit, cursor))
    }

    /// The merged page: item texts, the cursor for the next page (nil at the end), and which side's envelope to use.
    public struct Merged: Sendable {
        public var items: [String]
        public var next: Cursor?
        /// How many items came from each side (a duplicate counts for new).
        public var fromOld: Int
        public var fromNew: Int
    }

    /// Merges the pages of the sides that were asked (nil: not asked because done, or failed).
    /// `failed` sides keep their position; sides not asked because they were done stay done.
    public static func merge(old: [(key: Key, text: String)]?, new: [(key: Key, text: String)]?, cursor: Cursor,
                             limit: Int, order: AggregateSettings.Order) -> Merged {
        let oldItems = old ?? [], newItems = new ?? []
        var i = 0, j = 0
        var items: [String] = []
        var lastOld = cursor.old.after, lastNew = cursor.new.after
        var fromOld = 0, fromNew = 0
        func before(_ a: Key, _ b: Key) -> Bool { order == .asc ? a < b : b < a }
        while items.count < limit {
            let a = i < oldItems.count ? oldItems[i] : nil
            let b = j < newItems.count ? newItems[j] : nil
            if let a, let b {
                if a.key == b.key {
                    items.append(b.text)
                    lastOld = a.key; lastNew = b.key
                    i += 1; j += 1; fromNew += 1
                } else if before(a.key, b.key) {
                    items.append(a.text); lastOld = a.key; i += 1; fromOld += 1
                } else {
                    items.append(b.text); lastNew = b.key; j += 1; fromNew += 1
                }
            } else if let a {
                items.append(a.text); lastOld = a.key; i += 1; fromOld += 1
            } else if let b {
                items.append(b.text); lastNew = b.key; j += 1; fromNew += 1
            } else {
                break
            }
        }
        // A side is done when it returned a short page and every item of it was consumed.
        let oldDone = cursor.old.done || (old != nil && oldItems.count < limit && i == oldItems.count)
        let newDone = cursor.new.done || (new != nil && newItems.count < limit && j == newItems.count)
        let next = Cursor(old: SideCursor(after: lastOld, done: oldDone), new: SideCursor(after: lastNew, done: newDone))
        return Merged(items: items, next: oldDone && newDone ? nil : next, fromOld: fromOld, fromNew: fromNew)
    }

    /// `document` re-written with the value at each pointer replaced by the given JSON text
    /// (a member missing from an object that exists is added at its end).
    public static func render(_ document: JSONDocument, replacing replacements: [JSONPointer: String]) -> String {
        var output = ""
        render(document.root, path: [], replacements: replacements, into: &output)
        return output
    }

    private static func render(_ value: JSONDocument.Value, path: [String], replacements: [JSONPointer: String], into output: inout String) {
        if let replacement = replacements[JSONPointer(tokens: path)] {
            output += replacement
            return
        }
        switch value.kind {
        case .object:
            output += "{"
            var first = true
            var written: Set<String> = []
            for (key, member) in value.members {
                if !first { output += "," }
                first = false
                written.insert(key)
                output += quoted(key) + ":"
                render(member, path: path + [key], replacements: replacements, into: &output)
            }
            for (pointer, text) in replacements.sorted(by: { $0.key.description < $1.key.description })
            where pointer.tokens.count == path.count + 1 && Array(pointer.tokens.dropLast()) == path && !written.contains(pointer.tokens.last!) {
                if !first { output += "," }
                first = false
                output += quoted(pointer.tokens.last!) + ":" + text
            }
            output += "}"
        case .array:
            output += "["
            for (position, element) in value.elements.enumerated() {
                if position > 0 { output += "," }
                render(element, path: path + [String(position)], replacements: replacements, into: &output)
            }
            output += "]"
        default:
            output += value.text
        }
    }

    /// A string as a JSON string literal.
    public static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
