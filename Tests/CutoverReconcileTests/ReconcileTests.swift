import CutoverCore
import CutoverReconcile
import CutoverTestSupport
import Foundation
import Logging
import Testing

/// Two databases on the test suite's PostgreSQL, with SQL run on each.
struct DatabasePair {
    let server: TestPostgres
    let old: String
    let new: String

    static func make() async throws -> DatabasePair {
        let server = try await TestPostgres.shared()
        return DatabasePair(server: server, old: try server.createDatabase(), new: try server.createDatabase())
    }

    func name(_ url: String) -> String { String(url.split(separator: "/").last!) }

    func onOld(_ sql: String) throws { try server.execute(sql, database: name(old)) }
    func onNew(_ sql: String) throws { try server.execute(sql, database: name(new)) }
    func onBoth(_ sql: String) throws {
        try onOld(sql)
        try onNew(sql)
    }

    func reconciler(_ tables: [ReconcileTable]) -> Reconciler {
        var logger = Logger(label: "reconcile-test")
        logger.logLevel = .critical
        return Reconciler(settings: ReconcileSettings(old: old, new: new, every: nil, tables: tables), logger: logger)
    }
}

@Suite("Reconcile", .timeLimit(.minutes(1)))
struct ReconcileTests {
    static var createOrders: String {
        """
        CREATE TABLE orders (id bigint PRIMARY KEY, qty int, units bigint, price numeric(12,2), weight float8, note text,
          placed timestamptz, paid boolean, doc jsonb);
        INSERT INTO orders SELECT g, g % 7, g * 1000, (g % 500) + 0.25, g / 3.0, 'note ' || g,
          timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute', g % 2 = 0, jsonb_build_object('n', g, 'tags', jsonb_build_array('a', 'b'))
        FROM generate_series(1, 5000) g;
        """
    }

    static var orders: ReconcileTable {
        ReconcileTable(name: "orders", old: "public.orders", new: "orders", key: ["id"],
                                       compare: ["weight": ColumnRules(floatTolerance: 0.005)])
    }

