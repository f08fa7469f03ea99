import CutoverCore
import Foundation
import Logging
import PostgresNIO

/// How a run goes.
public struct ReconcileOptions: Sendable {
    /// Stop a table once this many differences are found (the report says it stopped early).
    public var maxDifferences: Int?
    /// About how many rows one bucket of the first pass holds.
    public var bucketRows: Int
    /// Buckets with at most this many rows are compared row by row; larger ones are split again.
    public var fetchLimit: Int
    /// Called as buckets are settled: the table, buckets done, buckets to do.
    public var progress: (@Sendable (String, Int, Int) -> Void)?
    /// Where interrupted table pairs pick up.
    public var resume: [String: ReconcileCheckpoint]
    /// Called (at most once a second per pair) with where a pair got to, to be kept for a resume.
    public var checkpoint: (@Sendable (String, ReconcileCheckpoint) async throws -> Void)?
    /// Called as each pair is done.
    public var finished: (@Sendable (TableReport) async throws -> Void)?
    /// When set, the first pass runs in chunks of buckets sized to take about this long each,
    /// resting as long between chunks: the source databases are busy at most half the time.
    public var chunkTime: Duration?

    public init(maxDifferences: Int? = nil, bucketRows: Int = 512, fetchLimit: Int = 4096,
                progress: (@Sendable (String, Int, Int) -> Void)? = nil, resume: [String: ReconcileCheckpoint] = [:],
                checkpoint: (@Sendable (String, ReconcileCheckpoint) async throws -> Void)? = nil,
                finished: (@Sendable (TableReport) async throws -> Void)? = nil, chunkTime: Duration? = nil) {
        self.maxDifferences = maxDifferences
        self.bucketRows = bucketRows
        self.fetchLimit = fetchLimit
        self.progress = progress
        self.resume = resume
        self.checkpoint = checkpoint
        self.finished = finished
        self.chunkTime = chunkTime
    }
}

/// Compares the old and the new database table by table. Each side is read in
/// one read-only snapshot, both at once: key quantiles cut the key range into
/// buckets; one pass per side returns each bucket's row count and hash; only
/// buckets that differ are looked into, split again while large, and compared
/// row by row in key order once small.
public struct Reconciler: Sendable {
    public let settings: ReconcileSettings
    public let logger: Logger

    public init(settings: ReconcileSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// Compares the given tables (all configured ones when nil); fails with ``ReconcileError`` on bad input.
    public func run(tables names: [String]? = nil, options: ReconcileOptions = ReconcileOptions()) async throws -> [TableReport] {
        var options = options
        if options.chunkTime == nil { options.chunkTime = settings.chunkTime }
        var tables = settings.tables
        if let names {
            for name in names where !tables.contains(where: { $0.name == name }) {
                throw ReconcileError.badInput("no table pair named '\(name)'; configured: \(tables.map(\.name).joined(separator: ", "))")
            }
            tables = tables.filter { names.contains($0.name) }
        }
        async let openedOld = ReconcileSide.open(name: "old", url: settings.old, logger: logger)
        async let openedNew = ReconcileSide.open(name: "new", url: settings.new, logger: logger)
        let old: ReconcileSide, new: ReconcileSide
        do {
            old = try await openedOld
        } catch {
            if let new = try? await openedNew { await new.close() }
            throw error
        }
        do {
            new = try await openedNew
        } catch {
            await old.close()
            throw error
        }
        do {
            // Check every pair before comparing any, so bad input changes nothing and costs nothing.
            var plans: [TablePlan] = []
            for table in tables { plans.append(try await TablePlan.make(table, old: old, new: new)) }
            var reports: [TableReport] = []
            for plan in plans {
                let report = try await TableRun(plan: plan, old: old, new: new, options: options, logger: logger).run()
                try await options.finished?(report)
                reports.append(report)
            }
            await old.close()
            await new.close()
            return reports
        } catch {
            await old.close()
            await new.close()
            throw error
        }
    }
}

/// One table pair's comparison.
final class TableRun: @unchecked Sendable {
    let plan: TablePlan
    let old: ReconcileSide
    let new: ReconcileSide
    let options: ReconcileOptions
    let logger: Logger
    var differences: [RowDifference] = []
    /// Set where work is left unread because the limit was reached (reaching it exactly with nothing left is not
    /// stopping early).
    var stoppedEarly = false

