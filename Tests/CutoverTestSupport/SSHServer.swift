import CutoverCore
import CutoverHost
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// OpenSSH's server, started for a test inside one of a lab's namespaces: a host key and a client key made for it,
/// the client's key the only one it accepts (no passwords), a known-hosts file naming its key. Always stopped
/// after the test (``stop()``): a process inside a namespace outlives the namespace's removal.
public struct SSHServer: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let folder: String
    public let address: IPAddress
    public let port: Int

    /// The client's private key (`identity_file`).
    public var clientKey: String { folder + "/client" }
    /// A known-hosts file that names the server's key (`known_hosts_file`).
    public var knownHosts: String { folder + "/known_hosts" }
    /// A known-hosts file that names another key for the server's address.
    public var wrongKnownHosts: String { folder + "/wrong_known_hosts" }

    /// The executor's address of the server's host, for root.
    public var executor: ExecutorAddress { .ssh(user: "root", host: address.description, port: port) }

    /// Starts `sshd` in `namespace`, listening on `address`:`port`; `path`, when given, is the sessions' PATH.
    public static func start(in namespace: String, address: IPAddress, port: Int = 2222, path: String? = nil) async throws -> SSHServer {
        let sshd = try TestTools.executable("sshd", debianPackage: "openssh-server", folders: ["/usr/sbin"])
        let keygen = try TestTools.executable("ssh-keygen", debianPackage: "openssh-client")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-sshd-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let server = SSHServer(folder: folder, address: address, port: port)
        for key in ["host", "client", "other"] { try Spawn.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", "\(folder)/\(key)"]) }
        let hostKey = try String(contentsOfFile: folder + "/host.pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let otherKey = try String(contentsOfFile: folder + "/other.pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try "[\(address)]:\(port) \(hostKey)\n".write(toFile: server.knownHosts, atomically: true, encoding: .utf8)
        try "[\(address)]:\(port) \(otherKey)\n".write(toFile: server.wrongKnownHosts, atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: folder + "/client.pub", toPath: folder + "/authorized_keys")
        try """
            Port \(port)
            ListenAddress \(address)
            HostKey \(folder)/host
            PidFile \(folder)/sshd.pid
            AuthorizedKeysFile \(folder)/authorized_keys
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            StrictModes no
            UsePAM no
            LogLevel ERROR
            \(path.map { "SetEnv PATH=\($0)" } ?? "")

            """.write(toFile: folder + "/sshd_config", atomically: true, encoding: .utf8)
        // The privilege-separation folder the Debian package's service would make at its start.
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        let started = try ProcessRunner.runBlocking(["ip", "netns", "exec", namespace, sshd, "-f", folder + "/sshd_config"], timeout: .seconds(30))
        guard started.succeeded else { throw Failure(description: "sshd did not start: \(started.summary)") }
        // Listening once a connection is taken (the daemon may still be binding when its parent has returned).
        for _ in 0..<400 {
            let listening = try Spawn.run(["ip", "netns", "exec", namespace, "ss", "-Hltn", "sport", "=", ":\(port)"])
            if !listening.isEmpty { return server }
            try await Task.sleep(for: .milliseconds(10))
        }
        server.stop()
        throw Failure(description: "sshd did not listen on \(address):\(port) within 4 s")
    }

    /// The client options that reach this server: its client key, its host key checked against ``knownHosts``.
    public var options: SSHExecutor.Options { .init(checkHostKey: true, identityFile: clientKey, knownHostsFile: knownHosts) }

    /// Stops the server and its sessions, and removes its files.
    public func stop() {
        if let text = try? String(contentsOfFile: folder + "/sshd.pid", encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            // The sessions are the daemon's children: ended with it.
            _ = try? Spawn.run(["pkill", "-KILL", "-P", String(pid)])
            kill(pid, SIGKILL)
        }
        try? FileManager.default.removeItem(atPath: folder)
    }
}
