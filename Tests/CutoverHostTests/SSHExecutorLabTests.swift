import CutoverCore
import CutoverHost
import CutoverTestSupport
import Foundation
import Testing

/// The `ssh://` executor against a real OpenSSH server in a lab namespace: commands run there with their status and
/// output, arguments arrive as written, a timeout ends a command, the host key is checked, no password is ever
/// asked for; and a float onto an ssh host, announced by the tool found there.
@Suite("ssh executor in a lab", .serialized, .timeLimit(.minutes(2)), .enabled(if: Lab.available, Lab.unavailableReason))
struct SSHExecutorLabTests {
    /// A lab whose new host runs sshd (reached from this machine's namespace through the lab's bridge).
    func withServer(path: String? = nil, _ body: (Lab, SSHServer) async throws -> Void) async throws {
        try await Lab.with { lab in
            try lab.reachFromHere()
            let server = try await SSHServer.start(in: lab.new, address: lab.address(.new), path: path)
            defer { server.stop() }
            try await body(lab, server)
        }
    }

    @Test func commandsRunOnTheHostWithTheirStatusAndOutput() async throws {
        try await withServer { lab, server in
            let ssh = Executors.make(server.executor, ssh: server.options)
            let result = try await ssh.shell("echo out; echo err >&2; ip -o -4 addr show dev eth0; exit 3", timeout: .seconds(20))
            #expect(result.status == 3 && !result.timedOut, "\(result.summary)")
            #expect(result.stdout.hasPrefix("out\n") && result.stderr == "err\n", "\(result.stdout) / \(result.stderr)")
            #expect(result.stdout.contains("inet \(lab.address(.new))/24"), "the command ran on the new host")
            // Arguments arrive as written: spaces, quotes and shell characters are not split or expanded there.
            let echoed = try await ssh.run(["printf", "%s|", "a b", "it's", "$HOME", "*", ""], timeout: .seconds(20))
            #expect(echoed.succeeded && echoed.stdout == "a b|it's|$HOME|*||", "\(echoed.summary)")
        }
    }

    @Test func anInventoryOverSSHHasTheRemoteHostsSettings() async throws {
        try await withServer { lab, server in
            let ssh = Executors.make(server.executor, ssh: server.options)
            let inventory = try await HostInventoryCollector(executor: ssh, label: server.executor.description).collect()
            #expect(inventory.settings["network.interface.eth0"]?.contains("\(lab.address(.new))/24") == true,
                    "\(inventory.settings.filter { $0.key.hasPrefix("network.") })")
            #expect(inventory.addresses.contains(lab.address(.new).description))
            #expect(inventory.collectors.first { $0.name == "os" }?.status == .ok && inventory.settings["os.id"] != nil)
            #expect(inventory.collectors.first { $0.name == "listen" }?.status == .ok)
            #expect(inventory.settings["listen.tcp.2222"]?.contains("sshd@\(lab.address(.new))") == true, "sshd listens there: \(inventory.settings.filter { $0.key.hasPrefix("listen.") })")
        }
    }

    @Test func aCommandPastItsTimeoutIsEnded() async throws {
        try await withServer { _, server in
            let ssh = Executors.make(server.executor, ssh: server.options)
            let clock = ContinuousClock()
            let started = clock.now
            let result = try await ssh.run(["sleep", "30"], timeout: .seconds(1))
            #expect(result.timedOut && !result.succeeded)
            #expect(clock.now - started < .seconds(20), "the command was ended, not waited for")
        }
    }

    @Test func theHostKeyIsCheckedAndNoPasswordIsAskedFor() async throws {
        try await withServer { _, server in
            // Another key for the address: refused before any command runs.
            var wrong = server.options
            wrong.knownHostsFile = server.wrongKnownHosts
            let refused = try await Executors.make(server.executor, ssh: wrong).run(["true"], timeout: .seconds(20))
            #expect(refused.status == 255 && refused.stderr.contains("Host key verification failed"), "\(refused.summary)")
            // A key the server does not accept: BatchMode ends it at once (no password prompt to hang on).
            var stranger = server.options
            stranger.identityFile = server.folder + "/other"
            let denied = try await Executors.make(server.executor, ssh: stranger).run(["true"], timeout: .seconds(20))
            #expect(denied.status == 255 && !denied.timedOut && denied.stderr.contains("Permission denied"), "\(denied.summary)")
            // Checking off (the configuration's host_key_check: false): any key is taken.
            var unchecked = stranger
            unchecked.identityFile = server.clientKey
            unchecked.checkHostKey = false
            unchecked.knownHostsFile = server.wrongKnownHosts
            #expect(try await Executors.make(server.executor, ssh: unchecked).run(["true"], timeout: .seconds(20)).succeeded)
        }
    }

    @Test func aServerThatDoesNotAnswerFailsWithinTheConnectTimeout() async throws {
        try await withServer { lab, server in
            // Nothing listens on this port of the host: the connection is refused, promptly.
            let closed = SSHExecutor(user: "root", host: lab.address(.new).description, port: server.port + 1, options: server.options)
            let result = try await closed.run(["true"], timeout: .seconds(30))
            #expect(result.status == 255 && !result.timedOut && result.stderr.contains("Connection refused"), "\(result.summary)")
        }
    }

    /// Floats the address from the old host (a namespace) onto the new one reached by ssh.
    func floatOntoTheSSHHost(_ lab: Lab, _ server: SSHServer) async throws -> FloatReport {
        let (old, new) = (try lab.mac(.old), try lab.mac(.new))
        try lab.hold(lab.vip, on: .old)
        try lab.clientCaches(lab.vip.address, as: old)
        var float = IPFloat(addresses: [lab.vip], from: FloatSide(executor: .netns(lab.old), interface: "eth0"),
                            to: FloatSide(executor: server.executor, interface: "eth0"),
                            schedule: AnnouncementSchedule(count: 1, interval: .zero, refreshAfter: .zero))
        float.toExecutor = Executors.make(server.executor, ssh: server.options)
        let report = try await float.run()
        #expect(try !lab.holds(lab.vip.address, .old))
        #expect(try lab.holds(lab.vip.address, .new))
        #expect(try await lab.clientCache(lab.vip.address, becomes: new) == new.description, "the client learnt the new MAC")
        return report
    }

    @Test func aFloatOntoAnSSHHostWithoutCutoverAnnouncesWithArping() async throws {
        _ = try TestTools.executable("arping", debianPackage: "iputils-arping")
        try await withServer { lab, server in
            let report = try await floatOntoTheSSHHost(lab, server)
            #expect(report.method == "arping -U / ndsend on the host")
        }
    }

    @Test func aFloatOntoAnSSHHostWithCutoverAnnouncesWithIt() async throws {
        // The sessions' PATH holds this build's cutover, as a host with cutover installed has it.
        let build = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let binary = try #require(["/cutover", "/../debug/cutover"].map { build + $0 }.first { FileManager.default.isExecutableFile(atPath: $0) },
                                  "the cutover binary is built beside the tests")
        let folder = URL(fileURLWithPath: binary).deletingLastPathComponent().path
        try await withServer(path: "\(folder):/usr/sbin:/usr/bin:/sbin:/bin") { lab, server in
            let report = try await floatOntoTheSSHHost(lab, server)
            #expect(report.method == "cutover ip announce on the host")
        }
    }
}
