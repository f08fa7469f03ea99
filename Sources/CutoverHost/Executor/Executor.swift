import CutoverCore

/// Runs commands on one host. Every command of the host side goes through an executor, so the same runbook step
/// runs on this machine, in a network namespace of it, or over ssh.
public protocol Executor: Sendable {
    /// Where the commands run.
    var address: ExecutorAddress { get }

    /// The command line that runs `arguments` on the host, as this machine runs it.
    func commandLine(for arguments: [String]) -> [String]
}

extension Executor {
    /// Runs a program with its arguments on the host, bounded by `timeout`.
    public func run(_ arguments: [String], timeout: Duration, outputLimit: Int = ProcessRunner.defaultOutputLimit) async throws -> CommandResult {
        try await ProcessRunner.run(commandLine(for: arguments), timeout: timeout, outputLimit: outputLimit)
    }

    /// Runs a shell command (`sh -c`) on the host: how service commands of a task's configuration are written.
    public func shell(_ script: String, timeout: Duration, outputLimit: Int = ProcessRunner.defaultOutputLimit) async throws -> CommandResult {
        try await run(["sh", "-c", script], timeout: timeout, outputLimit: outputLimit)
    }
}

/// Makes the executor for an address.
public enum Executors {
    /// `sshOptions` applies to `ssh://` addresses only.
    public static func make(_ address: ExecutorAddress, ssh sshOptions: SSHExecutor.Options = .init()) -> any Executor {
        switch address {
        case .local: return LocalExecutor()
        case .netns(let name): return NetnsExecutor(name: name)
        case .ssh(let user, let host, let port): return SSHExecutor(user: user, host: host, port: port, options: sshOptions)
        }
    }
}

/// Commands run on this machine as they are.
public struct LocalExecutor: Executor {
    public init() {}
    public var address: ExecutorAddress { .local }
    public func commandLine(for arguments: [String]) -> [String] { arguments }
}

/// Commands run inside a network namespace of this machine (`ip netns exec NAME …`); sockets the host side opens
/// for it (announcements, probes) are opened inside the namespace too (``NetworkNamespace``).
public struct NetnsExecutor: Executor {
    public let name: String
    public init(name: String) { self.name = name }
    public var address: ExecutorAddress { .netns(name) }
    public func commandLine(for arguments: [String]) -> [String] { ["ip", "netns", "exec", name] + arguments }
}

/// Commands run on another machine with the OpenSSH client: key-based only (`BatchMode=yes`: never a password
/// prompt), a connect timeout, and the host key checked unless the configuration says otherwise.
public struct SSHExecutor: Executor {
    public struct Options: Sendable, Equatable {
        /// How long the TCP connection and the ssh handshake may take.
        public var connectTimeout: Duration
        /// Whether the host key must be known (`StrictHostKeyChecking=yes`); off only where the configuration says so.
        public var checkHostKey: Bool
        /// A private key file to use instead of the client's defaults.
        public var identityFile: String?
        /// The known-hosts file the host key is checked against, instead of the user's `~/.ssh/known_hosts`.
        public var knownHostsFile: String?

        public init(connectTimeout: Duration = .seconds(5), checkHostKey: Bool = true, identityFile: String? = nil, knownHostsFile: String? = nil) {
            self.connectTimeout = connectTimeout
            self.checkHostKey = checkHostKey
            self.identityFile = identityFile
            self.knownHostsFile = knownHostsFile
        }

        /// The OpenSSH client with these options, up to the destination: what every command and rsync's transport run.
        public func clientArguments(port: Int) -> [String] {
            let seconds = max(1, Int(connectTimeout.components.seconds))
            var line = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=\(seconds)", "-p", String(port)]
            line += checkHostKey ? ["-o", "StrictHostKeyChecking=yes"] + (knownHostsFile.map { ["-o", "UserKnownHostsFile=\($0)"] } ?? [])
                : ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
            if let identity = identityFile { line += ["-i", identity, "-o", "IdentitiesOnly=yes"] }
            return line
        }
    }

    public let user: String
    public let host: String
    public let port: Int
    public let options: Options

    public init(user: String, host: String, port: Int = 22, options: Options = .init()) {
        self.user = user
        self.host = host
        self.port = port
        self.options = options
    }

    public var address: ExecutorAddress { .ssh(user: user, host: host, port: port) }

    public func commandLine(for arguments: [String]) -> [String] {
        // The remote side runs one shell command line: every argument quoted, so none is split or expanded there.
        options.clientArguments(port: port) + ["\(user)@\(host)", "--", arguments.map(Self.quoted).joined(separator: " ")]
    }

    /// `text` as one word of a POSIX shell command line.
    static func quoted(_ text: String) -> String {
        if !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./=:,@%+".contains($0)) }) { return text }
        return "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }
}
