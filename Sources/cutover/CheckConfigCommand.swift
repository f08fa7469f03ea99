import ArgumentParser
import CutoverCore

/// `cutover check-config --config FILE`: validates a configuration and explains every error.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file; print every error with its YAML path and line.",
        discussion: "Exit status: 0 when the file is valid, 2 when it is not."
    )

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    func run() throws {
        switch ConfigLoader.load(file: config) {
        case .success(let loaded):
            print("OK: \(config): \(Self.summary(loaded))")
        case .failure(let error):
            for issue in error.issues {
                printError(issue.formatted(source: config))
            }
            let noun = error.issues.count == 1 ? "error" : "errors"
            printError("\(config): \(error.issues.count) \(noun); nothing was applied")
            throw ExitCode(2)
        }
    }

    /// A one-line summary of a valid configuration.
    static func summary(_ config: CutoverConfig) -> String {
        var phases: [Phase: Int] = [:]
        for route in config.routes { phases[route.phase, default: 0] += 1 }
        let phaseText = Phase.allCases.compactMap { phase in phases[phase].map { "\(phase.rawValue) \($0)" } }.joined(separator: ", ")
        var parts = ["proxy \(config.listen)"]
        if let tls = config.tls { parts.append("tls \(tls.listen)") }
        parts.append("admin \(config.admin.listen)")
        parts.append("\(config.backends.count) backend\(config.backends.count == 1 ? "" : "s")")
        parts.append("\(config.routes.count) route\(config.routes.count == 1 ? "" : "s")" + (phaseText.isEmpty ? "" : " (\(phaseText))"))
        parts.append("store \(config.store)")
        if let reconcile = config.reconcile {
            let pairs = "\(reconcile.tables.count) table pair\(reconcile.tables.count == 1 ? "" : "s")"
            parts.append("reconcile \(pairs)" + (reconcile.every.map { " every \(Quantities.format($0))" } ?? ""))
        }
        if let host = config.hostCutover {
            parts.append("host cutover \(host.hosts.count) host\(host.hosts.count == 1 ? "" : "s"), \(host.tasks.count) task\(host.tasks.count == 1 ? "" : "s")")
        }
        return parts.joined(separator: ", ")
    }
}

/// Writes a line to standard error.
func printError(_ line: String) {
    var stream = StandardError()
    print(line, to: &stream)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleWriter.standardError(string)
    }
}
