import Yams

/// The `plan:` section: its steps (the nine-step template where it names none), their evidence and actions, and the
/// webhooks told of every step event.
extension ConfigBuilder {
    static let planKeys = ["steps", "notify", "shadow_for"]
    static let stepKeys = ["name", "owner", "kind", "description", "requires", "action"]

    func plan(_ node: Node, at path: ConfigPath, routes: [Route], reconciled: Bool, hostTasks: [String]) -> PlanSettings? {
        guard let view = reader.mapping(node, at: path, keys: Self.planKeys) else { return nil }
        var notify: [String] = []
        if let value = view["notify"], let urls = strings(value, at: view.path("notify")) {
            for (index, url) in urls.enumerated() {
                if url.hasPrefix("http://") || url.hasPrefix("https://") { notify.append(url) } else {
                    reader.report(view.path("notify").appending(index: index), value, "'\(url)' is not an http:// or https:// URL")
                }
            }
        }
        let routeNames = routes.map(\.name)
        guard let value = view["steps"] else {
            let shadowFor = view["shadow_for"].flatMap { reader.duration($0, at: view.path("shadow_for")) } ?? .seconds(3 * 86_400)
            return PlanSettings(steps: PlanSettings.template(routes: routes, reconciled: reconciled, hostTasks: hostTasks, shadowFor: shadowFor),
                                notify: notify)
        }
        if let node = view["shadow_for"] {
            reader.report(view.path("shadow_for"), node, "shadow_for shapes the template, and steps: replaces it", fix: "write the duration in the step's in_phase")
        }
        guard let list = reader.list(value, at: view.path("steps")) else { return nil }
        var steps: [PlanSettings.Step] = []
        for (index, item) in list.enumerated() {
            let itemPath = view.path("steps").appending(index: index)
            guard let step = self.step(item, at: itemPath, routes: routeNames, hostTasks: hostTasks) else { continue }
            if steps.contains(where: { $0.name == step.name }) {
                reader.report(itemPath.appending("name"), item, "a step named '\(step.name)' is already listed", fix: "give every step its own name")
                continue
            }
            steps.append(step)
        }
        if list.isEmpty { reader.report(view.path("steps"), value, "a plan needs at least one step") }
        return PlanSettings(steps: steps, notify: notify)
    }

    private func step(_ node: Node, at path: ConfigPath, routes: [String], hostTasks: [String]) -> PlanSettings.Step? {
        guard let view = reader.mapping(node, at: path, keys: Self.stepKeys) else { return nil }
        let name = required(view, "name").flatMap { reader.string($0, at: view.path("name")) }
        if let name, !isName(name) {
            reader.report(view.path("name"), view["name"], "'\(name)' is not a step name (letters, digits, '-', '_' and '.')")
        }
        let owner = view["owner"].flatMap { reader.string($0, at: view.path("owner")) } ?? "operator"
        var kind: PlanSettings.Kind?
        if let value = required(view, "kind"), let text = reader.string(value, at: view.path("kind")) {
            kind = PlanSettings.Kind(rawValue: text)
            if kind == nil { reader.report(view.path("kind"), value, "'\(text)' is not a kind of step: gate, manual or action") }
        }
        let description = view["description"].flatMap { reader.string($0, at: view.path("description")) } ?? ""
        var requires: [PlanSettings.Predicate] = []
        if let value = view["requires"], let list = reader.list(value, at: view.path("requires")) {
            for (index, item) in list.enumerated() {
                if let predicate = predicate(item, at: view.path("requires").appending(index: index), routes: routes, hostTasks: hostTasks) {
                    requires.append(predicate)
                }
            }
        }
        let action = view["action"].flatMap { self.action($0, at: view.path("action"), routes: routes, hostTasks: hostTasks) }
        if kind == .action, action == nil, view["action"] == nil {
            reader.report(view.path("action"), node, "a step of kind action needs its action", fix: "write action: { phase: gray } or action: { host_task: NAME }")
        }
        if let kind, kind != .action, let value = view["action"] {
            reader.report(view.path("action"), value, "a \(kind.rawValue) step performs nothing", fix: "make it kind: action, or remove action:")
        }
        guard let name, let kind else { return nil }
        return PlanSettings.Step(name: name, owner: owner, kind: kind, description: description, requires: requires, action: action)
    }

