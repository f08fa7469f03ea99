import ArgumentParser
import CutoverCore
import Logging

/// `cutover`: the command line of the gateway.
@main
struct CutoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cutover",
        abstract: "A service-traffic cutover gateway: move traffic from an old backend to its rewrite, route by route, with evidence.",
        version: CutoverVersion.current,
        subcommands: [ServeCommand.self, CheckConfigCommand.self, DemoCommand.self, DiffsCommand.self, ReconcileCommand.self,
                      RoutesCommand.self, PhaseCommand.self, FlagsCommand.self, AuditCommand.self, InstancesCommand.self, HostCommand.self, IPCommand.self, DNSCommand.self,
                      ReportCommand.self, PlanCommand.self]
    )

    /// Runs the command; bad usage exits 2 (not ArgumentParser's 64), as every bad input does.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                printError(fullMessage(for: error))
                exit(withError: ExitCode(2))
            }
            exit(withError: error)
        }
    }
}

/// Options every long-running command shares.
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    /// Sets up logging to standard error once per process.
    func bootstrap() -> Logger {
        LoggingBootstrap.once(level: logLevel)
        var logger = Logger(label: "cutover")
        logger.logLevel = logLevel
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Guards `LoggingSystem.bootstrap`, which may run only once per process.
enum LoggingBootstrap {
    private static let done = LockedFlag()

    static func once(level: Logger.Level) {
        guard done.setOnce() else { return }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
