import CCutoverHost
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Runs commands on this machine with `posix_spawn`: the child gets /dev/null as its input, a pipe for each output
/// stream, default signal handling, its own process group, and no other descriptor of this process (NIO's sockets are
/// not close-on-exec: a child holding a copy of a client's socket would keep that connection open). The output is
/// kept up to a bound per stream and counted beyond it; past its timeout the command's whole process group is killed.
/// A command whose own children keep its pipes open (a daemon it starts) ends when the command itself exits.
public enum ProcessRunner {
    /// The bound on each stream kept in a result.
    public static let defaultOutputLimit = 64 * 1024

    /// Runs `arguments` (the program looked up on PATH) to its end or its timeout, on a thread of its own.
    public static func run(_ arguments: [String], timeout: Duration, outputLimit: Int = defaultOutputLimit) async throws -> CommandResult {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try runBlocking(arguments, timeout: timeout, outputLimit: outputLimit) })
            }
            thread.name = "cutover-process"
            thread.start()
        }
    }

    /// Runs `arguments` on the calling thread (which it blocks).
    public static func runBlocking(_ arguments: [String], timeout: Duration, outputLimit: Int = defaultOutputLimit) throws -> CommandResult {
        guard let program = arguments.first, !program.isEmpty else { throw CommandError(arguments: arguments, reason: "no program named") }
        var out: [Int32] = [-1, -1], err: [Int32] = [-1, -1]
        guard cutover_pipe(&out) == 0 else { throw CommandError(arguments: arguments, reason: String(cString: strerror(errno))) }
        guard cutover_pipe(&err) == 0 else {
            close(out[0]); close(out[1])
            throw CommandError(arguments: arguments, reason: String(cString: strerror(errno)))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        let closing = cutover_spawn_close_from(&actions, 3)
        guard closing == 0 else {
            close(out[0]); close(out[1]); close(err[0]); close(err[1])
            throw CommandError(arguments: arguments, reason: "cannot close inherited descriptors in the child: \(String(cString: strerror(closing)))")
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let start = ContinuousClock.now
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, program, &actions, &attributes, &argv, environ)
        close(out[1])
        close(err[1])
        guard spawned == 0 else {
            close(out[0]); close(err[0])
            throw CommandError(arguments: arguments, reason: spawned == ENOENT ? "\(program) is not installed (not found on PATH)" : String(cString: strerror(spawned)))
        }
        defer { close(out[0]); close(err[0]) }

        var stdout = Capture(limit: outputLimit), stderr = Capture(limit: outputLimit)
        var open: [(fd: Int32, stream: Int)] = [(out[0], 1), (err[0], 2)]
        let deadline = start + timeout
        var status: Int32?
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        func drain(_ fd: Int32, into stream: Int) -> Bool {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                if stream == 1 { stdout.append(buffer[0..<count]) } else { stderr.append(buffer[0..<count]) }
                return true
            }
            return count < 0 && errno == EINTR
        }
        while status == nil {
            let now = ContinuousClock.now
            if now >= deadline {
                kill(-pid, SIGKILL)
                timedOut = true
                break
            }
            // Wake at least every 50 ms to see whether the command itself has exited.
            let wait = min(deadline - now, .milliseconds(50))
            let milliseconds = Int32(max(1, wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000))
            var fds = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), milliseconds)
            if ready > 0 {
                var still: [(fd: Int32, stream: Int)] = []
                for (index, entry) in open.enumerated() {
                    if fds[index].revents == 0 || drain(entry.fd, into: entry.stream) { still.append(entry) }
                }
                open = still
            }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = raw }
        }
        var raw: Int32 = 0
        if status == nil {
            while waitpid(pid, &raw, 0) < 0, errno == EINTR {}
            status = raw
        }
        // What is already written is kept; descriptors held open by a daemon the command started are not waited for.
        for entry in open {
            let flags = fcntl(entry.fd, F_GETFL)
            _ = fcntl(entry.fd, F_SETFL, flags | O_NONBLOCK)
            while drain(entry.fd, into: entry.stream) {}
        }
        let rawStatus = status ?? 0
        let exit = (rawStatus & 0x7F) == 0 ? (rawStatus >> 8) & 0xFF : 128 + (rawStatus & 0x7F)
        return CommandResult(arguments: arguments, status: exit, timedOut: timedOut, stdout: stdout.text, stderr: stderr.text,
                             stdoutBytes: stdout.total, stderrBytes: stderr.total, duration: ContinuousClock.now - start)
    }

    /// One output stream: its first `limit` bytes, and how many came in all.
    private struct Capture {
        let limit: Int
        var kept: [UInt8] = []
        var total = 0

        mutating func append(_ bytes: ArraySlice<UInt8>) {
            total += bytes.count
            let room = limit - kept.count
            if room > 0 { kept += bytes.prefix(room) }
        }

        var text: String { String(decoding: kept, as: UTF8.self) }
    }
}
