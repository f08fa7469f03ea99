/// The evidence a phase change is judged on, gathered from the store.
public struct GateEvidence: Sendable, Hashable {
    /// Compared requests and the share really differing, in the gate window.
    public var compared: Int64
    public var diffRate: Double
    /// New's answers and errors in the gate window.
    public var newRequests: Int64
    public var newErrors: Int64
    /// The highest ID seen in old's answers.
    public var maxOldID: Int64?
    /// With a `reconcile:` section: the table pairs whose latest finished reconciliation was not clean
    /// (or that have none); nil when the databases are not reconciled.
    public var unreconciled: [String]?

    public init(compared: Int64, diffRate: Double, newRequests: Int64, newErrors: Int64, maxOldID: Int64?, unreconciled: [String]? = nil) {
        self.compared = compared
        self.diffRate = diffRate
        self.newRequests = newRequests
        self.newErrors = newErrors
        self.maxOldID = maxOldID
        self.unreconciled = unreconciled
    }

    public var newErrorRate: Double { newRequests > 0 ? Double(newErrors) / Double(newRequests) : 0 }
}

/// One gate's verdict, with the numbers it looked at.
public struct GateResult: Sendable, Hashable, Codable {
    /// `min_compared`, `max_diff_rate`, `reconcile`, `threshold`, `max_error_rate`, `new_ids` or `phase`.
    public var gate: String
    public var passed: Bool
    /// What was found, as a number where there is one.
    public var value: Double?
    /// What it had to be.
    public var limit: Double?
    public var message: String

    public init(gate: String, passed: Bool, value: Double?, limit: Double?, message: String) {
        self.gate = gate
        self.passed = passed
        self.value = value
        self.limit = limit
        self.message = message
    }
}

/// Which evidence each forward step needs. Steps back need none.
public enum Gates {
    /// The gates for moving `route` from `from` to `to` with flags `flags`, judged on `evidence`.
    /// Every gate is returned (passed or not), so a refusal names all that failed.
    public static func evaluate(route: Route, from: Phase, to: Phase, flags: RouteFlags, evidence: GateEvidence) -> [GateResult] {
        guard to > from else { return [] }
        var results: [GateResult] = []
        if let refusal = route.refusal(of: to, threshold: flags.threshold) {
            results.append(GateResult(gate: "phase", passed: false, value: nil, limit: nil, message: refusal))
        }
        let gates = route.gates
        let window = Quantities.format(gates.window)
        // Leaving shadow (or skipping it): the comparison must have seen enough and agreed.
        if from <= .shadow, to >= .gray {
            results.append(GateResult(gate: "min_compared", passed: evidence.compared >= gates.minCompared,
                                      value: Double(evidence.compared), limit: Double(gates.minCompared),
                                      message: "\(evidence.compared) requests compared in the last \(window); at least \(gates.minCompared) needed"))
            results.append(GateResult(gate: "max_diff_rate", passed: evidence.diffRate <= gates.maxDiffRate,
                                      value: evidence.diffRate, limit: gates.maxDiffRate,
                                      message: "diff rate \(percent(evidence.diffRate)) in the last \(window); at most \(percent(gates.maxDiffRate)) allowed"))
            // With the databases reconciled, new must hold the same data before it answers anyone.
            if let unreconciled = evidence.unreconciled {
                results.append(GateResult(gate: "reconcile", passed: unreconciled.isEmpty, value: Double(unreconciled.count), limit: 0,
                                          message: unreconciled.isEmpty ? "the latest reconciliation of every table pair is clean"
                                            : "no clean latest reconciliation of \(unreconciled.joined(separator: ", ")) (run `cutover reconcile`)"))
            }
        }
        // Entering gray with an ID split: old must not already hold IDs at or above the threshold.
        if from < .gray, to >= .gray, route.id != nil, let threshold = flags.threshold {
            if let maxOld = evidence.maxOldID {
                results.append(GateResult(gate: "threshold", passed: maxOld < threshold, value: Double(maxOld), limit: Double(threshold),
                                          message: maxOld < threshold
                                            ? "highest ID seen from old is \(maxOld), below the threshold \(threshold)"
                                            : "old already answered ID \(maxOld), at or above the threshold \(threshold): those requests would go to new"))
            } else if route.maxIDSeen == nil {
                results.append(GateResult(gate: "threshold", passed: true, value: nil, limit: Double(threshold),
                                          message: "no max_id_seen configured: the threshold \(threshold) is not checked against old's IDs"))
            } else {
                results.append(GateResult(gate: "threshold", passed: false, value: nil, limit: Double(threshold),
                                          message: "no ID seen from old yet at \(route.maxIDSeen!): the threshold \(threshold) cannot be checked"))
            }
        }
        // Giving new more of the traffic: its answers must have been healthy.
        if from >= .gray {
            results.append(GateResult(gate: "max_error_rate", passed: evidence.newErrorRate <= gates.maxErrorRate,
                                      value: evidence.newErrorRate, limit: gates.maxErrorRate,
                                      message: "new's error rate \(percent(evidence.newErrorRate)) over \(evidence.newRequests) answers in the last \(window); at most \(percent(gates.maxErrorRate)) allowed"))
        }
        return results
    }

    /// The gates for moving a route's threshold from `current` to `proposed` while IDs split it (gray, drain):
    /// old must not have answered an ID at or above it, and IDs new created (`maxNewID`, on any route) must not
    /// fall back below it.
    public static func thresholdChange(current: Int64?, proposed: Int64, maxOldID: Int64?, maxNewID: Int64?) -> [GateResult] {
        var results: [GateResult] = []
        if let maxOld = maxOldID {
            results.append(GateResult(gate: "threshold", passed: maxOld < proposed, value: Double(maxOld), limit: Double(proposed),
                                      message: maxOld < proposed ? "highest ID seen from old is \(maxOld), below \(proposed)"
                                          : "old already answered ID \(maxOld), at or above the new threshold \(proposed)"))
        }
        if let maxNew = maxNewID, let current, proposed > current {
            let passed = maxNew < current || maxNew >= proposed
            results.append(GateResult(gate: "new_ids", passed: passed, value: Double(maxNew), limit: Double(proposed),
                                      message: passed ? "no ID new created falls below \(proposed)"
                                          : "new created IDs up to \(maxNew), which the threshold \(proposed) would send back to old"))
        }
        return results
    }

    public static func percent(_ rate: Double) -> String {
        let value = (rate * 100_000).rounded() / 1000
        return "\(value)%"
    }
}

/// Whether new's recent answers on a route call for stepping back.
public enum AutoRollback {
    /// Why the route must step back, or nil. `requests`/`errors`/`p99` cover the configured window.
    public static func breach(_ settings: AutoRollbackSettings, requests: Int64, errors: Int64, p99: Duration?) -> String? {
        guard requests >= Int64(settings.minRequests) else { return nil }
        let rate = Double(errors) / Double(requests)
        let window = Quantities.format(settings.window)
        if let bound = settings.errorRate, rate > bound {
            return "new's error rate \(Gates.percent(rate)) over \(requests) requests in \(window) is above \(Gates.percent(bound))"
        }
        if let bound = settings.latencyP99, let p99, p99 > bound {
            return "new's p99 latency \(Quantities.format(p99)) over \(requests) requests in \(window) is above \(Quantities.format(bound))"
        }
        return nil
    }

    /// The phase a route steps back to from `phase`.
    public static func previous(_ phase: Phase) -> Phase {
        Phase.allCases[max(0, phase.rank - 1)]
    }
}
