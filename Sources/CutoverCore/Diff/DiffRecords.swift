import Foundation

/// What the comparator hands to the store in one go: counts to add and samples
/// to keep. Counts are additive, so batches can be merged; `writer` and
/// `sequence` make a retried batch count once.
public struct DiffBatch: Sendable, Hashable {
    /// The writing gateway instance.
    public var writer: String
    /// The batch's number for this writer, increasing.
    public var sequence: Int64
    /// Pairs compared per route and minute.
    public var totals: [DiffTotal]
    /// Per route, minute and field: requests where old and new differed (raw) and where two old instances did (noise).
    public var fields: [DiffFieldCount]
    /// Per route and minute: how many requests differed in exactly this set of fields.
    public var fieldSets: [DiffFieldSetCount]
    /// Example pairs with differences.
    public var samples: [DiffSample]

    public init(writer: String, sequence: Int64, totals: [DiffTotal] = [], fields: [DiffFieldCount] = [],
                fieldSets: [DiffFieldSetCount] = [], samples: [DiffSample] = []) {
        self.writer = writer
        self.sequence = sequence
        self.totals = totals
        self.fields = fields
        self.fieldSets = fieldSets
        self.samples = samples
    }

    /// Whether the batch carries nothing.
    public var isEmpty: Bool { totals.isEmpty && fields.isEmpty && fieldSets.isEmpty && samples.isEmpty }
}

/// Pairs compared on a route in one minute.
public struct DiffTotal: Sendable, Hashable {
    public var route: String
    /// Minutes since 1970.
    public var minute: Int64
    /// Pairs whose answers were compared.
    public var compared: Int64
    /// Pairs whose bodies were too long to compare.
    public var notCompared: Int64

    public init(route: String, minute: Int64, compared: Int64, notCompared: Int64) {
        self.route = route
        self.minute = minute
        self.compared = compared
        self.notCompared = notCompared
    }
}

/// How often a field differed on a route in one minute.
public struct DiffFieldCount: Sendable, Hashable {
    public var route: String
    public var minute: Int64
    public var field: String
    /// Requests where old and new differed in the field.
    public var raw: Int64
    /// Requests where two old instances differed in the field.
    public var noise: Int64

    public init(route: String, minute: Int64, field: String, raw: Int64, noise: Int64) {
        self.route = route
        self.minute = minute
        self.field = field
        self.raw = raw
        self.noise = noise
    }
}

/// How many requests on a route differed (old against new) in exactly a set of fields in one minute.
public struct DiffFieldSetCount: Sendable, Hashable {
    public var route: String
    public var minute: Int64
    /// The fields, sorted.
    public var fields: [String]
    public var count: Int64

    public init(route: String, minute: Int64, fields: [String], count: Int64) {
        self.route = route
        self.minute = minute
        self.fields = fields
        self.count = count
    }
}

/// An example pair kept for reviewers: the request, both answers (redacted) and their differences.
public struct DiffSample: Sendable, Hashable, Codable {
    /// The store's ID, once stored.
    public var id: Int64?
    public var route: String
    /// When the request was answered, in milliseconds since 1970.
    public var time: Int64
    public var requestID: String
    public var request: SampleRequest
    public var old: SampleResponse
    /// New's answer; nil when new failed (see `newError`).
    public var new: SampleResponse?
    /// Why new gave no answer (connect failure, timeout…).
    public var newError: String?
    public var differences: [FieldDifference]

    public init(id: Int64? = nil, route: String, time: Int64, requestID: String, request: SampleRequest, old: SampleResponse,
                new: SampleResponse?, newError: String?, differences: [FieldDifference]) {
        self.id = id
        self.route = route
        self.time = time
        self.requestID = requestID
        self.request = request
        self.old = old
        self.new = new
        self.newError = newError
        self.differences = differences
    }

    /// The distinct fields of the differences, sorted.
    public var fields: [String] { Array(Set(differences.map(\.field))).sorted() }

    enum CodingKeys: String, CodingKey {
        case id, route, time, request, old, new, differences
        case requestID = "request_id"
        case newError = "new_error"
    }
}

/// The request of a sample: its line and (redacted) headers.
public struct SampleRequest: Sendable, Hashable, Codable {
    public var method: String
    public var target: String
    public var headers: [CapturedResponse.Header]

    public init(method: String, target: String, headers: [CapturedResponse.Header]) {
        self.method = method
        self.target = target
        self.headers = headers
    }
}

/// One side's answer in a sample.
public struct SampleResponse: Sendable, Hashable, Codable {
    public var status: Int
    public var headers: [CapturedResponse.Header]
    /// The body as text (UTF-8), or base64 when `base64` is set.
    public var body: String
    public var base64: Bool
    /// Whether the body was longer than what was kept.
    public var truncated: Bool

    public init(status: Int, headers: [CapturedResponse.Header], body: String, base64: Bool, truncated: Bool) {
        self.status = status
        self.headers = headers
        self.body = body
        self.base64 = base64
        self.truncated = truncated
    }

    /// A captured response as a sample keeps it.
    public init(_ response: CapturedResponse) {
        status = response.status
        headers = response.headers
        truncated = response.truncated
        if let text = String(validating: response.body, as: UTF8.self) {
            body = text
            base64 = false
        } else {
            body = Data(response.body).base64EncodedString()
            base64 = true
        }
    }
}

/// Where the comparator's batches go: the store.
public protocol DiffRecorder: Sendable {
    /// Adds a batch's counts and keeps its samples, all or nothing; a batch whose
    /// (writer, sequence) was already recorded is skipped.
    func record(_ batch: DiffBatch) async throws
}

/// A route's counts over a time range, as the store adds them up.
public struct RouteDiffCounts: Sendable, Hashable {
    public var route: String
    public var compared: Int64
    public var notCompared: Int64
    /// Per field: raw and noise counts.
    public var fields: [String: FieldCounts]
    /// Per set of differing fields (sorted): how many requests differed in exactly that set.
    public var fieldSets: [[String]: Int64]

    /// A field's counts.
    public struct FieldCounts: Sendable, Hashable {
        public var raw: Int64
        public var noise: Int64
        public init(raw: Int64, noise: Int64) {
            self.raw = raw
            self.noise = noise
        }
    }

    public init(route: String, compared: Int64 = 0, notCompared: Int64 = 0, fields: [String: FieldCounts] = [:],
                fieldSets: [[String]: Int64] = [:]) {
        self.route = route
        self.compared = compared
        self.notCompared = notCompared
        self.fields = fields
        self.fieldSets = fieldSets
    }
}
