import CutoverCore
import Testing

@Suite("Gray release: routing by ID and list merging", .timeLimit(.minutes(1)))
struct GrayRoutingTests {
    static var config: String {
        """
        listen: "127.0.0.1:8080"
        admin: { listen: "127.0.0.1:9090" }
        backends:
          old: { url: "http://127.0.0.1:9001" }
          new: { url: "http://127.0.0.1:9002" }
        routes:
          - name: order-by-id
            match: { methods: [GET, PUT, DELETE], path: "/orders/{id}" }
            phase: gray
            id: { from: path, name: id, on_missing: old }
            gray: { threshold: 1000, creates: new }
          - name: order-create
            match: { methods: [POST], path: "/orders" }
            phase: gray
            id: { from: body, name: /id, on_missing: reject }
            gray: { threshold: 1000, creates: old }
          - name: invoice
            match: { path: "/invoices" }
            phase: gray
            id: { from: query, name: order, on_missing: new }
            gray: { threshold: 1000 }
          - name: order-list
            match: { methods: [GET], path: "/orders" }
            phase: gray
            aggregate: { array: /items, key: /id }
          - name: by-header
            match: { prefix: "/h/" }
            phase: shadow
            id: { from: header, name: X-Order, on_missing: reject }
        """
    }

    func table() throws -> RoutingTable { RoutingTable(config: try ConfigLoader.load(yaml: Self.config).get()) }

    @Test func pathIDsAtOrAboveTheThresholdGoToNew() throws {
        let table = try table()
        #expect(table.decide(method: "GET", target: "/orders/999") == .forward(RoutingTarget(route: 0, backend: 0, side: .old)))
        #expect(table.decide(method: "GET", target: "/orders/1000") == .forward(RoutingTarget(route: 0, backend: 1, side: .new)))
        #expect(table.decide(method: "PUT", target: "/orders/123456?x=1") == .forward(RoutingTarget(route: 0, backend: 1, side: .new)))
        #expect(table.decide(method: "GET", target: "/orders/abc") == .forward(RoutingTarget(route: 0, backend: 0, side: .old, missingID: true)))
        #expect(table.decide(method: "GET", target: "/orders/99999999999999999999") == .forward(RoutingTarget(route: 0, backend: 0, side: .old, missingID: true)))
    }

    @Test func queryIDsAndTheirFallback() throws {
        let table = try table()
        #expect(table.decide(method: "GET", target: "/invoices?page=2&order=5000").target.side == .new)
        #expect(table.decide(method: "GET", target: "/invoices?order=12").target.side == .old)
        let missing = table.decide(method: "GET", target: "/invoices?orders=12")
        #expect(missing == .forward(RoutingTarget(route: 2, backend: 1, side: .new, missingID: true)))
        #expect(table.decide(method: "GET", target: "/invoices?order=").target.missingID)
    }

    @Test func headerAndBodyIDsArePendingUntilRead() throws {
        let table = try table()
        var flags = table.configuredFlags
        let create = table.decide(method: "POST", target: "/orders", flags: flags)
        #expect(create == .awaitID(primary: RoutingTarget(route: 1, backend: 0, side: .old), from: .body))
        #expect(table.resolve(route: 1, id: 5, method: .post, flags: flags).target.side == .old)
        #expect(table.resolve(route: 1, id: 5000, method: .post, flags: flags).target.side == .new)
        // A create without an ID goes where gray.creates says.
        #expect(table.resolve(route: 1, id: nil, method: .post, flags: flags).target.side == .old)
        flags[1].creates = .new
        #expect(table.resolve(route: 1, id: nil, method: .post, flags: flags).target.side == .new)
        // In shadow, a header ID matters only after a rollback that kept new's IDs.
        #expect(table.decide(method: "GET", target: "/h/1", flags: flags) == .shadow(primary: RoutingTarget(route: 4, backend: 0, side: .old), copy: 1, noise: nil))
        flags[4].newIDsFrom = 1000
        #expect(table.decide(method: "GET", target: "/h/1", flags: flags) == .awaitID(primary: RoutingTarget(route: 4, backend: 0, side: .old), from: .header))
        #expect(table.resolve(route: 4, id: 1001, method: .get, flags: flags).target.side == .new)
        let kept = table.resolve(route: 4, id: 999, method: .get, flags: flags)
        #expect(kept == .shadow(primary: RoutingTarget(route: 4, backend: 0, side: .old), copy: 1, noise: nil))
    }

