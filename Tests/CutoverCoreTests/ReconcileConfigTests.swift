import CutoverCore
import Testing

@Suite("Reconcile configuration", .timeLimit(.minutes(1)))
struct ReconcileConfigTests {
    static var section: String {
        """
        reconcile:
          old: "postgres://app@127.0.0.1:5432/shop_old"
          new: "postgres://app@127.0.0.1:5432/shop_new"
          every: 10m
          chunk_time: 250ms
          tables:
            - name: orders
              old: public.orders
              new: public.orders_v2
              key: [id]
              columns: { total: amount }
              ignore: [legacy_flag]
              where: { old: "deleted = false" }
              compare: { amount: { float_tolerance: 0.005 }, updated_at: { timestamp_precision: ms }, name: { ignore_case: true, trim_whitespace: true } }
              redact: [email]
            - { name: users, old: users, new: users, key: code }
        """
    }

    @Test func theSectionLoadsWithEveryValue() throws {
        let config = try ConfigLoader.loadReconcile(yaml: Self.section).get()
        #expect(config.store == .sqlite(path: "cutover.db"))
        let settings = config.reconcile
        #expect(settings.old == "postgres://app@127.0.0.1:5432/shop_old")
        #expect(settings.every == .seconds(600))
        #expect(settings.chunkTime == .milliseconds(250))
        #expect(settings.tables.map(\.name) == ["orders", "users"])
        let orders = settings.tables[0]
        #expect(orders.old == "public.orders" && orders.new == "public.orders_v2")
        #expect(orders.key == ["id"])
        #expect(orders.columns == ["total": "amount"])
        #expect(orders.newName(of: "total") == "amount" && orders.newName(of: "id") == "id")
        #expect(orders.ignore == ["legacy_flag"])
        #expect(orders.whereOld == "deleted = false" && orders.whereNew == nil)
        #expect(orders.compare["amount"] == ColumnRules(floatTolerance: 0.005))
        #expect(orders.compare["updated_at"] == ColumnRules(timestampPrecision: .ms))
        #expect(orders.compare["name"] == ColumnRules(ignoreCase: true, trimWhitespace: true))
        #expect(orders.redact == ["email"])
        #expect(settings.tables[1].key == ["code"])
    }

    @Test func theGatewayLoadsTheSectionToo() throws {
        let config = try ConfigLoader.load(yaml: """
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: { old: { url: "http://127.0.0.1:9001" } }
            \(Self.section)
            """).get()
        #expect(config.reconcile?.tables.count == 2)
        #expect(try ConfigLoader.load(yaml: """
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: { old: { url: "http://127.0.0.1:9001" } }
            """).get().reconcile == nil)
    }

    @Test func mistakesAreExplainedWithTheirPaths() {
        guard case .failure(let error) = ConfigLoader.loadReconcile(yaml: """
            reconcile:
              old: "mysql://x/y"
              new: "postgres://a@h/b"
              every: 0s
              tables:
                - { name: a, old: "bad name", new: b, key: [], compare: { x: { timestamp_precision: ns, tolerance: 1 } } }
                - { name: a, old: a, new: a, key: [id], ignore: [id], columns: { "1x": y } }
                - { name: c, old: c, new: c }
            """) else {
            Issue.record("expected the configuration to be refused")
            return
        }
        #expect(error.issues.map(\.path.description) == [
            "reconcile.old", "reconcile.every", "reconcile.tables[0].old", "reconcile.tables[0].key",
            "reconcile.tables[0].compare.x.timestamp_precision", "reconcile.tables[0].compare.x.tolerance",
            "reconcile.tables[1].ignore", "reconcile.tables[1].columns.1x", "reconcile.tables[2].key",
        ])
        #expect(error.issues[0].message == "'mysql://x/y' is not a PostgreSQL URL")
        #expect(error.issues[4].message.contains("'ns' is not one of s | ms | us"))
        #expect(error.issues[6].message == "key column 'id' cannot be ignored")
        #expect(error.issues[7].message == "'1x' is not a column name")
        #expect(error.issues[8].message == "missing required key 'key'")
    }

    @Test func tablePairNamesAreUnique() {
        guard case .failure(let error) = ConfigLoader.loadReconcile(yaml: """
            reconcile:
              old: "postgres://a@h/a"
              new: "postgres://a@h/b"
              tables: [{ name: a, old: a, new: a, key: id }, { name: a, old: b, new: b, key: id }]
            """) else {
            Issue.record("expected the configuration to be refused")
            return
        }
        #expect(error.issues.map(\.message) == ["a table pair named 'a' is already listed"])
        #expect(error.issues.first?.path.description == "reconcile.tables[1].name")
    }

    @Test func aFileWithoutTheSectionIsRefused() {
        guard case .failure(let error) = ConfigLoader.loadReconcile(yaml: "store: \"sqlite:x.db\"\n") else {
            Issue.record("expected the configuration to be refused")
            return
        }
        #expect(error.issues.first?.message == "no reconcile section")
    }
}
