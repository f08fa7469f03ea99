import ArgumentParser
import Foundation
import NIOSSL

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
