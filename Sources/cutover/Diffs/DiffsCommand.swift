import ArgumentParser
import CutoverAdmin
import Foundation
import NIOSSL

/// `cutover diffs`: the comparator's report from a running gateway.
struct DiffsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffs",
        abstract: "Read the comparator's report from a running gateway's admin API.",
        discussion: "The token comes from the CUTOVER_TOKEN environment variable (a viewer's token is enough).",
        subcommands: [DiffsSummaryCommand.self, DiffsShowCommand.self]
    )
}

/// Options of every command that talks to a running gateway.
struct AdminOptions: ParsableArguments {
    @Option(name: .customLong("admin"), help: "The gateway's admin listener.")
    var admin = "http://127.0.0.1:9090"

    @Flag(name: .long, help: "Print the API's JSON answer instead of a table.")
    var json = false

    @Option(name: .customLong("ca-file"), help: "With an https:// admin listener: the CA (PEM) its certificate is checked against.")
    var caFile: String?

    @Option(name: .customLong("cert-file"), help: "A client certificate (PEM) for an admin listener that asks for one.")
    var certFile: String?

    @Option(name: .customLong("key-file"), help: "The client certificate's private key (PEM).")
    var keyFile: String?

    func validate() throws {
        if let problem = AdminClient.validate(base: admin) { throw ValidationError(problem) }
        if (certFile == nil) != (keyFile == nil) { throw ValidationError("--cert-file and --key-file go together") }
        for (flag, file) in [("--ca-file", caFile), ("--cert-file", certFile), ("--key-file", keyFile)] {
            if let file, !FileManager.default.fileExists(atPath: file) { throw ValidationError("\(flag) '\(file)' does not exist") }
        }
    }

    /// The client's TLS settings from the options (nil: the defaults).
    func tlsConfiguration() throws -> TLSConfiguration? {
        guard caFile != nil || certFile != nil else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile { configuration.trustRoots = .file(caFile) }
        if let certFile, let keyFile {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
        }
        return configuration
    }

    /// Runs `body` with a client holding the token from CUTOVER_TOKEN (exit 2 when it is not set);
    /// a failed call is printed on standard error with exit 1.
    func withClient<T>(command: String, _ body: (AdminClient) async throws -> T) async throws -> T {
        guard let token = ProcessInfo.processInfo.environment["CUTOVER_TOKEN"], !token.isEmpty else {
            printError("cutover \(command): set CUTOVER_TOKEN to an admin token (one listed under admin.tokens in the gateway's configuration)")
            throw ExitCode(2)
        }
        let tls: TLSConfiguration?
        do {
            tls = try tlsConfiguration()
        } catch {
            printError("cutover \(command): cannot load the TLS files: \(error)")
            throw ExitCode(2)
        }
        do {
            return try await AdminClient.with(base: admin, token: token, tls: tls, body)
        } catch let failure as AdminClient.Failure {
            printError("cutover \(command): \(failure)")
            throw ExitCode(1)
        }
    }
}

struct DiffsSummaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Per route: compared, differing and noise-only requests, and every field that differed with its verdict."
    )

    @OptionGroup var options: AdminOptions

    @Option(name: .long, help: "Only this route.")
    var route: String?

    @Option(name: .long, help: "Only what was compared since: a duration back from now (24h), an ISO 8601 time, or seconds since 1970.")
    var since: String?

    func run() async throws {
        let (summary, text) = try await options.withClient(command: "diffs summary") { client in
            try await client.call(.GET, "/api/v1/diffs/summary", query: [("route", route), ("since", since)], as: DiffSummaryResponse.self)
        }
        print(options.json ? text : DiffReportText.summary(summary))
    }
}

struct DiffsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "The most recent samples of a route (both requests' answers and their differences), newest first."
    )

    @OptionGroup var options: AdminOptions

    @Option(name: .long, help: "The route.")
    var route: String

    @Option(name: .long, help: "Only samples differing in this field (a path from the summary, like /items/*/price).")
    var field: String?

    @Option(name: .long, help: "How many samples (1 to 200).")
    var limit = 5

    @Flag(name: .long, help: "Print whole bodies (by default each is cut at 600 characters).")
    var full = false

    func validate() throws {
        guard (1...200).contains(limit) else { throw ValidationError("--limit must be from 1 to 200, not \(limit)") }
    }

    func run() async throws {
        let (samples, text) = try await options.withClient(command: "diffs show") { client in
            try await client.call(.GET, "/api/v1/diffs/samples", query: [("route", route), ("field", field), ("limit", "\(limit)")],
                                  as: DiffSamplesResponse.self)
        }
        print(options.json ? text : DiffReportText.samples(samples, bodyLimit: full ? nil : 600))
    }
}
