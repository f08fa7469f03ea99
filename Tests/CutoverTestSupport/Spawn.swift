import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command to completion with posix_spawn and waitpid, its output going
/// to a temporary file: no pipe for a daemon it starts to inherit, no reliance
/// on a SIGCHLD handler. The child gets no other descriptor of this process:
/// NIO's accepted sockets are not close-on-exec, and a daemon the command starts
/// (`pg_ctl start`) holding a copy of a test's socket would keep that connection
/// from ever closing (a peer waiting for the close would wait forever).
public enum Spawn {
    public struct Failure: Error, CustomStringConvertible {
        let command: String
        let status: Int32
        let output: String
        public var description: String { "\(command) exited with \(status): \(output)" }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module does not export.
    private static var addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }

    /// Runs `arguments` (looked up on PATH) with this process's environment plus `environment` (`NAME=value`);
    /// returns what it wrote; throws when it exits non-zero.
    @discardableResult
    public static func run(_ arguments: [String], environment: [String] = []) throws -> String {
        let outputPath = NSTemporaryDirectory() + "cutover-spawn-" + UUID().uuidString
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        guard let closeFrom = Self.addCloseFrom else {
            throw Failure(command: arguments.joined(separator: " "), status: -1,
                          output: "this C library has no posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or later has it)")
        }
        _ = closeFrom(&actions, 3)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        var variables: [UnsafeMutablePointer<CChar>?] = []
        var index = 0
        while let variable = environ[index] {
            variables.append(strdup(variable))
            index += 1
        }
        variables += environment.map { strdup($0) }
        variables.append(nil)
        defer { variables.forEach { free($0) } }
        let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, &variables)
        guard spawned == 0 else {
            throw Failure(command: arguments.joined(separator: " "), status: spawned, output: String(cString: strerror(spawned)))
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard exitCode == 0 else { throw Failure(command: arguments.joined(separator: " "), status: exitCode, output: output) }
        return output
    }
}
