import Foundation

/// Where a route finds the entity ID a request is about, for routing by ID in
/// phases `gray` and `drain`.
public struct IDSource: Sendable, Hashable {
    /// The part of the request the ID is read from.
    public enum From: String, Sendable, Hashable, CaseIterable {
        /// A `{param}` of the route's path template.
        case path
        /// A query parameter.
        case query
        /// A request header.
        case header
        /// A JSON pointer into the request body (read up to ``IDSource/maxBodyBytes``).
        case body
    }

    /// Where a request whose ID is absent or not an integer goes.
    public enum OnMissing: String, Sendable, Hashable, CaseIterable {
        case old, new
        /// Answered 400 by the gateway.
        case reject
    }

    public var from: From
    /// The parameter, query parameter or header name; for `body`, a JSON pointer.
    public var name: String
    /// The parsed pointer when `from` is `body`.
    public var pointer: JSONPointer?
    public var onMissing: OnMissing

    /// How much of a request body is held to find an ID in it; a larger body counts as having none.
    public static let maxBodyBytes = 64 * 1024

    public init(from: From, name: String, pointer: JSONPointer? = nil, onMissing: OnMissing) {
        self.from = from
        self.name = name
        self.pointer = pointer
        self.onMissing = onMissing
    }
}

/// How a route answers in phase `gray`.
public struct GraySettings: Sendable, Hashable {
    /// IDs at or above it are answered by new; nil until configured (then `gray` cannot be entered).
    public var threshold: Int64?
    /// Where creates (requests with no ID yet: POST) go.
    public var creates: RoutingTarget.Side
    /// The share of requests whose other side is read as well, for comparison (safe methods only).
    public var compareSample: Double

    public static let defaults = GraySettings(threshold: nil, creates: .new, compareSample: 0)

    public init(threshold: Int64?, creates: RoutingTarget.Side, compareSample: Double) {
        self.threshold = threshold
        self.creates = creates
        self.compareSample = compareSample
    }
}

/// The evidence a route needs before it moves forward.
public struct GateSettings: Sendable, Hashable {
    /// `shadow → gray`: at least this many compared requests in the window.
    public var minCompared: Int64
    /// `shadow → gray`: at most this share of compared requests really differing.
    public var maxDiffRate: Double
    /// `gray → drain → new`: at most this share of new's answers being errors (5xx or no answer).
    public var maxErrorRate: Double
    /// How far back the evidence is taken from.
    public var window: Duration

    public static let defaults = GateSettings(minCompared: 1000, maxDiffRate: 0.001, maxErrorRate: 0.01, window: .seconds(600))

    public init(minCompared: Int64, maxDiffRate: Double, maxErrorRate: Double, window: Duration) {
        self.minCompared = minCompared
        self.maxDiffRate = maxDiffRate
        self.maxErrorRate = maxErrorRate
        self.window = window
    }
}

/// When a route steps back one phase by itself: new's answers over a sliding window
/// breaching an error rate or a p99 latency, once enough requests were seen.
public struct AutoRollbackSettings: Sendable, Hashable {
    public var errorRate: Double?
    public var latencyP99: Duration?
    public var window: Duration
    public var minRequests: Int
    /// Called with a JSON description of the rollback (POST), if set.
    public var webhook: String?

    public init(errorRate: Double?, latencyP99: Duration?, window: Duration, minRequests: Int, webhook: String?) {
        self.errorRate = errorRate
        self.latencyP99 = latencyP99
        self.window = window
        self.minRequests = minRequests
        self.webhook = webhook
    }
}

/// How an ID-less list route is answered in phase `gray`: both backends are
/// asked for a page and the pages are merged by key.
public struct AggregateSettings: Sendable, Hashable {
    public enum Order: String, Sendable, Hashable, CaseIterable {
        case asc, desc
    }

    public enum OnPartial: String, Sendable, Hashable, CaseIterable {
        /// A side failing fails the request (502).
        case fail
        /// The side that answered is served, marked `X-Cutover-Partial`.
        case degrade
    }

    /// Where the list is in each answer.
    public var array: JSONPointer
    /// Where an item's key is, inside the item.
    public var key: JSONPointer
    public var order: Order
    /// The query parameter with the page size.
    public var limitParam: String
    /// The query parameter with the cursor (the client's composite one; each side's own last key).
    public var cursorParam: String
    /// Where the composite cursor goes in the merged answer.
    public var nextCursor: JSONPointer
    public var onPartial: OnPartial
    /// The page size when the client names none.
    public var defaultLimit: Int
    /// The largest page a client may ask for.
    public var maxLimit: Int

    public init(array: JSONPointer, key: JSONPointer, order: Order, limitParam: String, cursorParam: String,
                nextCursor: JSONPointer, onPartial: OnPartial, defaultLimit: Int, maxLimit: Int) {
        self.array = array
        self.key = key
        self.order = order
        self.limitParam = limitParam
        self.cursorParam = cursorParam
        self.nextCursor = nextCursor
        self.onPartial = onPartial
        self.defaultLimit = defaultLimit
        self.maxLimit = maxLimit
    }
}

extension IDSource {
    /// The ID in a request body (`from: body`): an integral JSON number or a string of digits at the pointer.
    public func id(inBody body: [UInt8]) -> Int64? {
        guard let pointer, let document = JSONDocument.parse(body), let value = document.root.value(at: pointer) else { return nil }
        return Self.id(of: value)
    }

    /// A JSON value as an ID: an integral number, or a string of digits.
    static func id(of value: JSONDocument.Value) -> Int64? {
        switch value.kind {
        case .number: return RoutingTable.parseID(value.text.utf8)
        case .string: return value.string.flatMap { RoutingTable.parseID($0.utf8) }
        default: return nil
        }
    }

    /// The ID in a header value (`from: header`), surrounding spaces ignored.
    public func id(inHeader value: Substring) -> Int64? {
        RoutingTable.parseID(value.trimmingCharacters(in: .whitespaces).utf8)
    }

    /// The highest ID an answer body names at `pointer`: one value, or, when the pointer crosses
    /// arrays (`/items/*/id`), every value it reaches.
    public static func maxID(in body: [UInt8], at pattern: JSONPointer) -> Int64? {
        guard let document = JSONDocument.parse(body) else { return nil }
        var best: Int64?
        func visit(_ value: JSONDocument.Value, _ tokens: ArraySlice<String>) {
            guard let token = tokens.first else {
                if let found = id(of: value), found > (best ?? .min) { best = found }
                return
            }
            if token == "*" {
                let children = value.kind == .array ? value.elements : value.members.map(\.value)
                for child in children { visit(child, tokens.dropFirst()) }
            } else if let child = value.value(at: JSONPointer(tokens: [token])) {
                visit(child, tokens.dropFirst())
            }
        }
        visit(document.root, pattern.tokens[...])
        return best
    }
}
