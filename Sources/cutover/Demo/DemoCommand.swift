import ArgumentParser
import AsyncHTTPClient
import CutoverCore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// `cutover demo`: a complete small migration on one machine with no set-up.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a small migration on this machine: two demo backends, the gateway in front, traffic, and a report.",
        discussion: """
            Starts the demo's orders services on loopback (old, a second old instance as the noise baseline, and \
            new, which disagrees with old on purpose), the gateway in front of them with Config/demo.yaml in phase \
            shadow, sends a few hundred requests through it and prints what went where and the comparator's \
            report. Then it keeps serving (try the printed commands) until Ctrl-C, or exits at once with --once.
            """
    )

    /// The demo configuration shipped with the package.
    static let defaultConfig = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Config/demo.yaml").path

    @Option(name: .long, help: "The demo configuration (default: the package's Config/demo.yaml).")
    var config: String?

    @Flag(name: .long, help: "Exit after printing the report.")
    var once = false

    @Flag(name: .customLong("free-ports"), help: "Ignore the configured ports and use free ones (when 8080, 9090, 9001, 9002 or 9003 are taken).")
    var freePorts = false

    @Option(name: .long, help: "How many requests to send.")
    var requests = 300

    @Option(name: .long, help: "How many requests to keep in flight.")
    var concurrency = 8

    @Option(name: .customLong("log-level"), help: "Gateway log level.")
    var logLevel: Logger.Level = .warning

    func validate() throws {
        guard requests > 0 else { throw ValidationError("--requests must be at least 1") }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be at least 1") }
    }

    func run() async throws {
        LoggingBootstrap.once(level: logLevel)
        var logger = Logger(label: "cutover")
        logger.logLevel = logLevel
        let path = config ?? Self.defaultConfig
        guard FileManager.default.fileExists(atPath: path) else {
            printError("cutover demo: the demo configuration \(path) does not exist; pass --config Config/demo.yaml from the repository")
            throw ExitCode(2)
        }
        var loaded: CutoverConfig
        switch ConfigLoader.load(file: path) {
        case .success(let value): loaded = value
        case .failure(let error):
            for issue in error.issues { printError(issue.formatted(source: path)) }
            throw ExitCode(2)
        }

        if freePorts {
            loaded.listen.port = 0
            loaded.admin.listen.port = 0
            if loaded.tls != nil { loaded.tls!.listen.port = 0 }
        }
        var backends = [OrdersBackend(flavor: .old), OrdersBackend(flavor: .new)]
        if loaded.backend(named: "old-secondary") != nil { backends.insert(OrdersBackend(flavor: .old, name: "old-secondary"), at: 1) }
        for backend in backends {
            guard let configured = loaded.backend(named: backend.name), configured.url.scheme == .http else {
                printError("cutover demo: \(path) needs an http:// backend named '\(backend.name)' on this machine")
                throw ExitCode(2)
            }
        }

        // The demo backends run in their own service group, stopped gracefully once the gateway is done.
        var apps: [any Service] = []
        var bound: [EventLoopFuture<SocketAddress>] = []
        for backend in backends {
            let url = loaded.backend(named: backend.name)!.url
            let (app, address) = Self.makeApplication(backend, host: url.host, port: freePorts ? 0 : url.port, logger: logger)
            apps.append(app)
            bound.append(address)
        }
        let backendGroup = ServiceGroup(services: apps, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await backendGroup.run() }
            for (backend, address) in zip(backends, bound) {
                let index = loaded.backends.firstIndex { $0.name == backend.name }!
                let url = loaded.backends[index].url
                do {
                    let port = try await address.get().port ?? url.port
                    loaded.backends[index].url = BackendURL(scheme: .http, host: url.host, port: port)
                } catch {
                    printError("cutover demo: cannot start the \(backend.name) demo backend on \(url.host):\(url.port): \(error); free the port or pass --config with other ports")
                    await backendGroup.triggerGracefulShutdown()
                    throw ExitCode(1)
                }
            }
            let gateway: Gateway
            do {
                gateway = try await Gateway(config: loaded, configPath: nil, logger: logger)
            } catch {
                printError("cutover demo: cannot start the gateway on \(loaded.listen): \(error); free the port or pass --config with other ports")
                await backendGroup.triggerGracefulShutdown()
                throw ExitCode(1)
            }
            let driver = DemoDriver(gateway: gateway, config: loaded, backends: backends, requests: requests,
                                    concurrency: concurrency, once: once)
            try await gateway.run(extraConfigurations: [
                .init(service: driver, successTerminationBehavior: .gracefullyShutdownGroup,
                      failureTerminationBehavior: .gracefullyShutdownGroup)
            ])
            await backendGroup.triggerGracefulShutdown()
            try await tasks.waitForAll()
            if let failure = driver.failure.withLockedValue({ $0 }) {
                printError("cutover demo: \(failure)")
                throw ExitCode(1)
            }
        }
    }

    /// Builds a demo backend's application; the future completes with its bound address (or the bind error).
    static func makeApplication(_ backend: OrdersBackend, host: String, port: Int, logger: Logger)
        -> (any Service, EventLoopFuture<SocketAddress>)
    {
        let bound = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: SocketAddress.self)
        let app = Application(
            router: backend.makeRouter(),
            configuration: .init(address: .hostname(host, port: port), serverName: "demo-\(backend.name)"),
            onServerRunning: { channel in
                if let address = channel.localAddress { bound.succeed(address) }
            },
            logger: logger
        )
        return (BindReporting(app: app, bound: bound), bound.futureResult)
    }
}

/// Runs an application and fails its bind promise if it stops before binding.
private struct BindReporting<App: ApplicationProtocol>: Service {
    let app: App
    let bound: EventLoopPromise<SocketAddress>

    func run() async throws {
        do {
            try await app.run()
            bound.fail(CancellationError())
        } catch {
            bound.fail(error)
            throw error
        }
    }
}
