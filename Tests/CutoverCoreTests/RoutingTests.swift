import CutoverCore
import Testing

@Suite("Path templates and routing", .timeLimit(.minutes(1)))
struct RoutingTests {
    @Test func templatesMatchWholePathsSegmentBySegment() throws {
        let template = try PathTemplate.parse("/orders/{id}").get()
        #expect(template.matches("/orders/42"))
        #expect(template.matches("/orders/abc"))
        #expect(!template.matches("/orders/"))
        #expect(!template.matches("/orders"))
        #expect(!template.matches("/orders/42/items"))
        #expect(!template.matches("/orderz/42"))
        #expect(!template.matches("orders/42"))
        #expect(template.parameter("id", in: "/orders/42") == "42")
        #expect(template.parameter("id", in: "/other/42") == nil)
    }

    @Test func literalAndRootTemplatesMatchExactly() throws {
        let root = try PathTemplate.parse("/").get()
        #expect(root.matches("/"))
        #expect(!root.matches("/x"))
        let nested = try PathTemplate.parse("/a/{x}/b/{y}").get()
        #expect(nested.matches("/a/1/b/2"))
        #expect(nested.parameter("y", in: "/a/1/b/2") == "2")
        #expect(!nested.matches("/a/1/c/2"))
    }

    @Test(arguments: ["orders", "/orders/{id", "/orders/x{id}", "/a/{id}/{id}", "/a/{}", "/a/{b c}"])
    func malformedTemplatesAreRefused(text: String) {
        #expect(throws: AddressError.self) { try PathTemplate.parse(text).get() }
    }

    static var config: String {
        """
        listen: "127.0.0.1:8080"
        admin: { listen: "127.0.0.1:9090" }
        backends:
          old: { url: "http://127.0.0.1:9001" }
          new: { url: "http://127.0.0.1:9002" }
          legacy: { url: "http://127.0.0.1:9003" }
        routes:
          - { name: order-by-id, match: { methods: [GET], path: "/orders/{id}" }, phase: new }
          - { name: orders, match: { path: "/orders" }, phase: old }
          - { name: assets, match: { prefix: "/assets/" }, phase: new, backends: { old: legacy, new: new } }
          - { name: reports, match: { prefix: "/reports" }, phase: old, backends: { old: legacy } }
        """
    }

    @Test func firstMatchingRouteDecidesAndItsPhasePicksTheSide() throws {
        let table = RoutingTable(config: try ConfigLoader.load(yaml: Self.config).get())
        let byID = table.decide(method: "GET", target: "/orders/7?expand=items")
        #expect(byID == .forward(RoutingTarget(route: 0, backend: 1, side: .new)))
        #expect(table.decide(method: "PUT", target: "/orders/7") == .forward(RoutingTarget(route: nil, backend: 0, side: .old)))
        #expect(table.decide(method: "POST", target: "/orders") == .forward(RoutingTarget(route: 1, backend: 0, side: .old)))
        #expect(table.decide(method: "GET", target: "/assets/app.js") == .forward(RoutingTarget(route: 2, backend: 1, side: .new)))
        #expect(table.decide(method: "GET", target: "/reports/2026") == .forward(RoutingTarget(route: 3, backend: 2, side: .old)))
    }

    @Test func unmatchedRequestsGoToOld() throws {
        let table = RoutingTable(config: try ConfigLoader.load(yaml: Self.config).get())
        #expect(table.decide(method: "GET", target: "/elsewhere") == .forward(RoutingTarget(route: nil, backend: 0, side: .old)))
        #expect(table.decide(method: "OPTIONS", target: "*") == .forward(RoutingTarget(route: nil, backend: 0, side: .old)))
    }

    @Test func queryIsNotPartOfTheMatch() throws {
        let table = RoutingTable(config: try ConfigLoader.load(yaml: Self.config).get())
        #expect(table.match(method: "GET", target: "/orders?limit=5") == 1)
        #expect(table.match(method: "GET", target: "/orders/?x") == nil)
    }
}