    @Test func missingIDsCanBeRejected() throws {
        let table = try table()
        var flags = table.configuredFlags
        flags[0].phase = .gray
        let source = try #require(table.config.routes[1].id)
        #expect(source.id(inBody: Array(#"{"id": 1200, "x": 1}"#.utf8)) == 1200)
        #expect(source.id(inBody: Array(#"{"id": "77"}"#.utf8)) == 77)
        #expect(source.id(inBody: Array(#"{"id": 1.5}"#.utf8)) == nil)
        #expect(source.id(inBody: Array("not json".utf8)) == nil)
        flags[1].creates = .new
        let rejected = table.resolve(route: 1, id: nil, method: .get, flags: flags)
        #expect(rejected == .reject(primary: RoutingTarget(route: 1, backend: 0, side: .old, missingID: true), status: 400,
                                    reason: "the request has no integer ID in its body '/id'", label: "missing_id"))
    }

    @Test func drainSendsCreatesAndListsToNew() throws {
        let table = try table()
        var flags = table.configuredFlags
        for index in flags.indices { flags[index].phase = .drain }
        #expect(table.resolve(route: 1, id: nil, method: .post, flags: flags).target.side == .new)
        #expect(table.decide(method: "GET", target: "/orders/5", flags: flags).target.side == .old)
        #expect(table.decide(method: "GET", target: "/orders", flags: flags) == .forward(RoutingTarget(route: 3, backend: 1, side: .new)))
        flags[3].phase = .gray
        #expect(table.decide(method: "GET", target: "/orders?limit=5", flags: flags) == .aggregate(primary: RoutingTarget(route: 3, backend: 0, side: .old)))
    }

    @Test func rollingBackKeepsNewIDsWithNew() throws {
        let table = try table()
        var flags = table.configuredFlags
        flags[0].phase = .old
        #expect(table.decide(method: "GET", target: "/orders/5000", flags: flags).target.side == .old)
        flags[0].newIDsFrom = 1000
        #expect(table.decide(method: "GET", target: "/orders/5000", flags: flags).target.side == .new)
        #expect(table.decide(method: "GET", target: "/orders/999", flags: flags).target.side == .old)
    }

    @Test func grayConfigMistakesAreExplained() {
        let result = ConfigLoader.load(yaml: """
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090" }
            backends: { old: { url: "http://127.0.0.1:9001" }, new: { url: "http://127.0.0.1:9002" } }
            routes:
              - { name: a, match: { path: "/a/{key}" }, phase: gray, id: { from: path, name: id } }
              - { name: b, match: { path: "/b" }, phase: gray, id: { from: query, name: id } }
              - { name: c, match: { path: "/c" }, phase: old, aggregate: { array: "", key: /id } }
              - { name: d, match: { path: "/d" }, phase: old, auto_rollback: { window: 10s } }
              - { name: e, match: { path: "/e" }, phase: old, gray: { threshold: 0, creates: both } }
            """)
        guard case .failure(let error) = result else { Issue.record("loaded"); return }
        #expect(error.issues.map(\.path.description) == ["routes[0].id.name", "routes[1].phase", "routes[2].aggregate.array",
                                                         "routes[3].auto_rollback", "routes[4].gray.threshold", "routes[4].gray.creates"])
        #expect(error.issues[0].message == "the route's path has no parameter {id}")
        #expect(error.issues[0].fix == "use one of: key")
        #expect(error.issues[1].message == "route 'b' has no gray.threshold, so phase gray cannot split by ID")
    }

    @Test func adminTLSFilesMustExist() {
        let result = ConfigLoader.load(yaml: """
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090", tls: { cert: /nonexistent/admin.pem, client_ca: /nonexistent/ca.pem } }
            backends: { old: { url: "http://127.0.0.1:9001" } }
            """)
        guard case .failure(let error) = result else { Issue.record("loaded"); return }
        #expect(error.issues.map(\.path.description) == ["admin.tls.key", "admin.tls.cert", "admin.tls.client_ca"])
        #expect(error.issues[1].message.contains("does not exist"), "\(error.issues[1])")
    }

    static func page(_ keys: [Int]) -> [(key: ListMerge.Key, text: String)] {
        keys.map { (ListMerge.Key.number(Double($0), text: String($0)), #"{"id":\#($0)}"#) }
    }

    @Test func pagesMergeInKeyOrderWithNewWinningDuplicates() throws {
        let merged = ListMerge.merge(old: Self.page([9, 7, 5]), new: [(.number(9, text: "9"), #"{"id":9,"v":"new"}"#)] + Self.page([8]),
                                     cursor: .init(), limit: 3, order: .desc)
        #expect(merged.items == [#"{"id":9,"v":"new"}"#, #"{"id":8}"#, #"{"id":7}"#])
        let next = try #require(merged.next as ListMerge.Cursor?)
        #expect(next.old == ListMerge.SideCursor(after: .number(7, text: "7"), done: false))
        #expect(next.new == ListMerge.SideCursor(after: .number(8, text: "8"), done: true))
        // The next page asks only old, from 7, and ends when old's short page is used up.
        let last = ListMerge.merge(old: Self.page([5]), new: nil, cursor: next, limit: 3, order: .desc)
        #expect(last.items == [#"{"id":5}"#])
        #expect(last.next == nil)
    }

    @Test func aFailedSideKeepsItsPosition() {
        let start = ListMerge.Cursor(old: .init(after: .number(10, text: "10")), new: .init(after: .number(20, text: "20")))
        let merged = ListMerge.merge(old: nil, new: Self.page([1, 2]), cursor: start, limit: 2, order: .asc)
        #expect(merged.items.count == 2)
        #expect(merged.next?.old == start.old)
        #expect(merged.next?.new.after == .number(2, text: "2"))
    }

    @Test func cursorsRoundTripAndForeignOnesAreRefused() {
        let cursor = ListMerge.Cursor(old: .init(after: .string("a/b+c"), done: true), new: .init(after: .number(3, text: "3")))
        #expect(ListMerge.Cursor.decode(cursor.encoded) == cursor)
        #expect(ListMerge.Cursor.decode("12345") == nil)
        #expect(ListMerge.Cursor.decode("c1.!!!") == nil)
    }

    @Test func theEnvelopeIsRewrittenAroundTheMergedItems() throws {
        let document = try #require(JSONDocument.parse(Array(#"{"items":[1],"total":3,"meta":{"a":"\"q\""}}"#.utf8)))
        let text = ListMerge.render(document, replacing: [JSONPointer(tokens: ["items"]): "[2,3]", JSONPointer(tokens: ["next_cursor"]): "null"])
        #expect(text == #"{"items":[2,3],"total":3,"meta":{"a":"\"q\""},"next_cursor":null}"#)
        let settings = AggregateSettings(array: JSONPointer(tokens: ["items"]), key: JSONPointer(tokens: ["id"]), order: .desc, limitParam: "limit",
                                         cursorParam: "cursor", nextCursor: JSONPointer(tokens: ["next_cursor"]), onPartial: .fail, defaultLimit: 50, maxLimit: 100)
        #expect(throws: ListMerge.PageError.self) { try ListMerge.page(Array(#"{"items":[{"x":1}]}"#.utf8), settings: settings).get() }
        #expect(IDSource.maxID(in: Array(#"{"items":[{"id":4},{"id":"17"},{"id":2}]}"#.utf8), at: JSONPointer(tokens: ["items", "*", "id"])) == 17)
    }
}
