@testable import CutoverHost
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Commands the host side runs: how they end, what of their output is kept, their timeout, and what they inherit.
@Suite("Process runner", .timeLimit(.minutes(1)))
struct ProcessRunnerTests {
    @Test func statusAndBothStreamsAreKept() async throws {
        let result = try await ProcessRunner.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout: .seconds(20))
        #expect(result.status == 3)
        #expect(!result.succeeded && !result.timedOut)
        #expect(result.stdout == "out\n")
        #expect(result.stderr == "err\n")
        #expect(result.summary == "'sh -c echo out; echo err >&2; exit 3' exited with status 3: err")
        let ok = try await ProcessRunner.run(["true"], timeout: .seconds(20))
        #expect(ok.succeeded && ok.stdout.isEmpty)
    }

    @Test func aSignalIsStatus128Plus() async throws {
        let result = try await ProcessRunner.run(["sh", "-c", "kill -TERM $$"], timeout: .seconds(20))
        #expect(result.status == 128 + SIGTERM)
    }

    @Test func outputBeyondTheBoundIsCountedNotKept() async throws {
        let result = try await ProcessRunner.run(["sh", "-c", "head -c 100000 /dev/zero | tr '\\000' a"], timeout: .seconds(20), outputLimit: 1000)
        #expect(result.succeeded)
        #expect(result.stdout == String(repeating: "a", count: 1000))
        #expect(result.stdoutBytes == 100_000)
    }

    @Test func aCommandPastItsTimeoutIsKilledWithItsChildren() async throws {
        let marker = NSTemporaryDirectory() + "cutover-runner-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(marker) }
        // The timeout leaves the shell time to write its child's pid even on a loaded machine.
        let result = try await ProcessRunner.run(["sh", "-c", "sleep 600 & echo $! > \(marker); wait"], timeout: .seconds(3))
        #expect(result.timedOut && !result.succeeded)
        #expect(result.summary.hasSuffix("did not finish within its timeout and was killed"))
        let child = try #require(pid_t(try String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // The whole process group was killed: the child dies (SIGKILL is delivered asynchronously: watched for at
        // most 5 s) and is gone, or a zombie waiting for init to reap it.
        func state() -> Substring? {
            (try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8))?.split(separator: " ").dropFirst(2).first
        }
        for _ in 0..<500 where !(state() == nil || state() == "Z") { try await Task.sleep(for: .milliseconds(10)) }
        #expect(state() == nil || state() == "Z", "the command's child is still running: \(state() ?? "")")
    }

    @Test func aDaemonHoldingThePipesDoesNotHoldTheCommand() async throws {
        let result = try await ProcessRunner.run(["sh", "-c", "sleep 600 & echo $!; echo started"], timeout: .seconds(30))
        #expect(!result.timedOut, "the command returned when it exited, not when its daemon did")
        #expect(result.succeeded)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.last == "started")
        if let daemon = lines.first.flatMap({ pid_t($0) }) { kill(daemon, SIGKILL) }
    }

    @Test func theChildInheritsNoDescriptorButTheStandardThree() async throws {
        // A descriptor without close-on-exec, as NIO's sockets are.
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(socketFD > 2)
        defer { close(socketFD) }
        let result = try await ProcessRunner.run(["sh", "-c", "ls /proc/self/fd"], timeout: .seconds(20))
        #expect(result.succeeded)
        // `ls` itself opens one descriptor to list the folder; nothing else beyond 0, 1 and 2.
        let descriptors = result.stdout.split(separator: "\n").compactMap { Int($0) }.filter { $0 > 2 }
        #expect(descriptors.count <= 1, "inherited: \(descriptors)")
        let shell = try await ProcessRunner.run(["sh", "-c", "[ -e /proc/$$/fd/\(socketFD) ] && echo inherited || echo clean"], timeout: .seconds(20))
        #expect(shell.stdout == "clean\n")
    }

    @Test func aMissingProgramIsNamed() async throws {
        await #expect(throws: CommandError.self) { try await ProcessRunner.run(["cutover-no-such-tool"], timeout: .seconds(5)) }
        do {
            _ = try await ProcessRunner.run(["cutover-no-such-tool", "x"], timeout: .seconds(5))
            Issue.record("a missing program ran")
        } catch let error as CommandError {
            #expect(error.description == "could not run 'cutover-no-such-tool x': cutover-no-such-tool is not installed (not found on PATH)")
        }
    }
}