    init(plan: TablePlan, old: ReconcileSide, new: ReconcileSide, options: ReconcileOptions, logger: Logger) {
        self.plan = plan
        self.old = old
        self.new = new
        self.options = options
        self.logger = logger
    }

    /// Logs how long a step took, at debug level.
    func timed<T>(_ step: String, _ body: () async throws -> T) async rethrows -> T {
        let started = ContinuousClock.now
        let result = try await body()
        logger.debug("reconcile step", metadata: ["table": "\(plan.table.name)", "step": "\(step)", "elapsed": "\(ContinuousClock.now - started)"])
        return result
    }

    struct Bucket: Equatable {
        var count: Int64
        var hash: Int64
    }

    func run() async throws -> TableReport {
        let started = ContinuousClock.now
        let resumed = options.resume[plan.table.name]
        let thresholds: [KeyBound]
        if let resumed {
            thresholds = resumed.thresholds
            differences = resumed.differences
        } else {
            let estimate = try await timed("estimate") { try await estimateRows() }
            let targetBuckets = max(1, min(65_536, Int(estimate / Int64(max(options.bucketRows, 1)))))
            thresholds = targetBuckets <= 1 ? [] : try await timed("sample") {
                try await sampleThresholds(buckets: targetBuckets, estimate: estimate)
            }
        }
        let (oldBuckets, newBuckets) = try await timed("hash pass") {
            if let chunkTime = options.chunkTime, chunkTime > .zero { return try await throttledPass(thresholds: thresholds, chunkTime: chunkTime) }
            async let oldPass = hashPass(old, .old, thresholds: thresholds, lower: nil, upper: nil)
            async let newPass = hashPass(new, .new, thresholds: thresholds, lower: nil, upper: nil)
            return try await (oldPass, newPass)
        }
        let settledBefore = resumed?.settledThrough ?? -1
        let differing = Set(oldBuckets.keys).union(newBuckets.keys)
            .filter { $0 > settledBefore && oldBuckets[$0] != newBuckets[$0] }.sorted()
        var lastCheckpoint = ContinuousClock.now
        func checkpoint(through bucket: Int) async throws {
            guard let save = options.checkpoint, ContinuousClock.now - lastCheckpoint >= .seconds(1) else { return }
            lastCheckpoint = ContinuousClock.now
            try await save(plan.table.name, ReconcileCheckpoint(thresholds: thresholds, settledThrough: bucket, differences: differences))
        }
        options.progress?(plan.table.name, 0, differing.count)
        let drillStarted = ContinuousClock.now
        defer { logger.debug("reconcile step", metadata: ["table": "\(plan.table.name)", "step": "differing buckets",
                                                          "buckets": "\(differing.count)", "elapsed": "\(ContinuousClock.now - drillStarted)"]) }
        // Small buckets are compared row by row, many ranges to a query; large ones are split first.
        var small: [(KeyBound?, KeyBound?)] = []
        var smallLast = settledBefore
        var done = 0
        func flushSmall() async throws {
            guard !small.isEmpty else { return }
            try await settleSmall(small)
            done += small.count
            small.removeAll()
            options.progress?(plan.table.name, done, differing.count)
            try await checkpoint(through: smallLast)
        }
        for bucket in differing {
            guard !limitReached else {
                stoppedEarly = true
                break
            }
            let range = bounds(of: bucket, in: thresholds, lower: nil, upper: nil)
            let rows = max(oldBuckets[bucket]?.count ?? 0, newBuckets[bucket]?.count ?? 0)
            if rows <= Int64(options.fetchLimit) {
                small.append(range)
                smallLast = bucket
                if small.count >= Self.rangesPerQuery { try await flushSmall() }
            } else {
                // Settle the small ones before it, so a checkpoint covers every bucket up to this one.
                try await flushSmall()
                try await settle(lower: range.0, upper: range.1, rows: rows, depth: 0)
                done += 1
                options.progress?(plan.table.name, done, differing.count)
                try await checkpoint(through: bucket)
            }
        }
        if !limitReached { try await flushSmall() } else if !small.isEmpty { stoppedEarly = true }
        differences.sort { compareKeys($0.key.map(\.value), $1.key.map(\.value)) }
        if let limit = options.maxDifferences, differences.count > limit {
            differences.removeLast(differences.count - limit)
            stoppedEarly = true
        }
        let elapsed = ContinuousClock.now - started
        return TableReport(
            table: plan.table.name, old: plan.table.old, new: plan.table.new,
            oldRows: oldBuckets.values.reduce(0) { $0 + $1.count }, newRows: newBuckets.values.reduce(0) { $0 + $1.count },
            stoppedEarly: stoppedEarly, differences: differences,
            seconds: Self.seconds(elapsed))
    }

