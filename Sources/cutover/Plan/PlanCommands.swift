import ArgumentParser
import CutoverAdmin
import CutoverCore
import Foundation

/// `cutover plan`: the migration plan on a running gateway.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Walk the migration plan: see where it stands, confirm a manual step, advance, roll a step back.",
        subcommands: [PlanStatusCommand.self, PlanConfirmCommand.self, PlanAdvanceCommand.self, PlanRollbackCommand.self]
    )
}

enum PlanText {
    static func gates(_ gates: [GateResult]) -> String {
        gates.map { "  \($0.passed ? "pass" : "FAIL")  \($0.gate): \($0.message)" }.joined(separator: "\n")
    }

    static func time(_ ms: Int64) -> String { Date(timeIntervalSince1970: Double(ms) / 1000).formatted(.iso8601) }
}

/// `cutover plan status`.
struct PlanStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Every step with its state, and the next step's evidence.",
                                                    discussion: "Exit status: 0; 1 the gateway refused or could not be reached; 2 bad input.")

    @OptionGroup var options: AdminOptions

    func run() async throws {
        let (status, text) = try await options.withClient(command: "plan status") { client in
            try await client.call(.GET, "/api/v1/plan", as: PlanStatus.self)
        }
        if options.json { return print(text) }
        var table = TextTable(header: ["STEP", "KIND", "OWNER", "STATUS", "WHEN", "DESCRIPTION"])
        for step in status.steps {
            let mark = step.name == status.next ? "> " : "  "
            table.append([mark + step.name, step.kind, step.owner, step.status,
                          (step.finishedAt ?? step.confirmedAt).map(PlanText.time) ?? "", step.description])
        }
        print(table.text)
        if let next = status.steps.first(where: { $0.name == status.next }) {
            print("next: \(next.name)")
            if let gates = next.gates, !gates.isEmpty { print(PlanText.gates(gates)) }
        } else {
            print("every step is done")
        }
    }
}

/// `cutover plan confirm STEP --note N`.
struct PlanConfirmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "confirm", abstract: "Confirm a manual step (what no gateway can see).",
                                                    discussion: "Needs an operator's token. Exit status: 0 confirmed; 1 refused; 2 bad input.")

    @OptionGroup var options: AdminOptions

    @Argument(help: "The step.")
    var step: String

    @Option(name: .long, help: "What was checked; the audit log keeps it.")
    var note: String

    func validate() throws {
        if note.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("--note is empty: say what was checked") }
    }

    func run() async throws {
        let body = try JSONEncoder().encode(PlanConfirmRequest(note: note))
        let (confirmed, text) = try await options.withClient(command: "plan confirm") { client in
            try await client.call(.POST, "/api/v1/plan/steps/\(step)/confirm", body: body, as: PlanConfirmed.self)
        }
        if options.json { return print(text) }
        print("\(step) confirmed by \(confirmed.step.confirmedBy ?? "?"): \(confirmed.step.note ?? "") (audit entry \(confirmed.audit.seq))")
    }
}

/// `cutover plan advance`.
struct PlanAdvanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advance", abstract: "Perform the next step if its evidence holds; else say which evidence failed, with the numbers.",
        discussion: """
            Needs an operator's token. A host task's step begins its run in the gateway; advance again once it is done. \
            Exit status: 0 the step is done (or its host run begun); 1 refused (the gates are printed); 2 bad input.
            """)

    @OptionGroup var options: AdminOptions

    func run() async throws {
        let result: PlanAdvance
        let text: String
        do {
            (result, text) = try await options.withClient(command: "plan advance") { client in
                do {
                    return try await client.call(.POST, "/api/v1/plan/advance", as: PlanAdvance.self)
                } catch AdminClient.Failure.refused(_, 409, let body) {
                    // A step refused answers with the step and its gates; anything else is an error as usual.
                    guard let refused = try? JSONDecoder().decode(PlanAdvance.self, from: Data(body.utf8)) else { throw RefusedPlan.other(body) }
                    return (refused, body)
                }
            }
        } catch RefusedPlan.other(let reason) {
            printError("cutover plan advance: \(reason)")
            throw ExitCode(1)
        }
        if options.json {
            print(text)
        } else {
            print(result.done ? "\(result.step) done" + (result.moved.isEmpty ? "" : ": moved \(result.moved.joined(separator: ", "))")
                  : "\(result.step) not done: \(result.message)")
            if !result.gates.isEmpty { print(PlanText.gates(result.gates)) }
        }
        if !result.done, result.hostRun == nil { throw ExitCode(1) }
    }

    enum RefusedPlan: Error { case other(String) }
}

/// `cutover plan rollback STEP`.
struct PlanRollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback", abstract: "Undo a done step and every step done after it: routes back to their phases, confirmations dropped.",
        discussion: "Needs an operator's token. Exit status: 0 undone; 1 refused; 2 bad input.")

    @OptionGroup var options: AdminOptions

    @Argument(help: "The step.")
    var step: String

    @Option(name: .long, help: "Why; the audit log keeps it.")
    var reason: String

    func validate() throws {
        if reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("--reason is empty: say why the step is undone") }
    }

    func run() async throws {
        let body = try JSONEncoder().encode(PlanRollbackRequest(reason: reason))
        let (rolled, text) = try await options.withClient(command: "plan rollback") { client in
            try await client.call(.POST, "/api/v1/plan/steps/\(step)/rollback", body: body, as: PlanRolledBack.self)
        }
        if options.json { return print(text) }
        print("\(step) rolled back" + (rolled.moved.isEmpty ? "" : ": moved back \(rolled.moved.joined(separator: ", "))") + " (audit entry \(rolled.audit.seq))")
    }
}
