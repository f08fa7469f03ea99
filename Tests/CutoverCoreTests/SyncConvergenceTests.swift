import CutoverCore
import Testing

/// When the data sync stops iterating, by each rule.
@Suite("Sync convergence")
struct SyncConvergenceTests {
    let rules = HostCutoverSettings.SyncRules.defaults
    let mib = 1024 * 1024

    func decide(_ passes: [(Int, Int)], budget: Duration = .seconds(5), rules: HostCutoverSettings.SyncRules? = nil) -> SyncConvergence.Decision {
        SyncConvergence.decide(after: passes.map { SyncPass(bytes: $0.0, duration: .seconds($0.1)) }, rules: rules ?? self.rules, budget: budget)
    }

    @Test func aPassThatMovedLittleConverges() {
        #expect(decide([(800 * mib, 60), (1 * mib, 1)]) == .stop(.converged, withinBudget: true))
        #expect(decide([(800 * mib, 60), (mib / 2, 9)]) == .stop(.converged, withinBudget: false), "little data, but slow: the budget may not hold")
    }

    @Test func aPassFasterThanTheBudgetPredictsAFinalPassInsideIt() {
        #expect(decide([(800 * mib, 60), (200 * mib, 4)]) == .stop(.fitsBudget, withinBudget: true))
        #expect(decide([(50 * mib, 2)]) == .stop(.fitsBudget, withinBudget: true), "even the first pass")
    }

    @Test func aPassThatDidNotShrinkByTheRuleStops() {
        // After 500 MiB a pass must move at most 90 % of it (450 MiB) to go on: 460 MiB does not.
        #expect(decide([(800 * mib, 60), (500 * mib, 30), (460 * mib, 28)]) == .stop(.notShrinking, withinBudget: false))
        #expect(decide([(800 * mib, 60), (500 * mib, 30), (450 * mib, 28)]) == .anotherPass, "exactly 10 % smaller goes on")
        #expect(decide([(800 * mib, 60), (900 * mib, 70)]) == .stop(.notShrinking, withinBudget: false), "a growing pass")
    }

    @Test func passesStopAtTheirLimit() {
        var passes: [(Int, Int)] = []
        var bytes = 1000 * mib
        for _ in 0..<7 {
            passes.append((bytes, 60))
            bytes /= 2
        }
        #expect(decide(passes) == .anotherPass, "seven passes, each halving")
        passes.append((bytes, 60))
        #expect(decide(passes) == .stop(.maxPasses, withinBudget: false))
        #expect(decide([(1000 * mib, 60), (500 * mib, 30)], rules: .init(maxPasses: 2)) == .stop(.maxPasses, withinBudget: false))
    }

    @Test func theFirstPassAloneNeverStopsForNotShrinking() {
        #expect(decide([(1000 * mib, 60)]) == .anotherPass)
    }
}