    /// How many key ranges one row query reads (an OR of index range scans).
    static let rangesPerQuery = 64

    var limitReached: Bool {
        guard let limit = options.maxDifferences else { return false }
        return differences.count >= limit
    }

    // MARK: - Buckets

    /// The planner's row count of the old table (or a count when it has none), the larger of both sides.
    func estimateRows() async throws -> Int64 {
        func estimate(_ side: ReconcileSide, _ which: TablePlan.Side) async throws -> Int64 {
            var binds = PostgresBindings()
            binds.append(which == .old ? plan.table.old : plan.table.new)
            let rows = try await side.run("SELECT reltuples::int8 FROM pg_class WHERE oid = to_regclass($1)", binds)
            let value = try rows.first?.decode(Int64.self) ?? -1
            if value >= 0 { return value }
            return try await side.run("SELECT count(*)::int8 FROM \(plan.relation(which))").first?.decode(Int64.self) ?? 0
        }
        async let oldEstimate = estimate(old, .old)
        async let newEstimate = estimate(new, .new)
        return try await max(oldEstimate, newEstimate)
    }

    /// Bucket bounds at key quantiles of a random sample of old's rows (all keys of a small table),
    /// so gaps in the keys cost nothing.
    func sampleThresholds(buckets: Int, estimate: Int64) async throws -> [KeyBound] {
        if plan.keyKind == .integer, let fromStatistics = try await statisticsThresholds(buckets: buckets) { return fromStatistics }
        let key = plan.bucketKey(.old)
        let perBucket = 8
        let wanted = buckets * perBucket
        let sql: String
        if estimate <= Int64(wanted) * 2 {
            sql = "SELECT \(key) FROM \(plan.oldRelation) WHERE \(plan.whereOld) ORDER BY 1"
        } else {
            let percent = min(100.0, 100.0 * Double(wanted) / Double(estimate))
            sql = "SELECT \(key) FROM \(plan.oldRelation) TABLESAMPLE BERNOULLI (\(percent)) REPEATABLE (7) WHERE \(plan.whereOld) ORDER BY 1"
        }
        let keys = try await old.run(sql).compactMap { try decodeBound($0) }
        guard keys.count > 1 else { return [] }
        let step = max(1, keys.count / buckets)
        var thresholds: [KeyBound] = []
        var index = step
        while index < keys.count {
            if thresholds.last != keys[index] { thresholds.append(keys[index]) }
            index += step
        }
        return thresholds
    }

