import CutoverCore
import Foundation
import SQLKit

/// The comparator's tables: additive counts per route and minute, and the most
/// recent samples per route and field.
extension Store {
    public func record(_ batch: DiffBatch) async throws {
        guard !batch.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let samples = try batch.samples.map { sample in
            (sample, try Self.encode(encoder, sample.request), try Self.encode(encoder, sample.old),
             try sample.new.map { try Self.encode(encoder, $0) }, try Self.encode(encoder, sample.differences))
        }
        let keep = Int64(samplesPerField)
        try await database.withTransaction { session in
            // A batch that was already recorded (a retry after an unclear failure) counts once.
            let fresh = try await session.run(
                "INSERT INTO diff_batches (writer, seq) VALUES (\(bind: batch.writer), \(bind: batch.sequence)) ON CONFLICT (writer, seq) DO NOTHING RETURNING seq")
            guard !fresh.isEmpty else { return }
            for total in batch.totals {
                try await session.run("""
                    INSERT INTO diff_totals (route, minute, compared, not_compared) VALUES (\(bind: total.route), \(bind: total.minute), \(bind: total.compared), \(bind: total.notCompared))
                    ON CONFLICT (route, minute) DO UPDATE SET compared = diff_totals.compared + excluded.compared,
                      not_compared = diff_totals.not_compared + excluded.not_compared
                    """)
            }
            for field in batch.fields {
                try await session.run("""
                    INSERT INTO diff_fields (route, minute, field, raw, noise) VALUES (\(bind: field.route), \(bind: field.minute), \(bind: field.field), \(bind: field.raw), \(bind: field.noise))
                    ON CONFLICT (route, minute, field) DO UPDATE SET raw = diff_fields.raw + excluded.raw,
                      noise = diff_fields.noise + excluded.noise
                    """)
            }
            for set in batch.fieldSets {
                try await session.run("""
                    INSERT INTO diff_field_sets (route, minute, fields, count) VALUES (\(bind: set.route), \(bind: set.minute), \(bind: set.fields.joined(separator: "\n")), \(bind: set.count))
                    ON CONFLICT (route, minute, fields) DO UPDATE SET count = diff_field_sets.count + excluded.count
                    """)
            }
            var touched: Set<[String]> = []
            for (sample, request, old, new, differences) in samples {
                let id = try await session.run("""
                    INSERT INTO diff_pairs (route, time_ms, request_id, request, old, new, new_error, differences)
                    VALUES (\(bind: sample.route), \(bind: sample.time), \(bind: sample.requestID), \(bind: request), \(bind: old), \(bind: new.map(SQLValue.text) ?? .null), \(bind: sample.newError.map(SQLValue.text) ?? .null), \(bind: differences)) RETURNING id
                    """)
                guard let pairID = id.first?.first?.integer else { throw StoreError.corrupt("no id for a new sample") }
                for field in sample.fields {
                    try await session.run("INSERT INTO diff_sample_fields (route, field, pair_id) VALUES (\(bind: sample.route), \(bind: field), \(bind: pairID))")
                    touched.insert([sample.route, field])
                }
            }
            // Keep the most recent samples per route and field; drop pairs no field keeps.
            var routes: Set<String> = []
            for key in touched {
                try await session.run("""
                    DELETE FROM diff_sample_fields WHERE route = \(bind: key[0]) AND field = \(bind: key[1]) AND pair_id NOT IN (
                      SELECT pair_id FROM diff_sample_fields WHERE route = \(bind: key[0]) AND field = \(bind: key[1]) ORDER BY pair_id DESC LIMIT \(bind: keep))
                    """)
                routes.insert(key[0])
            }
            for route in routes {
                try await session.run("""
                    DELETE FROM diff_pairs WHERE route = \(bind: route) AND NOT EXISTS (
                      SELECT 1 FROM diff_sample_fields f WHERE f.pair_id = diff_pairs.id)
                    """)
            }
        }
    }

    /// Forgets the counts and samples of one route, or of all: a fresh start after a fix in new.
    /// Batches already recorded stay known, so a late retry still counts once.
    public func clearDiffs(route: String?) async throws {
        try await database.withTransaction { session in
            for table in ["diff_totals", "diff_fields", "diff_field_sets", "diff_sample_fields", "diff_pairs"] {
                if let route {
                    try await session.run("DELETE FROM \(unsafeRaw: table) WHERE route = \(bind: route)")
                } else {
                    try await session.run("DELETE FROM \(unsafeRaw: table)")
                }
            }
        }
    }