    /// Buckets hashed again in parts before their rows are read, small buckets read whole, large ones split again,
    /// the first pass in throttled chunks, and bounds taken from PostgreSQL's statistics instead of a sample.
    @Test(arguments: [(bucketRows: 512, fetchLimit: 4096, chunked: false, analyzed: false),
                      (bucketRows: 16, fetchLimit: 32, chunked: false, analyzed: false),
                      (bucketRows: 1000, fetchLimit: 50, chunked: false, analyzed: false),
                      (bucketRows: 16, fetchLimit: 32, chunked: true, analyzed: false),
                      (bucketRows: 64, fetchLimit: 4096, chunked: false, analyzed: true)])
    func plantedDifferencesAreFoundExactlyAndNothingElse(bucketRows: Int, fetchLimit: Int, chunked: Bool, analyzed: Bool) async throws {
        let databases = try await DatabasePair.make()
        try databases.onBoth(Self.createOrders)
        // Without ANALYZE the bounds come from a sample (unless autovacuum analyzed the new table first: either way the result is the same).
        if analyzed { try databases.onOld("ANALYZE orders") }
        try databases.onOld("""
            DELETE FROM orders WHERE id = 5000;
            INSERT INTO orders (id, qty) VALUES (7777, 1), (-9223372036854775808, 1);
            """)
        try databases.onNew("""
            DELETE FROM orders WHERE id = 1;
            INSERT INTO orders (id, qty) VALUES (9223372036854775807, 1);
            UPDATE orders SET qty = qty + 1 WHERE id = 10;
            UPDATE orders SET units = units + 1 WHERE id = 20;
            UPDATE orders SET price = price + 0.01 WHERE id = 30;
            UPDATE orders SET price = 219.250 WHERE id = 219;              -- the same value
            UPDATE orders SET weight = weight + 0.004 WHERE id = 40;        -- within the tolerance
            UPDATE orders SET weight = weight + 0.1 WHERE id = 50;
            UPDATE orders SET note = 'changed' WHERE id = 60;
            UPDATE orders SET note = NULL WHERE id = 70;
            UPDATE orders SET placed = (placed AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Tokyo' WHERE id = 80;  -- another instant
            UPDATE orders SET placed = timestamptz '2026-01-01 10:21:00+09:00' WHERE id = 81;  -- the same instant, written in Tokyo time
            UPDATE orders SET paid = NOT paid WHERE id = 90;
            UPDATE orders SET doc = '{"tags": ["a", "b"], "n": 100}' WHERE id = 100;  -- the same document, keys in another order
            UPDATE orders SET doc = '{"n": 101, "tags": ["b", "a"]}' WHERE id = 101;
            """)
        // Chunked: the first pass in throttled chunks (a microsecond target keeps them small, so there are many).
        let options = ReconcileOptions(bucketRows: bucketRows, fetchLimit: fetchLimit, chunkTime: chunked ? .microseconds(1) : nil)
        let reports = try await databases.reconciler([Self.orders]).run(options: options)
        let report = try #require(reports.first)
        let found = report.differences.map { difference in
            "\(difference.kind.rawValue) \(difference.keyText)" + difference.columns.map { " \($0.column)" }.joined()
        }
        #expect(found == [
            "missing id=-9223372036854775808", "missing id=1", "changed id=10 qty", "changed id=20 units", "changed id=30 price", "changed id=50 weight",
            "changed id=60 note", "changed id=70 note", "changed id=80 placed", "changed id=90 paid", "changed id=101 doc",
            "extra id=5000", "missing id=7777", "extra id=9223372036854775807",
        ])
        #expect(report.missingOnNew == 3)
        #expect(report.extraOnNew == 2)
        #expect(report.changed == 9)
        #expect(report.oldRows == 5001)
        #expect(report.newRows == 5000)
        #expect(!report.stoppedEarly)
        let note = try #require(report.differences.first { $0.keyText == "id=70" }?.columns.first)
        #expect(note.old == "note 70")
        #expect(note.new == nil)
        let placed = try #require(report.differences.first { $0.keyText == "id=80" }?.columns.first)
        #expect(placed.old == "2026-01-01 01:20:00+00")
    }

    @Test func equalTablesHaveNoDifferences() async throws {
        let databases = try await DatabasePair.make()
        try databases.onBoth(Self.createOrders)
        let report = try #require(try await databases.reconciler([Self.orders]).run().first)
        #expect(report.isEqual)
        #expect(report.oldRows == 5000 && report.newRows == 5000)
    }

    @Test func mappedIgnoredFilteredColumnsAndTextKeysCompareAsConfigured() async throws {
        let databases = try await DatabasePair.make()
        try databases.onOld("""
            CREATE TABLE customers (code text PRIMARY KEY, total numeric, legacy_flag int, name text, deleted boolean, seen timestamptz);
            INSERT INTO customers VALUES ('a', 1, 0, 'Ada ', false, '2026-01-01 00:00:00.1234+00'), ('B', 2, 1, 'Bob', false, NULL),
              ('é', 3, 1, 'Eve', false, NULL), ('z', 4, 0, 'Zed', true, NULL), ('zz', 5, 0, 'Zoe', false, NULL);
            """)
        try databases.onNew("""
            CREATE TABLE customers_v2 (code varchar(10) PRIMARY KEY, amount numeric(10,2), name text, seen timestamptz, migrated_at timestamptz);
            INSERT INTO customers_v2 VALUES ('a', 1.00, 'ADA', '2026-01-01 00:00:00.1239+00', now()), ('B', 2.5, 'Bob', NULL, now()),
              ('é', 3, 'Eve', NULL, now()), ('zz', 5, 'Zoe', NULL, now());
            """)
        let table = ReconcileTable(
            name: "customers", old: "customers", new: "customers_v2", key: ["code"], columns: ["total": "amount"],
            ignore: ["legacy_flag", "deleted", "migrated_at"], whereOld: "deleted = false",
            compare: ["name": ColumnRules(ignoreCase: true, trimWhitespace: true), "seen": ColumnRules(timestampPrecision: .ms)],
            redact: ["total"])
        let report = try #require(try await databases.reconciler([table]).run().first)
        #expect(report.differences == [
            RowDifference(key: [KeyValue(column: "code", value: "B")], kind: .changed,
                          columns: [ColumnDifference(column: "total", newColumn: "amount", old: "[redacted]", new: "[redacted]")]),
        ])
        #expect(report.oldRows == 4, "the where filter keeps deleted rows out")
    }

    @Test func theFirstDifferencesAreReportedWhenTheLimitIsReached() async throws {
        let databases = try await DatabasePair.make()
        try databases.onBoth(Self.createOrders)
        try databases.onNew("UPDATE orders SET qty = qty + 1 WHERE id % 100 = 0")
        let report = try #require(try await databases.reconciler([Self.orders]).run(options: ReconcileOptions(maxDifferences: 5)).first)
        #expect(report.stoppedEarly)
        #expect(report.differences.count == 5)
        #expect(report.differences.map(\.keyText) == ["id=100", "id=200", "id=300", "id=400", "id=500"])
        // Reaching the limit exactly with key ranges left unread is stopping too.
        let exact = try #require(try await databases.reconciler([Self.orders]).run(options: ReconcileOptions(maxDifferences: 50)).first)
        #expect(exact.differences.count == 50)
        let all = try #require(try await databases.reconciler([Self.orders]).run(options: ReconcileOptions(maxDifferences: 51)).first)
        #expect(!all.stoppedEarly && all.differences.count == 50, "the limit was not reached: everything was compared")
        let whole = try #require(try await databases.reconciler([Self.orders]).run().first)
        #expect(!whole.stoppedEarly && whole.differences.count == 50)
    }

    @Test func badInputNamesWhatIsWrong() async throws {
        let databases = try await DatabasePair.make()
        try databases.onBoth("CREATE TABLE t (id int PRIMARY KEY, a int, b text); CREATE TABLE dup (id int, a int);")
        try databases.onOld("CREATE TABLE k (id int PRIMARY KEY, a int); INSERT INTO dup VALUES (1, 1), (1, 2);")
        try databases.onNew("CREATE TABLE k (id text PRIMARY KEY, a int); CREATE TABLE extra (id int PRIMARY KEY, a int, b text, c int)")
        let cases: [(ReconcileTable, String)] = [
            (ReconcileTable(name: "x", old: "nope", new: "t", key: ["id"]), "table nope does not exist in the old database"),
            (ReconcileTable(name: "x", old: "t", new: "t", key: ["idx"]), "key column 'idx' does not exist in t (old)"),
            (ReconcileTable(name: "x", old: "t", new: "t", key: ["id"], columns: ["a": "zz"]), "column 'a' of t has no column 'zz' in t"),
            (ReconcileTable(name: "x", old: "t", new: "extra", key: ["id"]), "column 'c' of extra has no counterpart in t"),
            (ReconcileTable(name: "x", old: "dup", new: "dup", key: ["id"]), "the key (id) is not unique in dup (old): 1 appears more than once"),
            (ReconcileTable(name: "x", old: "k", new: "k", key: ["id"]), "key column 'id' is integer in k but text in k"),
            (ReconcileTable(name: "x", old: "t", new: "t", key: ["id"], ignore: ["nothing"]), "ignored column 'nothing' is in neither t nor t"),
        ]
        for (table, message) in cases {
            do {
                _ = try await databases.reconciler([table]).run()
                Issue.record("no error for \(message)")
            } catch let error as ReconcileError {
                guard case .badInput = error else {
                    Issue.record("\(error) is not bad input")
                    continue
                }
                #expect(error.description.contains(message), "\(error)")
            }
        }
    }

    @Test func anUnreachableDatabaseIsNamed() async throws {
        let refusing = try RefusingPort()
        var logger = Logger(label: "reconcile-test")
        logger.logLevel = .critical
        let databases = try await DatabasePair.make()
        let reconciler = Reconciler(settings: ReconcileSettings(old: databases.old, new: "postgres://app@127.0.0.1:\(refusing.port)/shop",
                                                                every: nil, tables: [Self.orders]), logger: logger)
        await #expect {
            _ = try await reconciler.run()
        } throws: { error in
            guard let error = error as? ReconcileError, case .database(let side, let reason) = error else { return false }
            return side == "new" && reason.contains("cannot connect to postgres://app@127.0.0.1:\(refusing.port)/shop")
        }
        withExtendedLifetime(refusing) {}
    }
}