    /// For an integer key, bucket bounds interpolated between the quantiles PostgreSQL's statistics
    /// already hold (`pg_stats.histogram_bounds` of old's key column), which saves reading a sample.
    /// Stale statistics only make buckets uneven (large ones are split when they differ); nil without statistics.
    func statisticsThresholds(buckets: Int) async throws -> [KeyBound]? {
        var binds = PostgresBindings()
        binds.append(plan.table.old)
        binds.append(plan.keys[0].old)
        let rows = try await old.run("""
            SELECT s.histogram_bounds::text::int8[] FROM pg_stats s
            JOIN pg_class c ON c.relname = s.tablename JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
            WHERE c.oid = to_regclass($1) AND s.attname = $2 AND s.histogram_bounds IS NOT NULL
            """, binds)
        guard let bounds = try rows.first?.decode([Int64].self), bounds.count >= 3 else { return nil }
        var thresholds: [KeyBound] = []
        let perSpan = max(1, Double(buckets) / Double(bounds.count - 1))
        for index in 0..<(bounds.count - 1) {
            let (low, high) = (Double(bounds[index]), Double(bounds[index + 1]))
            let steps = max(1, Int(perSpan.rounded()))
            for step in 0..<steps {
                let value = Int64((low + (high - low) * Double(step) / Double(steps)).rounded(.down))
                if thresholds.last.map({ if case .integer(let last) = $0 { last < value } else { true } }) ?? true {
                    thresholds.append(.integer(value))
                }
            }
        }
        if case .integer(let last) = thresholds.last, last < bounds[bounds.count - 1] { thresholds.append(.integer(bounds[bounds.count - 1])) }
        return thresholds
    }

    /// Count and hash per bucket of one side, within [lower, upper).
    func hashPass(_ side: ReconcileSide, _ which: TablePlan.Side, thresholds: [KeyBound], lower: KeyBound?, upper: KeyBound?)
        async throws -> [Int: Bucket]
    {
        try await hashPass(side, which, thresholds: thresholds, ranges: [(lower, upper)])
    }

    /// Count and hash per bucket of one side, within the given (disjoint) ranges.
    func hashPass(_ side: ReconcileSide, _ which: TablePlan.Side, thresholds: [KeyBound], ranges: [(KeyBound?, KeyBound?)])
        async throws -> [Int: Bucket]
    {
        var binds = PostgresBindings()
        let key = plan.bucketKey(which)
        appendArray(thresholds, to: &binds)
        let range = rangesCondition(key, ranges, binds: &binds)
        let arrayType = plan.keyKind == .integer ? "int8[]" : "text[]"
        // The planner guesses a group per row for width_bucket(): with the transaction's work_mem it then sorts the
        // whole table (to disk) for a group aggregate, which took twice the hashing itself (2M rows: 3.0 s against
        // 1.5 s). The buckets are a few thousand: hashed aggregation, with sorting ruled out for this statement.
        try await side.run("SET LOCAL enable_sort = off")
        let rows = try await side.run("""
            SELECT width_bucket(\(key), $1::\(arrayType)), count(*)::int8, coalesce(bit_xor(\(plan.rowHash(which))), 0)::int8
            FROM \(plan.relation(which)) WHERE \(plan.filter(which))\(range) GROUP BY 1
            """, binds)
        try await side.run("SET LOCAL enable_sort TO DEFAULT")
        var buckets: [Int: Bucket] = [:]
        for row in rows {
            let (bucket, count, hash) = try row.decode((Int32, Int64, Int64).self)
            buckets[Int(bucket)] = Bucket(count: count, hash: hash)
        }
        return buckets
    }

