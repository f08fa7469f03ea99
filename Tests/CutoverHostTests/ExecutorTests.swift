import CutoverCore
@testable import CutoverHost
import CutoverTestSupport
import Testing

/// The command lines each executor runs, and a command run for real through the local and the namespace executor.
@Suite("Executors", .timeLimit(.minutes(1)))
struct ExecutorTests {
    @Test func aNamespaceCommandRunsUnderIPNetnsExec() {
        #expect(NetnsExecutor(name: "old").commandLine(for: ["systemctl", "stop", "shop"]) == ["ip", "netns", "exec", "old", "systemctl", "stop", "shop"])
        #expect(LocalExecutor().commandLine(for: ["true"]) == ["true"])
    }

    @Test func sshIsKeyBasedWithATimeoutAndTheHostKeyChecked() {
        let ssh = SSHExecutor(user: "root", host: "198.18.0.2", port: 2222)
        #expect(ssh.commandLine(for: ["rsync", "--version"]) == [
            "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-p", "2222", "-o", "StrictHostKeyChecking=yes",
            "root@198.18.0.2", "--", "rsync --version",
        ])
        let unchecked = SSHExecutor(user: "root", host: "h", options: .init(connectTimeout: .seconds(2), checkHostKey: false, identityFile: "/k"))
        #expect(unchecked.commandLine(for: ["true"]) == [
            "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "-p", "22", "-o", "StrictHostKeyChecking=no", "-o",
            "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-i", "/k", "-o", "IdentitiesOnly=yes", "root@h", "--", "true",
        ])
    }

    @Test func everyArgumentReachesTheRemoteShellAsOneWord() {
        #expect(SSHExecutor.quoted("/var/lib/shop/") == "/var/lib/shop/")
        #expect(SSHExecutor.quoted("") == "''")
        #expect(SSHExecutor.quoted("two words") == "'two words'")
        #expect(SSHExecutor.quoted("it's; rm -rf /") == "'it'\\''s; rm -rf /'")
        #expect(SSHExecutor.quoted("$(id)") == "'$(id)'")
    }

    @Test func theFactoryMakesTheExecutorOfAnAddress() {
        #expect(Executors.make(.local).address == .local)
        #expect(Executors.make(.netns("new")).address == .netns("new"))
        #expect(Executors.make(.ssh(user: "u", host: "h", port: 2)).address == .ssh(user: "u", host: "h", port: 2))
    }

    @Test func aShellCommandRunsLocally() async throws {
        let result = try await LocalExecutor().shell("printf '%s' \"$((6 * 7))\"", timeout: .seconds(20))
        #expect(result.succeeded)
        #expect(result.stdout == "42")
    }

    @Test(.enabled(if: Lab.available, Lab.unavailableReason))
    func aNamespaceCommandSeesTheNamespacesInterfaces() async throws {
        try await Lab.with { lab in
            let result = try await NetnsExecutor(name: lab.old).run(["ip", "-o", "addr", "show", "dev", "eth0"], timeout: .seconds(20))
            #expect(result.succeeded)
            #expect(result.stdout.contains(lab.address(.old).description + "/24"))
        }
    }
}