    /// Counts per route added up from `sinceMinute` (minutes since 1970) on, up to `untilMinute` (excluded) when
    /// given, for one route or all.
    public func diffCounts(route: String?, sinceMinute: Int64, untilMinute: Int64? = nil) async throws -> [RouteDiffCounts] {
        try await database.withSession { session in
            // One route, or every route: the same statements with or without the route's condition.
            var filter: SQLQueryString = route.map { " AND route = \(bind: $0)" } ?? ""
            if let untilMinute { filter = filter + " AND minute < \(bind: untilMinute)" }
            var counts: [String: RouteDiffCounts] = [:]
            for row in try await session.run("""
                SELECT route, CAST(SUM(compared) AS BIGINT), CAST(SUM(not_compared) AS BIGINT) FROM diff_totals
                WHERE minute >= \(bind: sinceMinute)\(filter) GROUP BY route
                """) {
                guard let name = row[0].text else { continue }
                counts[name] = RouteDiffCounts(route: name, compared: row[1].integer ?? 0, notCompared: row[2].integer ?? 0)
            }
            for row in try await session.run("""
                SELECT route, field, CAST(SUM(raw) AS BIGINT), CAST(SUM(noise) AS BIGINT) FROM diff_fields
                WHERE minute >= \(bind: sinceMinute)\(filter) GROUP BY route, field
                """) {
                guard let name = row[0].text, let field = row[1].text else { continue }
                counts[name, default: RouteDiffCounts(route: name)].fields[field] =
                    .init(raw: row[2].integer ?? 0, noise: row[3].integer ?? 0)
            }
            for row in try await session.run("""
                SELECT route, fields, CAST(SUM(count) AS BIGINT) FROM diff_field_sets
                WHERE minute >= \(bind: sinceMinute)\(filter) GROUP BY route, fields
                """) {
                guard let name = row[0].text, let fields = row[1].text else { continue }
                let set = fields.isEmpty ? [] : fields.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                counts[name, default: RouteDiffCounts(route: name)].fieldSets[set] = row[2].integer ?? 0
            }
            return counts.values.sorted { $0.route < $1.route }
        }
    }

    /// The most recent samples of a route, newest first; with `field`, only those differing in it.
    public func diffSamples(route: String, field: String?, limit: Int) async throws -> [DiffSample] {
        let rows: [[SQLValue]] = try await database.withSession { session in
            let columns = "p.id, p.route, p.time_ms, p.request_id, p.request, p.old, p.new, p.new_error, p.differences"
            if let field {
                return try await session.run("""
                    SELECT \(unsafeRaw: columns) FROM diff_pairs p JOIN diff_sample_fields f ON f.pair_id = p.id
                    WHERE f.route = \(bind: route) AND f.field = \(bind: field) ORDER BY p.id DESC LIMIT \(bind: Int64(limit))
                    """)
            }
            return try await session.run("SELECT \(unsafeRaw: columns) FROM diff_pairs p WHERE p.route = \(bind: route) ORDER BY p.id DESC LIMIT \(bind: Int64(limit))")
        }
        let decoder = JSONDecoder()
        return try rows.map { row in
            guard let id = row[0].integer, let route = row[1].text, let time = row[2].integer, let requestID = row[3].text,
                  let request = row[4].text, let old = row[5].text, let differences = row[8].text
            else { throw StoreError.corrupt("diff_pairs row") }
            return DiffSample(id: id, route: route, time: time, requestID: requestID,
                              request: try Self.decode(decoder, SampleRequest.self, request),
                              old: try Self.decode(decoder, SampleResponse.self, old),
                              new: try row[6].text.map { try Self.decode(decoder, SampleResponse.self, $0) },
                              newError: row[7].text,
                              differences: try Self.decode(decoder, [FieldDifference].self, differences))
        }
    }

    static func encode(_ encoder: JSONEncoder, _ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ decoder: JSONDecoder, _ type: T.Type, _ text: String) throws -> T {
        do {
            return try decoder.decode(type, from: Data(text.utf8))
        } catch {
            throw StoreError.corrupt("\(type): \(error)")
        }
    }
}