    /// The first pass in chunks of consecutive buckets, each sized to take about `chunkTime`, with a rest as long after each.
    func throttledPass(thresholds: [KeyBound], chunkTime: Duration) async throws -> ([Int: Bucket], [Int: Bucket]) {
        var oldBuckets: [Int: Bucket] = [:], newBuckets: [Int: Bucket] = [:]
        let count = thresholds.count + 1
        var start = 0
        var span = max(1, count / 64)
        while start < count {
            let end = min(count, start + span)
            let lower = start == 0 ? nil : thresholds[start - 1]
            let upper = end == count ? nil : thresholds[end - 1]
            let inner = Array(thresholds[start..<max(start, end - 1)])
            let began = ContinuousClock.now
            async let oldPass = hashPass(old, .old, thresholds: inner, lower: lower, upper: upper)
            async let newPass = hashPass(new, .new, thresholds: inner, lower: lower, upper: upper)
            let (oldPart, newPart) = try await (oldPass, newPass)
            for (index, bucket) in oldPart { oldBuckets[start + index] = bucket }
            for (index, bucket) in newPart { newBuckets[start + index] = bucket }
            let took = ContinuousClock.now - began
            start = end
            let ratio = max(0.5, min(2.0, Self.seconds(chunkTime) / max(Self.seconds(took), 1e-6)))
            span = max(1, Int(Double(span) * ratio))
            if start < count { try await Task.sleep(for: took) }
        }
        return (oldBuckets, newBuckets)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// The bounds of bucket `index` of `thresholds` inside [lower, upper).
    func bounds(of index: Int, in thresholds: [KeyBound], lower: KeyBound?, upper: KeyBound?) -> (KeyBound?, KeyBound?) {
        (index == 0 ? lower : thresholds[index - 1], index == thresholds.count ? upper : thresholds[index])
    }

    /// Finds the differences in [lower, upper): row by row when small, else split and hashed again.
    func settle(lower: KeyBound?, upper: KeyBound?, rows: Int64, depth: Int) async throws {
        if rows <= Int64(options.fetchLimit) || depth >= 3 {
            try await compareRows(ranges: [(lower, upper)])
            return
        }
        let parts = Int(min(256, max(2, rows / Int64(max(options.fetchLimit / 2, 1)))))
        let thresholds = try await splitThresholds(lower: lower, upper: upper, rows: rows, parts: parts)
        guard !thresholds.isEmpty else {
            try await compareRows(ranges: [(lower, upper)])
            return
        }
        async let oldPass = hashPass(old, .old, thresholds: thresholds, lower: lower, upper: upper)
        async let newPass = hashPass(new, .new, thresholds: thresholds, lower: lower, upper: upper)
        let (oldBuckets, newBuckets) = try await (oldPass, newPass)
        var small: [(KeyBound?, KeyBound?)] = []
        for bucket in Set(oldBuckets.keys).union(newBuckets.keys).sorted() where oldBuckets[bucket] != newBuckets[bucket] {
            let range = bounds(of: bucket, in: thresholds, lower: lower, upper: upper)
            let subRows = max(oldBuckets[bucket]?.count ?? 0, newBuckets[bucket]?.count ?? 0)
            if subRows <= Int64(options.fetchLimit) {
                small.append(range)
            } else {
                guard !limitReached else { stoppedEarly = true; return }
                try await settle(lower: range.0, upper: range.1, rows: subRows, depth: depth + 1)
            }
        }
        for start in stride(from: 0, to: small.count, by: Self.rangesPerQuery) {
            guard !limitReached else { stoppedEarly = true; return }
            try await settleSmall(Array(small[start..<min(start + Self.rangesPerQuery, small.count)]))
        }
    }

    /// Keys at even steps through [lower, upper) on old (a large range is large on old, or on new: ask the larger).
    func splitThresholds(lower: KeyBound?, upper: KeyBound?, rows: Int64, parts: Int) async throws -> [KeyBound] {
        var binds = PostgresBindings()
        let key = plan.bucketKey(.old)
        let stride = max(1, rows / Int64(parts))
        binds.append(stride)
        let range = rangeCondition(key, lower: lower, upper: upper, binds: &binds)
        let keys = try await old.run("""
            SELECT k FROM (SELECT \(key) AS k, row_number() OVER (ORDER BY \(key)) AS r FROM \(plan.oldRelation)
              WHERE \(plan.whereOld)\(range)) s WHERE r % $1 = 0 ORDER BY 1
            """, binds).compactMap { try decodeBound($0) }
        var thresholds: [KeyBound] = []
        for key in keys where thresholds.last != key && key != lower { thresholds.append(key) }
        return thresholds
    }

    /// Settles small differing ranges: for integer keys each closed range is cut into about 16 parts
    /// at evenly spaced keys and hashed again (one query per side for all of them), so only the
    /// parts that differ are read row by row; other ranges are read whole.
    func settleSmall(_ ranges: [(KeyBound?, KeyBound?)]) async throws {
        var closed: [(Int64, Int64)] = []
        var open: [(KeyBound?, KeyBound?)] = []
        for range in ranges {
            if plan.keyKind == .integer, case .integer(let lower)? = range.0, case .integer(let upper)? = range.1, upper - lower >= 32 {
                closed.append((lower, upper))
            } else {
                open.append(range)
            }
        }
        if !open.isEmpty { try await compareRows(ranges: open) }
        guard !closed.isEmpty else { return }
        guard !limitReached else { stoppedEarly = true; return }
        var thresholds: [KeyBound] = []
        for (lower, upper) in closed {
            let step = max(1, (upper - lower) / 16)
            var value = lower
            while value < upper {
                thresholds.append(.integer(value))
                value += step
            }
            thresholds.append(.integer(upper))
        }
        // Neighbouring ranges share a bound: keep the thresholds strictly increasing.
        var increasing: [KeyBound] = []
        for bound in thresholds where increasing.last != bound { increasing.append(bound) }
        let strict = increasing
        let within = closed.map { (KeyBound.integer($0.0), KeyBound.integer($0.1)) }
        async let oldPass = hashPass(old, .old, thresholds: strict, ranges: within)
        async let newPass = hashPass(new, .new, thresholds: strict, ranges: within)
        let (oldParts, newParts) = try await (oldPass, newPass)
        let differing = Set(oldParts.keys).union(newParts.keys).filter { oldParts[$0] != newParts[$0] }.sorted()
        let parts = differing.map { bounds(of: $0, in: strict, lower: nil, upper: nil) }
        for start in stride(from: 0, to: parts.count, by: Self.rangesPerQuery) {
            guard !limitReached else { stoppedEarly = true; return }
            try await compareRows(ranges: Array(parts[start..<min(start + Self.rangesPerQuery, parts.count)]))
        }
    }

    // MARK: - Rows

    typealias Row = (key: [String?], values: [String?])

    func fetch(_ side: ReconcileSide, _ which: TablePlan.Side, ranges: [(KeyBound?, KeyBound?)]) async throws -> [Row] {
        var binds = PostgresBindings()
        let range = rangesCondition(plan.bucketKey(which), ranges, binds: &binds)
        let columns = plan.keyTexts(which) + plan.columns.map { which == .old ? $0.fetchOld : $0.fetchNew }
        let rows = try await side.run("""
            SELECT \(columns.joined(separator: ", ")) FROM \(plan.relation(which))
            WHERE \(plan.filter(which))\(range) ORDER BY \(plan.order(which))
            """, binds)
        let keyCount = plan.keys.count
        return try rows.map { row in
            var values: [String?] = []
            values.reserveCapacity(columns.count)
            for cell in row { values.append(try cell.decode(String?.self)) }
            return (Array(values[..<keyCount]), Array(values[keyCount...]))
        }
    }

    /// Compares the rows of the given key ranges (disjoint) on both sides in key order.
    func compareRows(ranges: [(KeyBound?, KeyBound?)]) async throws {
        async let oldRows = fetch(old, .old, ranges: ranges)
        async let newRows = fetch(new, .new, ranges: ranges)
        let (olds, news) = try await (oldRows, newRows)
        var i = 0, j = 0
        while i < olds.count || j < news.count {
            if j >= news.count || (i < olds.count && compareKeys(olds[i].key, news[j].key)) {
                record(RowDifference(key: keyValues(olds[i].key), kind: .missing))
                i += 1
            } else if i >= olds.count || compareKeys(news[j].key, olds[i].key) {
                record(RowDifference(key: keyValues(news[j].key), kind: .extra))
                j += 1
            } else {
                var changed: [ColumnDifference] = []
                for (index, column) in plan.columns.enumerated() {
                    let (a, b) = (olds[i].values[index], news[j].values[index])
                    if !Self.equal(a, b, column.rules) {
                        changed.append(ColumnDifference(column: column.label, newColumn: column.newLabel,
                                                        old: column.redacted && a != nil ? "[redacted]" : a,
                                                        new: column.redacted && b != nil ? "[redacted]" : b))
                    }
                }
                if !changed.isEmpty { record(RowDifference(key: keyValues(olds[i].key), kind: .changed, columns: changed)) }
                i += 1
                j += 1
            }
        }
    }

    func record(_ difference: RowDifference) {
        differences.append(difference)
    }

    func keyValues(_ values: [String?]) -> [KeyValue] {
        zip(plan.keys, values).map { KeyValue(column: $0.label, value: $1) }
    }

    /// Whether key `a` sorts before key `b` as the databases order them (the first column by value when an integer, else bytes).
    func compareKeys(_ a: [String?], _ b: [String?]) -> Bool {
        for index in 0..<min(a.count, b.count) {
            let (x, y) = (a[index], b[index])
            if x == y { continue }
            guard let x else { return false }
            guard let y else { return true }
            if index == 0, plan.keyKind == .integer, let xi = Int64(x), let yi = Int64(y) { return xi < yi }
            return Array(x.utf8).lexicographicallyPrecedes(Array(y.utf8))
        }
        return false
    }

    /// Whether two values (as text) are equal under a column's rules.
    static func equal(_ a: String?, _ b: String?, _ rules: ColumnRules) -> Bool {
        if a == b { return true }
        guard var a, var b else { return false }
        if let tolerance = rules.floatTolerance, let x = Double(a), let y = Double(b) {
            return abs(x - y) <= tolerance * (1 + 1e-9)
        }
        if rules.trimWhitespace {
            a = a.trimmingCharacters(in: .whitespacesAndNewlines)
            b = b.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if rules.ignoreCase {
            a = a.lowercased()
            b = b.lowercased()
        }
        return a == b
    }

    // MARK: - SQL pieces

    func decodeBound(_ row: PostgresRow) throws -> KeyBound? {
        switch plan.keyKind {
        case .integer: return try row.decode(Int64?.self).map(KeyBound.integer)
        case .text: return try row.decode(String?.self).map(KeyBound.text)
        }
    }

    func appendArray(_ bounds: [KeyBound], to binds: inout PostgresBindings) {
        switch plan.keyKind {
        case .integer: binds.append(bounds.compactMap { if case .integer(let value) = $0 { value } else { nil } })
        case .text: binds.append(bounds.compactMap { if case .text(let value) = $0 { value } else { nil } })
        }
    }

    func append(_ bound: KeyBound, to binds: inout PostgresBindings) {
        switch bound {
        case .integer(let value): binds.append(value)
        case .text(let value): binds.append(value)
        }
    }

    /// ` AND ((range) OR (range)…)` for several ranges (nothing for one open on both ends).
    func rangesCondition(_ key: String, _ ranges: [(KeyBound?, KeyBound?)], binds: inout PostgresBindings) -> String {
        if ranges.count == 1 { return rangeCondition(key, lower: ranges[0].0, upper: ranges[0].1, binds: &binds) }
        let conditions = ranges.map { lower, upper -> String in
            let condition = rangeCondition(key, lower: lower, upper: upper, binds: &binds)
            return condition.isEmpty ? "TRUE" : String(condition.dropFirst(" AND ".count))
        }
        return " AND (" + conditions.map { "(\($0))" }.joined(separator: " OR ") + ")"
    }

    /// ` AND key >= $n AND key < $m` for the bounds given, their values appended to `binds`.
    func rangeCondition(_ key: String, lower: KeyBound?, upper: KeyBound?, binds: inout PostgresBindings) -> String {
        var condition = ""
        let cast = plan.keyKind == .integer ? "::int8" : "::text"
        if let lower {
            append(lower, to: &binds)
            condition += " AND \(key) >= $\(binds.count)\(cast)"
        }
        if let upper {
            append(upper, to: &binds)
            condition += " AND \(key) < $\(binds.count)\(cast)"
        }
        return condition
    }
}
