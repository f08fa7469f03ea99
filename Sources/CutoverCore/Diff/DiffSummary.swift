/// The report a reviewer reads for a route: how many requests were compared,
/// how many really differed, how many differed only in noise, and per field
/// whether it is a real difference or noise.
public struct RouteSummary: Sendable, Hashable, Codable {
    public var route: String
    /// Pairs compared.
    public var compared: Int64
    /// Requests with at least one difference in a field that is neither ignored nor noise.
    public var differing: Int64
    /// Requests whose differences were all noise.
    public var noise: Int64
    /// `differing / compared` (0 when nothing was compared).
    public var diffRate: Double
    /// Pairs whose bodies were too long to compare.
    public var notCompared: Int64
    /// Every field that differed, real differences first, then by count.
    public var fields: [FieldSummary]

    enum CodingKeys: String, CodingKey {
        case route, compared, differing, noise, fields
        case diffRate = "diff_rate"
        case notCompared = "not_compared"
    }

    /// Builds a route's report from its counts under its noise thresholds;
    /// `examples` gives a difference for fields that have one.
    public init(counts: RouteDiffCounts, thresholds: NoiseThresholds, examples: [String: FieldDifference] = [:]) {
        route = counts.route
        compared = counts.compared
        notCompared = counts.notCompared
        var real: Set<String> = []
        var fields: [FieldSummary] = []
        for (field, count) in counts.fields {
            let isReal = thresholds.isReal(raw: Int(count.raw), noise: Int(count.noise), compared: Int(counts.compared))
            if isReal { real.insert(field) }
            fields.append(FieldSummary(path: field, verdict: isReal ? .difference : .noise, differing: count.raw,
                                       noise: count.noise, example: examples[field]))
        }
        self.fields = fields.sorted {
            ($0.verdict == .difference ? 0 : 1, -$0.differing, $0.path) < ($1.verdict == .difference ? 0 : 1, -$1.differing, $1.path)
        }
        var differing: Int64 = 0, noise: Int64 = 0
        for (set, count) in counts.fieldSets where !set.isEmpty {
            if set.contains(where: real.contains) { differing += count } else { noise += count }
        }
        self.differing = differing
        self.noise = noise
        self.diffRate = compared > 0 ? Double(differing) / Double(compared) : 0
    }
}

/// One field of a route's report.
public struct FieldSummary: Sendable, Hashable, Codable {
    /// Whether the field counts as a real difference.
    public enum Verdict: String, Sendable, Hashable, Codable {
        case difference, noise
    }

    /// The field (`status`, `header:NAME`, `body` or a JSON pointer with `*`).
    public var path: String
    public var verdict: Verdict
    /// Requests where old and new differed in this field.
    public var differing: Int64
    /// Requests where two old instances differed in this field.
    public var noise: Int64
    /// A recent difference in this field.
    public var example: FieldDifference?
}
