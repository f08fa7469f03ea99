import CutoverCore
import Testing

/// The `plan:` section: the nine-step template where it names no steps, steps read as written, and every bad value
/// named with its path.
@Suite("Plan configuration")
struct PlanConfigTests {
    static func yaml(_ plan: String, extra: String = "") -> String {
        """
        listen: "127.0.0.1:0"
        admin: { listen: "127.0.0.1:0" }
        backends: { old: { url: "http://127.0.0.1:9001" }, new: { url: "http://127.0.0.1:9002" } }
        routes:
          - { name: orders, match: { path: "/orders/{id}" }, phase: old, id: { from: path, name: id }, gray: { threshold: 1000 } }
          - { name: health, match: { path: /healthz }, phase: old }
        \(extra)
        \(plan)
        """
    }

    @Test func withoutStepsThePlanIsTheNineStepTemplate() throws {
        let config = try ConfigLoader.load(yaml: Self.yaml("plan: { notify: [\"http://127.0.0.1:9/plan\"], shadow_for: 2d }")).get()
        let plan = try #require(config.plan)
        #expect(plan.steps.map(\.name) == ["new-database", "new-service", "comparator", "shadow", "clean-diffs", "gray", "transition", "cutover"])
        #expect(plan.steps.map(\.kind) == [.manual, .manual, .gate, .action, .gate, .action, .action, .action])
        #expect(plan.step(named: "gray")?.action == .phase(.gray, routes: ["orders"]), "only routes split by ID go gray")
        #expect(plan.step(named: "cutover")?.action == .phase(.new, routes: nil))
        #expect(plan.step(named: "clean-diffs")?.requires.first == .inPhase(.shadow, duration: .seconds(2 * 86_400), routes: nil))
        #expect(plan.step(named: "comparator")?.requires == [], "no reconcile: section, nothing to wait for")
        #expect(plan.notify == ["http://127.0.0.1:9/plan"])
        #expect(config.routes.count == 2)
    }

    @Test func theTemplateEndsWithTheHostCutoverWhenThereIsOne() throws {
        let host = """
            host_cutover:
              hosts: { a: { executor: local, interface: lo }, b: { executor: "netns:b", interface: eth0 } }
              tasks: [{ name: shop, from: a, to: b, service: { stop: x, start: y, health: z } }]
            """
        let plan = try #require(try ConfigLoader.load(yaml: Self.yaml("plan: {}", extra: host)).get().plan)
        #expect(plan.steps.last?.name == "ip-float")
        #expect(plan.steps.last?.action == .hostTask("shop"))
        #expect(plan.steps.last?.requires == [.phase(.new, routes: nil)])
    }

    @Test func stepsAreReadAsWritten() throws {
        let plan = try #require(try ConfigLoader.load(yaml: Self.yaml("""
            plan:
              steps:
                - { name: consumers, owner: payments, kind: manual, description: "consumers on group orders-v2" }
                - name: soak
                  kind: gate
                  requires:
                    - { in_phase: shadow, for: 3d, routes: [orders] }
                    - { diff_rate: 0.002, min_compared: 500, window: 2h }
                    - { phase: shadow }
                - { name: go, kind: action, action: { phase: new, routes: [orders, health] } }
            """)).get().plan)
        #expect(plan.steps.count == 3)
        #expect(plan.steps[0] == PlanSettings.Step(name: "consumers", owner: "payments", kind: .manual, description: "consumers on group orders-v2"))
        #expect(plan.steps[1].requires == [.inPhase(.shadow, duration: .seconds(3 * 86_400), routes: ["orders"]),
                                           .diffRate(below: 0.002, minCompared: 500, window: .seconds(7200), routes: nil), .phase(.shadow, routes: nil)])
        #expect(plan.steps[2].action == .phase(.new, routes: ["orders", "health"]))
        #expect(plan.steps[1].owner == "operator", "the default owner")
    }

    @Test func badValuesAreNamedWithTheirPath() {
        guard case .failure(let error) = ConfigLoader.load(yaml: Self.yaml("""
            plan:
              notify: [ftp://x]
              steps:
                - { name: a, kind: sometimes }
                - { name: b, kind: action }
                - { name: c, kind: gate, action: { phase: new } }
                - { name: d, kind: gate, requires: [{ phase: later }, { diff_rate: 2 }, { in_phase: shadow }, { host_run: shop }, soon, { routes: [x] }] }
                - { name: e, kind: action, action: { phase: new, routes: [nope] } }
                - { name: e, kind: gate }
                - { name: f, kind: gate, requires: [{ phase: shadow, diff_rate: 0.01 }, { phase: shadow, for: 3d }] }
            """)) else {
            Issue.record("expected the configuration to be refused")
            return
        }
        let found = error.issues.map { "\($0.path): \($0.message)" }
        for expected in [
            "plan.notify[0]: 'ftp://x' is not an http:// or https:// URL",
            "plan.steps[0].kind: 'sometimes' is not a kind of step: gate, manual or action",
            "plan.steps[1].action: a step of kind action needs its action",
            "plan.steps[2].action: a gate step performs nothing",
            "plan.steps[3].requires[2].for: missing required key 'for'",
            "plan.steps[3].requires[3].host_run: no host task named 'shop'",
            "plan.steps[3].requires[4]: 'soon' is not evidence a step can require",
            "plan.steps[3].requires[5].routes[0]: no route named 'x'",
            "plan.steps[4].action.routes[0]: no route named 'nope'",
            "plan.steps[5].name: a step named 'e' is already listed",
            "plan.steps[6].requires[0]: one piece of evidence per entry, not phase and diff_rate",
            "plan.steps[6].requires[1].for: for goes with in_phase",
        ] {
            #expect(found.contains(expected), "\(expected) in \(found)")
        }
        #expect(found.contains { $0.hasPrefix("plan.steps[3].requires[0].phase:") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("plan.steps[3].requires[1].diff_rate:") }, "\(found)")
    }
}
