import Foundation
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// The programs the tests drive (openssl, PostgreSQL's server binaries, schemathesis), found where they are or
/// installed on first use, so that `swift test` passes by itself on a fresh machine: Debian packages with apt-get
/// when the tests run as root, PyPI packages into a virtual environment under `.build/test-tools/`.
public enum TestTools {
    /// Serialises installs within this process; a file lock serialises them across processes.
    private static let lock = NIOLock()

    /// Why a tool could not be had.
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    /// The package's root folder (this file is `Tests/CutoverTestSupport/TestTools.swift`).
    public static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// The path of `name`: on PATH, in one of `folders` (globs allowed), or, when missing and this process is root,
    /// after `apt-get install` of `debianPackage`.
    public static func executable(_ name: String, debianPackage: String, folders: [String] = []) throws -> String {
        if let found = find(name, folders: folders) { return found }
        try withInstallLock {
            if find(name, folders: folders) != nil { return }
            try aptInstall([debianPackage], for: name)
        }
        guard let found = find(name, folders: folders) else {
            throw Missing(description: "\(name) is still missing after installing the Debian package \(debianPackage)")
        }
        return found
    }

    /// A console script of a pinned PyPI requirement (`schemathesis==4.32.5`), installed on first use into
    /// `.build/test-tools/venv-NAME`; returns its path.
    public static func pythonTool(_ name: String, requirement: String) throws -> String {
        let folder = packageRoot + "/.build/test-tools/venv-" + requirement.replacingOccurrences(of: "==", with: "-")
        let tool = folder + "/bin/" + name
        if FileManager.default.isExecutableFile(atPath: tool) { return tool }
        try withInstallLock {
            if FileManager.default.isExecutableFile(atPath: tool) { return }
            let python = try executable("python3", debianPackage: "python3")
            try? FileManager.default.removeItem(atPath: folder)
            do {
                try Spawn.run([python, "-m", "venv", folder])
            } catch {
                // Debian's python3 makes virtual environments only with python3-venv.
                try aptInstall(["python3-venv"], for: "python3 -m venv")
                try? FileManager.default.removeItem(atPath: folder)
                try Spawn.run([python, "-m", "venv", folder])
            }
            try Spawn.run([folder + "/bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement])
        }
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            throw Missing(description: "\(requirement) installed into \(folder) but \(tool) is not there")
        }
        return tool
    }

    /// Creates the system user `name` when it does not exist (root only), e.g. the `postgres` user initdb runs as.
    public static func ensureUser(_ name: String) throws {
        guard getpwnam(name) == nil else { return }
        guard getuid() == 0 else { throw Missing(description: "the user \(name) does not exist, and only root can create it") }
        try withInstallLock {
            if getpwnam(name) != nil { return }
            try Spawn.run(["useradd", "--system", "--home-dir", "/var/lib/\(name)", "--shell", "/bin/sh", name])
        }
    }

    private static func find(_ name: String, folders: [String]) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        for folder in path + folders.flatMap(expand) {
            let candidate = folder + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The folders a pattern like `/usr/lib/postgresql/*/bin` names, newest version last.
    private static func expand(_ pattern: String) -> [String] {
        var matches = glob_t()
        defer { globfree(&matches) }
        guard glob(pattern, 0, nil, &matches) == 0 else { return [] }
        return (0..<Int(matches.gl_pathc)).compactMap { matches.gl_pathv[$0].map { String(cString: $0) } }.reversed()
    }

    private static func aptInstall(_ packages: [String], for what: String) throws {
        guard getuid() == 0 else {
            throw Missing(description: "\(what) is needed: install the Debian package(s) \(packages.joined(separator: " ")) (the tests install them when run as root)")
        }
        let environment = ["DEBIAN_FRONTEND=noninteractive"]
        do {
            try Spawn.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + packages, environment: environment)
        } catch {
            // The package lists may be missing or stale on a fresh machine.
            try Spawn.run(["apt-get", "update", "-qq"], environment: environment)
            try Spawn.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + packages, environment: environment)
        }
    }

    private static func withInstallLock(_ body: () throws -> Void) throws {
        try lock.withLock {
            let descriptor = open("/tmp/cutover-test-tools.lock", O_CREAT | O_RDWR, 0o666)
            defer { if descriptor >= 0 { close(descriptor) } }
            if descriptor >= 0 { flock(descriptor, LOCK_EX) }
            try body()
        }
    }
}
