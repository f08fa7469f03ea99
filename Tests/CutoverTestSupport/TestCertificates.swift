import Foundation

/// A throwaway certificate authority and a server certificate (by default for
/// 127.0.0.1 and localhost), made with the openssl command line in a temporary folder.
public struct TestCertificates: Sendable {
    public let directory: String
    public var caFile: String { directory + "/ca.pem" }
    public var certificateFile: String { directory + "/server.pem" }
    public var keyFile: String { directory + "/server.key" }

    public static func make(names: [String] = ["IP:127.0.0.1", "DNS:localhost"]) throws -> TestCertificates {
        let directory = NSTemporaryDirectory() + "cutover-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "subjectAltName=\(names.joined(separator: ","))\nbasicConstraints=CA:FALSE\n"
            .write(toFile: directory + "/ext.cnf", atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try run(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", "/CN=Cutover Test CA"], in: directory)
        try run(["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"], in: directory)
        try run(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", "server.pem", "-days", "3650", "-extfile", "ext.cnf"], in: directory)
        return TestCertificates(directory: directory)
    }

    /// A client certificate the same CA issues (for mutual TLS): its certificate and key files.
    public func issueClient(named name: String) throws -> (certificate: String, key: String) {
        try "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n".write(toFile: directory + "/client-ext.cnf", atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.run(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name)"], in: directory)
        try Self.run(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                      "-out", "\(name).pem", "-days", "3650", "-extfile", "client-ext.cnf"], in: directory)
        return (directory + "/\(name).pem", directory + "/\(name).key")
    }

    /// Removes the folder.
    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func run(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestTools.executable("openssl", debianPackage: "openssl"))
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TimedOut(what: "openssl \(arguments.joined(separator: " ")) to succeed (exit \(process.terminationStatus))")
        }
    }
}
