import ArgumentParser
import CutoverCore

/// `cutover serve --config FILE`: runs the gateway.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway: the proxy listener and the admin listener named in the configuration.",
        discussion: """
            SIGHUP reloads the configuration file (an invalid file is refused and the running configuration kept).
            SIGTERM or SIGINT stops accepting, lets in-flight requests finish up to shutdown.drain_timeout, then exits.
            """
    )

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap()
        let loaded: CutoverConfig
        switch ConfigLoader.load(file: config) {
        case .success(let value):
            loaded = value
        case .failure(let error):
            for issue in error.issues { printError(issue.formatted(source: config)) }
            printError("\(config): refusing to start with \(error.issues.count) configuration error(s)")
            throw ExitCode(2)
        }
        let gateway: Gateway
        do {
            gateway = try await Gateway(config: loaded, configPath: config, logger: logger)
        } catch {
            printError("cutover: cannot start: \(error)")
            throw ExitCode(1)
        }
        logger.info("cutover \(CutoverVersion.current) serving", metadata: ["config": "\(config)"])
        try await gateway.run()
    }
}
