/// One pass of the data sync while the old service runs: what it moved and how long it took.
public struct SyncPass: Sendable, Hashable, Codable {
    public var bytes: Int
    public var duration: Duration

    public init(bytes: Int, duration: Duration) {
        self.bytes = bytes
        self.duration = duration
    }
}

/// Whether the data sync goes on with another pass while the old service runs, or stops so the service can be
/// stopped and the last pass run: P.Haul's rules for a file tree (stop when a pass moved no more than
/// `converge_bytes`, when a pass did not shrink by `min_shrink` against the one before, or after `max_passes`), and
/// QEMU's for memory (stop as soon as the last pass's time predicts a final pass inside the downtime budget).
public enum SyncConvergence {
    /// Why the passes stopped.
    public enum Reason: String, Sendable, Hashable, Codable {
        /// The last pass moved no more than `converge_bytes`.
        case converged
        /// The last pass took no longer than the downtime budget: a final pass, moving less, fits in it.
        case fitsBudget = "fits_budget"
        /// The last pass did not shrink by `min_shrink` against the one before: more passes would not converge.
        case notShrinking = "not_shrinking"
        /// `max_passes` ran.
        case maxPasses = "max_passes"
    }

    public enum Decision: Sendable, Hashable {
        case anotherPass
        /// Stop, for `reason`; `withinBudget` says whether the final pass is predicted to fit in the budget (a stop
        /// by `notShrinking` or `maxPasses` may not: the downtime would exceed it).
        case stop(Reason, withinBudget: Bool)
    }

    /// What to do after `passes` (at least one), under `rules` and `budget`.
    public static func decide(after passes: [SyncPass], rules: HostCutoverSettings.SyncRules, budget: Duration) -> Decision {
        guard let last = passes.last else { return .anotherPass }
        let fits = last.duration <= budget
        if last.bytes <= rules.convergeBytes { return .stop(.converged, withinBudget: fits) }
        if fits { return .stop(.fitsBudget, withinBudget: true) }
        if passes.count >= 2 {
            let before = passes[passes.count - 2]
            if Double(last.bytes) > Double(before.bytes) * (1 - rules.minShrink) { return .stop(.notShrinking, withinBudget: false) }
        }
        if passes.count >= rules.maxPasses { return .stop(.maxPasses, withinBudget: false) }
        return .anotherPass
    }
}
