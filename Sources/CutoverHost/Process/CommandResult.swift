/// What a command run on a host came to: how it ended, what it wrote (the first `outputLimit` bytes of each stream,
/// and how many there were in all), and how long it took. Kept in the journal as it is.
public struct CommandResult: Sendable, Equatable {
    /// The command as it was run on this machine (with the executor's own prefix: `ip netns exec …`, `ssh …`).
    public var arguments: [String]
    /// The exit status; 128 + the signal's number when a signal ended it.
    public var status: Int32
    /// The command ran past its timeout and was killed (with its process group).
    public var timedOut: Bool
    public var stdout: String
    public var stderr: String
    /// Bytes written to each stream in all (more than kept when the output was longer than the bound).
    public var stdoutBytes: Int
    public var stderrBytes: Int
    public var duration: Duration

    /// It exited 0 in time.
    public var succeeded: Bool { status == 0 && !timedOut }

    /// A line for an error message: the command, how it ended, and the first line of what it said.
    public var summary: String {
        let command = arguments.joined(separator: " ")
        if timedOut { return "'\(command)' did not finish within its timeout and was killed" }
        let said = (stderr.isEmpty ? stdout : stderr).split(separator: "\n").first.map { ": \($0)" } ?? ""
        return "'\(command)' exited with status \(status)\(said)"
    }
}

/// A command that could not be started at all.
public struct CommandError: Error, Sendable, CustomStringConvertible {
    public var arguments: [String]
    public var reason: String
    public var description: String { "could not run '\(arguments.joined(separator: " "))': \(reason)" }
}
