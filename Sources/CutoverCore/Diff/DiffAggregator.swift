/// Adds up compared pairs into the counts of a ``DiffBatch`` and picks the
/// samples to keep: at most `samplesPerField` per route and field in a batch.
public struct DiffAggregator: Sendable {
    /// The field counted when new failed to answer a copy.
    public static let errorField = "error"

    private let writer: String
    private let samplesPerField: Int
    private var sequence: Int64
    private var totals: [Key: (compared: Int64, notCompared: Int64)] = [:]
    private var fields: [FieldKey: (raw: Int64, noise: Int64)] = [:]
    private var fieldSets: [SetKey: Int64] = [:]
    private var samples: [DiffSample] = []
    private var sampled: [String: Int] = [:]

    private struct Key: Hashable { var route: String; var minute: Int64 }
    private struct FieldKey: Hashable { var route: String; var minute: Int64; var field: String }
    private struct SetKey: Hashable { var route: String; var minute: Int64; var fields: [String] }

    /// `writer` names this gateway instance in its batches; `firstSequence` continues its numbering.
    public init(writer: String, firstSequence: Int64 = 1, samplesPerField: Int = 2) {
        self.writer = writer
        self.sequence = firstSequence
        self.samplesPerField = samplesPerField
    }

    /// What one pair came to.
    public enum Outcome: Sendable {
        /// Both answered and were compared: the fields that differed (empty when equal).
        case compared(fields: [String])
        /// A body was too long to compare.
        case notCompared
        /// New gave no answer.
        case newFailed
    }

    /// Counts one pair. `noiseFields` are the fields two old instances differed in (nil: no baseline).
    /// `sample` builds the sample, and is called only when one is wanted.
    public mutating func add(route: String, minute: Int64, outcome: Outcome, noiseFields: [String]?, sample: () -> DiffSample) {
        let key = Key(route: route, minute: minute)
        var fieldsDiffering: [String] = []
        switch outcome {
        case .notCompared:
            totals[key, default: (0, 0)].notCompared += 1
            return
        case .compared(let differing):
            totals[key, default: (0, 0)].compared += 1
            fieldsDiffering = differing
        case .newFailed:
            totals[key, default: (0, 0)].compared += 1
            fieldsDiffering = [Self.errorField]
        }
        for field in fieldsDiffering {
            fields[FieldKey(route: route, minute: minute, field: field), default: (0, 0)].raw += 1
        }
        for field in noiseFields ?? [] {
            fields[FieldKey(route: route, minute: minute, field: field), default: (0, 0)].noise += 1
        }
        guard !fieldsDiffering.isEmpty else { return }
        fieldSets[SetKey(route: route, minute: minute, fields: fieldsDiffering.sorted()), default: 0] += 1
        let wanted = fieldsDiffering.filter { sampled[route + "\u{0}" + $0, default: 0] < samplesPerField }
        if !wanted.isEmpty {
            for field in fieldsDiffering { sampled[route + "\u{0}" + field, default: 0] += 1 }
            samples.append(sample())
        }
    }

    /// Whether anything was added since the last batch.
    public var isEmpty: Bool { totals.isEmpty && fields.isEmpty && samples.isEmpty }

    /// The counts and samples added since the last batch, as the next batch; nil when there are none.
    public mutating func takeBatch() -> DiffBatch? {
        guard !isEmpty else { return nil }
        let batch = DiffBatch(
            writer: writer, sequence: sequence,
            totals: totals.map { DiffTotal(route: $0.key.route, minute: $0.key.minute, compared: $0.value.compared, notCompared: $0.value.notCompared) },
            fields: fields.map { DiffFieldCount(route: $0.key.route, minute: $0.key.minute, field: $0.key.field, raw: $0.value.raw, noise: $0.value.noise) },
            fieldSets: fieldSets.map { DiffFieldSetCount(route: $0.key.route, minute: $0.key.minute, fields: $0.key.fields, count: $0.value) },
            samples: samples)
        sequence += 1
        totals = [:]
        fields = [:]
        fieldSets = [:]
        samples = []
        sampled = [:]
        return batch
    }
}
