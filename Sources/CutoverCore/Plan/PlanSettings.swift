/// The migration as a checklist of steps (`plan:`), some passed by evidence Cutover holds (gates), some confirmed by a
/// person (what no gateway can see: jobs the new service runs separately, consumers moved to a new consumer group),
/// some carried out by Cutover (a phase change through the gated path of the API, a host cutover task).
public struct PlanSettings: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// Passes when its evidence holds.
        case gate
        /// Passes when its evidence holds and a person confirmed it.
        case manual
        /// Carried out by Cutover once its evidence holds.
        case action
    }

    /// Evidence a step needs, over Cutover's own state. `routes` nil: every route.
    public enum Predicate: Sendable, Hashable {
        /// Every route at `phase` or beyond.
        case phase(Phase, routes: [String]?)
        /// Every route in `phase` (or beyond) for at least `duration` since it entered it.
        case inPhase(Phase, duration: Duration, routes: [String]?)
        /// Every route's comparison over `window`: at least `minCompared` compared, a diff rate of at most `below`.
        case diffRate(below: Double, minCompared: Int64, window: Duration, routes: [String]?)
        /// The latest finished reconciliation of every table pair clean.
        case reconcileClean
        /// The task's latest host run done.
        case hostRun(task: String)
    }

    public enum Action: Sendable, Hashable {
        /// Moves the routes to `phase`, gate by gate as `PUT /api/v1/routes/{route}/phase` does.
        case phase(Phase, routes: [String]?)
        /// Runs the host cutover task (its runbook, journaled as `cutover host run` does).
        case hostTask(String)
    }

    public struct Step: Sendable, Hashable {
        public var name: String
        public var owner: String
        public var kind: Kind
        public var description: String
        public var requires: [Predicate]
        public var action: Action?

        public init(name: String, owner: String, kind: Kind, description: String, requires: [Predicate] = [], action: Action? = nil) {
            self.name = name
            self.owner = owner
            self.kind = kind
            self.description = description
            self.requires = requires
            self.action = action
        }
    }

    public var steps: [Step]
    /// Webhooks told of every step event (`started`, `done`, `blocked`, `rolled_back`), with a JSON body.
    public var notify: [String]

    public init(steps: [Step], notify: [String] = []) {
        self.steps = steps
        self.notify = notify
    }

    public func step(named name: String) -> Step? { steps.first { $0.name == name } }

    /// The nine steps of a backend service's migration, for this configuration's routes, reconciliation and host
    /// tasks: what `plan: {}` (or `plan:` without `steps:`) runs.
    public static func template(routes: [Route], reconciled: Bool, hostTasks: [String], shadowFor: Duration = .seconds(3 * 86_400)) -> [Step] {
        let splittable = routes.filter { $0.id != nil || $0.aggregate != nil }.map(\.name)
        var steps: [Step] = [
            Step(name: "new-database", owner: "database", kind: .manual,
                 description: "the new database is online, written twice and compared"),
            Step(name: "new-service", owner: "service", kind: .manual,
                 description: "the new service is online without traffic: its jobs run separately, its message consumers on a new consumer group"),
            Step(name: "comparator", owner: "cutover", kind: .gate, description: "the comparator is online and the databases are reconciled on a schedule",
                 requires: reconciled ? [.reconcileClean] : []),
            Step(name: "shadow", owner: "cutover", kind: .action, description: "the old service's traffic goes through Cutover, copied to new",
                 action: .phase(.shadow, routes: nil)),
            Step(name: "clean-diffs", owner: "service", kind: .gate, description: "run for days and fix until the diff report is clean",
                 requires: [.inPhase(.shadow, duration: shadowFor, routes: nil), .diffRate(below: 0.001, minCompared: 1000, window: .seconds(3600), routes: nil)]
                    + (reconciled ? [.reconcileClean] : [])),
        ]
        if !splittable.isEmpty {
            steps.append(Step(name: "gray", owner: "cutover", kind: .action, description: "gray release by entity ID",
                              action: .phase(.gray, routes: splittable)))
            steps.append(Step(name: "transition", owner: "cutover", kind: .action, description: "list aggregation off: new IDs only on new",
                              action: .phase(.drain, routes: splittable)))
        }
        steps.append(Step(name: "cutover", owner: "cutover", kind: .action, description: "every route on new; old only forwards",
                          action: .phase(.new, routes: nil)))
        for task in hostTasks {
            steps.append(Step(name: hostTasks.count == 1 ? "ip-float" : "ip-float-\(task)", owner: "operations", kind: .action,
                              description: "the host cutover of \(task): the service moves to its new host and its address floats",
                              requires: [.phase(.new, routes: nil)], action: .hostTask(task)))
        }
        return steps
    }
}
