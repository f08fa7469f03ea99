import CutoverTestSupport
import Foundation
import NIOConcurrencyHelpers

/// The `cutover` executable run as a child process, with its output captured.
final class CutoverProcess: Sendable {
    /// The binary `swift build` put beside the test bundle.
    static var binary: String {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return directory.appendingPathComponent("cutover").path
    }

    private let process: Process
    private let output: NIOLockedValueBox<(stdout: String, stderr: String, open: Int)>

    /// Starts `cutover` with `arguments`.
    init(_ arguments: [String], currentDirectory: String? = nil, environment: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        // Each pipe is read to its end on a thread of its own; `open` counts the pipes not yet at their end,
        // so `exitStatus()` returns only once every byte the process wrote has been collected.
        let output = NIOLockedValueBox((stdout: "", stderr: "", open: 2))
        try process.run()
        for (handle, isError) in [(out.fileHandleForReading, false), (err.fileHandleForReading, true)] {
            Thread.detachNewThread {
                while true {
                    let data = handle.availableData
                    if data.isEmpty { break }
                    let text = String(decoding: data, as: UTF8.self)
                    output.withLockedValue { if isError { $0.stderr += text } else { $0.stdout += text } }
                }
                output.withLockedValue { $0.open -= 1 }
            }
        }
        self.process = process
        self.output = output
    }

    /// What the process wrote to standard output so far.
    var stdout: String { output.withLockedValue { $0.stdout } }
    /// What the process wrote to standard error so far.
    var stderr: String { output.withLockedValue { $0.stderr } }

    /// Waits until standard error (or output) contains `text`; returns the line that holds it.
    @discardableResult
    func waitFor(_ text: String, timeout: Duration = .seconds(60)) async throws -> String {
        try await waitUntil(timeout: timeout, "'\(text)' from cutover (stderr so far: \(stderr.suffix(2000)))") {
            self.stderr.contains(text) || self.stdout.contains(text) || !self.process.isRunning
        }
        let all = stderr + "\n" + stdout
        guard let line = all.split(separator: "\n").first(where: { $0.contains(text) }) else {
            throw TimedOut(what: "'\(text)' before cutover exited with \(process.terminationStatus): \(all.suffix(2000))")
        }
        return String(line)
    }

    /// Sends a signal.
    /// The process's ID.
    var pid: Int32 { process.processIdentifier }

    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to end and for everything it wrote; returns its exit status.
    func exitStatus(timeout: Duration = .seconds(60)) async throws -> Int32 {
        try await waitUntil(timeout: timeout, "cutover to exit") { !self.process.isRunning && self.output.withLockedValue { $0.open == 0 } }
        return process.terminationStatus
    }

    /// Stops the process if it still runs.
    func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Runs `cutover` to completion.
    static func run(_ arguments: [String], in directory: String? = nil, environment: [String: String] = [:],
                    timeout: Duration = .seconds(120)) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = try CutoverProcess(arguments, currentDirectory: directory, environment: environment)
        let status = try await process.exitStatus(timeout: timeout)
        return (status, process.stdout, process.stderr)
    }

    /// The port in a log line like `… listening on http://127.0.0.1:PORT`.
    static func port(in line: String) -> Int? {
        line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}

/// A temporary folder with files, removed by `remove()`.
struct TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "cutover-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes a file; returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