    /// `routes:` of a predicate or an action: names of configured routes; nil for every route.
    private func routeList(_ view: MappingView, routes: [String]) -> [String]? {
        guard let value = view["routes"], let names = strings(value, at: view.path("routes")) else { return nil }
        for (index, name) in names.enumerated() where !routes.contains(name) {
            reader.report(view.path("routes").appending(index: index), value, "no route named '\(name)'", fix: "name routes of routes:")
        }
        return names
    }

    private func predicate(_ node: Node, at path: ConfigPath, routes: [String], hostTasks: [String]) -> PlanSettings.Predicate? {
        if case .scalar(let scalar) = node {
            guard scalar.string == "reconcile_clean" else {
                reader.report(path, node, "'\(scalar.string)' is not evidence a step can require",
                              fix: "write reconcile_clean, or a mapping: phase, in_phase, diff_rate, host_run")
                return nil
            }
            return .reconcileClean
        }
        guard let view = reader.mapping(node, at: path, keys: ["phase", "in_phase", "for", "diff_rate", "min_compared", "window", "host_run", "routes"]) else {
            return nil
        }
        let named = routeList(view, routes: routes)
        let kinds = ["phase", "in_phase", "diff_rate", "host_run"].filter { view[$0] != nil }
        if kinds.count > 1 {
            reader.report(path, node, "one piece of evidence per entry, not \(kinds.joined(separator: " and "))", fix: "write each as its own entry of requires:")
            return nil
        }
        for (key, owner) in [("for", "in_phase"), ("min_compared", "diff_rate"), ("window", "diff_rate")] where view[key] != nil && view[owner] == nil {
            reader.report(view.path(key), view[key], "\(key) goes with \(owner)")
        }
        if let value = view["in_phase"] {
            let duration = required(view, "for").flatMap { reader.duration($0, at: view.path("for")) }
            guard let phase = phase(value, at: view.path("in_phase")), let duration else { return nil }
            return .inPhase(phase, duration: duration, routes: named)
        }
        if let value = view["phase"] { return phase(value, at: view.path("phase")).map { .phase($0, routes: named) } }
        if let value = view["diff_rate"] {
            let below = reader.double(value, at: view.path("diff_rate"), in: 0...1)
            let minCompared = view["min_compared"].flatMap { reader.int($0, at: view.path("min_compared"), in: 0...Int.max) } ?? 1000
            let window = view["window"].flatMap { reader.duration($0, at: view.path("window"), minimum: .seconds(60)) } ?? .seconds(3600)
            return below.map { .diffRate(below: $0, minCompared: Int64(minCompared), window: window, routes: named) }
        }
        if let value = view["host_run"], let task = reader.string(value, at: view.path("host_run")) {
            guard hostTasks.contains(task) else {
                reader.report(view.path("host_run"), value, "no host task named '\(task)'", fix: "name a task of host_cutover.tasks")
                return nil
            }
            return .hostRun(task: task)
        }
        reader.report(path, node, "the evidence is missing", fix: "write one of phase, in_phase (with for), diff_rate, host_run")
        return nil
    }

    private func action(_ node: Node, at path: ConfigPath, routes: [String], hostTasks: [String]) -> PlanSettings.Action? {
        guard let view = reader.mapping(node, at: path, keys: ["phase", "routes", "host_task"]) else { return nil }
        if let value = view["host_task"], let task = reader.string(value, at: view.path("host_task")) {
            guard hostTasks.contains(task) else {
                reader.report(view.path("host_task"), value, "no host task named '\(task)'", fix: "name a task of host_cutover.tasks")
                return nil
            }
            return .hostTask(task)
        }
        if let value = view["phase"] {
            let named = routeList(view, routes: routes)
            return phase(value, at: view.path("phase")).map { .phase($0, routes: named) }
        }
        reader.report(path, node, "the action is missing", fix: "write phase: P (with routes:), or host_task: NAME")
        return nil
    }
}
