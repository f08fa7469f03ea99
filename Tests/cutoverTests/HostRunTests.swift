import CutoverCore
import CutoverHost
import CutoverStore
import CutoverTestSupport
import Foundation
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A whole host run in a lab of namespaces: a small HTTP service in each host serving its data folder, a few
/// thousand files synced, the service stopped, started on the new host, its address floated and verified; and a run
/// whose new service is not healthy, rolled back.
@Suite("cutover host", .serialized, .timeLimit(.minutes(2)))
struct HostRunTests {
    static let groups = """
        host_cutover:
          hosts:
            a: { executor: "netns:a", interface: eth0 }
            b: { executor: "netns:b", interface: eth0 }
          tasks:
            - { name: t, from: a, to: b, service: { stop: x, start: y, health: z } }
          groups:
            - { name: g1, tasks: [t] }
            - { name: g2, tasks: [t] }
          max_parallel_groups: 1
        """

    @Test(arguments: [
        ([String](), "name what to run: --task NAME or --group NAME"),
        (["--task", "nope"], "--task 'nope' is not a task of host_cutover.tasks (t)"),
        (["--group", "nope"], "--group 'nope' is not a group of host_cutover.groups (g1, g2)"),
        (["--group", "g1", "--group", "g2"], "2 groups asked for, and max_parallel_groups is 1: run the others after these"),
        (["--task", "t", "--skip-gateway-check"], "--skip-gateway-check needs --reason"),
    ])
    func whatToRunIsChecked(arguments: [String], message: String) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("cutover.yaml", Self.groups)
        let result = try await CutoverProcess.run(["host", "run", "--config", config] + arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func aBrokenSectionIsNamedWithItsLine() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("cutover.yaml", Self.groups.replacingOccurrences(of: "to: b", with: "to: c"))
        let result = try await CutoverProcess.run(["host", "status", "--config", config])
        #expect(result.status == 2)
        #expect(result.stderr.contains("cutover.yaml:6:"), "\(result.stderr)")
        #expect(result.stderr.contains("host_cutover.tasks[0].to: no host named 'c'"))
    }

    /// Runs `body` with a lab, the old host serving its data folder (`files` files) behind the service address, and
    /// a configuration moving it to the new host; `health` is the task's health command.
    /// With `overSSH` the new host is reached by ssh (an sshd in its namespace), as a host on another machine is.
    func withRunbook(files: Int = 2000, health: String? = nil, stopFirst: String = "", overSSH: Bool = false,
                     _ body: (Lab, String, String) async throws -> Void) async throws {
        _ = try TestTools.executable("rsync", debianPackage: "rsync")
        _ = try TestTools.executable("curl", debianPackage: "curl")
        try await Lab.with { lab in
            let folder = try TemporaryFolder()
            defer {
                for ns in [lab.old, lab.new] { _ = try? Spawn.run(["sh", "-c", "[ -f \(folder.path)/\(ns).pid ] && kill -9 $(cat \(folder.path)/\(ns).pid) || true"]) }
                folder.remove()
            }
            try lab.reachFromHere()
            let ssh = overSSH ? try await SSHServer.start(in: lab.new, address: lab.address(.new)) : nil
            defer { ssh?.stop() }
            let newHost = ssh.map { "{ executor: \"\($0.executor)\", interface: eth0, address: 198.18.1.2/24, identity_file: \($0.clientKey), known_hosts_file: \($0.knownHosts) }" }
                ?? "{ executor: \"netns:\(lab.new)\", interface: eth0, address: 198.18.1.2/24 }"
            try lab.hold(lab.vip, on: .old)
            let old = folder.path + "/" + lab.old
            try FileManager.default.createDirectory(atPath: old + "/items", withIntermediateDirectories: true)
            for index in 0..<files { try "item \(index)\n".write(toFile: old + "/items/\(index).txt", atomically: false, encoding: .utf8) }
            try "old and new serve this\n".write(toFile: old + "/index.html", atomically: false, encoding: .utf8)
            let here = "\(folder.path)/$(ip netns identify)"
            // Idempotent, as a service manager's start is: a running service is left as it is.
            let start = "[ -f \(here).pid ] && kill -0 $(cat \(here).pid) 2>/dev/null || "
                + "(cd \(here) && (nohup python3 -m http.server 8080 --bind 0.0.0.0 >/dev/null 2>&1 & echo $! > \(here).pid))"
            let stop = stopFirst.replacingOccurrences(of: "FOLDER", with: folder.path) + "[ -f \(here).pid ] && kill $(cat \(here).pid); rm -f \(here).pid"
            let healthy = health ?? "curl -fsS -o /dev/null --max-time 1 http://127.0.0.1:8080/index.html"
            // Started as the runbook starts services: default signal handling (the test process blocks some signals).
            #expect(try ProcessRunner.runBlocking(["ip", "netns", "exec", lab.old, "sh", "-c", start], timeout: .seconds(30)).succeeded)
            let config = try folder.write("cutover.yaml", """
                store: "sqlite:\(folder.path)/cutover.db"
                host_cutover:
                  hosts:
                    old: { executor: "netns:\(lab.old)", interface: eth0, address: 198.18.1.1/24 }
                    new: \(newHost)
                  tasks:
                    - name: shop
                      from: old
                      to: new
                      service: { stop: '\(stop)', start: '\(start)', health: '\(healthy)', ports: [8080] }
                      data: [{ path: \(old)/, to_path: \(folder.path)/\(lab.new)/ }]
                      vip: { address: \(lab.vip), vantage: "netns:\(lab.client):eth0" }
                      verify: { url: "http://\(lab.vip.address):8080/index.html", every: 20ms, timeout: 10s }
                      garp: { repeat: 2, interval: 50ms }
                """)
            // The old host serves through the address before the run.
            let probe = try #require(HTTPProbe(url: "http://\(lab.vip.address):8080/index.html"))
            for _ in 0..<100 where probe.get(timeout: .milliseconds(200)) != 200 { try await Task.sleep(for: .milliseconds(50)) }
            #expect(probe.get(timeout: .seconds(1)) == 200)
            try await body(lab, config, folder.path)
        }
    }

    /// The old service writes into its tree until it is stopped (its stop ends the writer first).
    static let stopsTheWriter = "[ -f FOLDER/writer.pid ] && kill -9 $(cat FOLDER/writer.pid) 2>/dev/null; rm -f FOLDER/writer.pid; "

    @Test(.enabled(if: Lab.available, Lab.unavailableReason)) func aRunMovesTheServiceAndItsTreeAndJournalsEveryStep() async throws {
        try await withRunbook(stopFirst: Self.stopsTheWriter) { lab, config, folder in
            // The data changes while the sync passes run: a file rewritten, another added, every 10 ms.
            let writer = "i=0; while true; do i=$((i+1)); echo \"version $i\" > \(folder)/\(lab.old)/items/7.txt; "
                + "echo $i > \(folder)/\(lab.old)/items/new-$((i % 500)).txt; sleep 0.01; done"
            #expect(try ProcessRunner.runBlocking(["sh", "-c", "(nohup sh -c '\(writer)' >/dev/null 2>&1 & echo $! > \(folder)/writer.pid)"],
                                                 timeout: .seconds(10)).succeeded)
            defer { _ = try? Spawn.run(["sh", "-c", "[ -f \(folder)/writer.pid ] && kill -9 $(cat \(folder)/writer.pid) || true"]) }
            let result = try await CutoverProcess.run(["host", "run", "--config", config, "--task", "shop"], timeout: .seconds(90))
            if result.status != 0 {
                let journal = try await CutoverProcess.run(["host", "status", "--config", config, "--json"])
                Issue.record("the run did not end done: \(result.stdout)\n\(result.stderr)\n\(journal.stdout.suffix(6000))")
            }
            #expect(result.stdout.contains("run 1: done, shop runs on new"))
            #expect(result.stdout.contains("downtime: "), "the downtime through the address is printed")
            // The new host serves the same tree, behind the address; the old holds the address no more.
            let same = try? Spawn.run(["diff", "-r", "\(folder)/\(lab.old)", "\(folder)/\(lab.new)"])
            #expect(same == "", "the trees differ")
            #expect(try lab.holds(lab.vip.address, .new))
            #expect(try !lab.holds(lab.vip.address, .old))
            #expect(HTTPProbe(url: "http://\(lab.vip.address):8080/items/1999.txt")?.get(timeout: .seconds(1)) == 200)
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/\(lab.old).pid"), "the old service was stopped")
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/writer.pid"), "its writer was stopped with it")
            #expect(FileManager.default.fileExists(atPath: "\(folder)/\(lab.new)/items/new-1.txt"), "files written during the sync arrived")
            let status = try await CutoverProcess.run(["host", "status", "--config", config, "--json"])
            #expect(status.status == 0)
            let runs = try JSONDecoder().decode([HostRun].self, from: Data(status.stdout.utf8))
            let run = try #require(runs.first)
            #expect(run.status == .done)
            let steps = run.steps.map(\.step)
            #expect(steps.first == "precheck" && steps.last == "verify")
            #expect(Array(steps.drop { $0 == "precheck" || $0 == "sync" }) == ["stop_old", "final_sync", "start_new", "health", "float", "verify"])
            #expect(run.steps.allSatisfy { $0.result == .ok && $0.finishedAt != nil })
            #expect(run.steps.first { $0.step == "sync" }?.figures["bytes"].map { $0 > 0 } == true, "the first pass copied the tree")
            #expect(run.figures["migration_seconds"] != nil)
            let downtime = try #require(run.figures["downtime_seconds"])
            #expect(downtime > 0 && downtime < 5, "the downtime \(downtime) s is within the task's 5 s budget (the announcements' repeats not counted)")
            // The float watched from the client's namespace: the IP outage, in the float's figures and the run's.
            let outage = try #require(run.figures["ip_outage_seconds"], "the run measured the IP outage from its vantage")
            #expect(outage < 1, "the outage is that of an in-process float, not of a timeout")
            #expect(run.steps.first { $0.step == "float" }?.figures["ip_outage_seconds"] == outage)
            #expect(result.stdout.contains("ip_outage: "), "\(result.stdout)")
            // A second run of the task is refused by the pre-checks: the new host holds the port and the address.
            let again = try await CutoverProcess.run(["host", "run", "--config", config, "--task", "shop"], timeout: .seconds(60))
            #expect(again.status == 1)
            #expect(again.stdout.contains("stopped at precheck before anything changed"))
        }
    }

    @Test(.enabled(if: Lab.available, Lab.unavailableReason)) func aRunOntoAHostReachedBySSHMovesTheServiceAndItsTree() async throws {
        _ = try TestTools.executable("arping", debianPackage: "iputils-arping")
        try await withRunbook(files: 200, overSSH: true) { lab, config, folder in
            let result = try await CutoverProcess.run(["host", "run", "--config", config, "--task", "shop"], timeout: .seconds(90))
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            let same = try? Spawn.run(["diff", "-r", "\(folder)/\(lab.old)", "\(folder)/\(lab.new)"])
            #expect(same == "", "the trees differ")
            #expect(try lab.holds(lab.vip.address, .new) && !lab.holds(lab.vip.address, .old), "exactly one owner: the new host")
            #expect(HTTPProbe(url: "http://\(lab.vip.address):8080/items/199.txt")?.get(timeout: .seconds(1)) == 200)
            let status = try await CutoverProcess.run(["host", "status", "--config", config, "--json"])
            let run = try #require(try JSONDecoder().decode([HostRun].self, from: Data(status.stdout.utf8)).first)
            #expect(run.status == .done)
            // The new host's commands went through ssh, and rsync pushed to it over ssh from the old host.
            let commands = run.steps.flatMap(\.commands)
            #expect(commands.contains { $0.host == "new" && $0.command.hasPrefix("ssh -o BatchMode=yes") && $0.command.contains("UserKnownHostsFile=") })
            #expect(commands.contains { $0.host == "old" && $0.command.contains("rsync") && $0.command.contains("root@198.18.1.2:") })
            // Its service address was checked from this machine's side only: an ssh host's answer is not probed there.
            #expect(run.steps.first?.step == "precheck")
        }
    }

    @Test(.enabled(if: Lab.available, Lab.unavailableReason)) func anUnhealthyNewServiceIsRolledBack() async throws {
        try await withRunbook(files: 10, health: "[ \"$(ip netns identify)\" != NEWNS ] && curl -fsS -o /dev/null --max-time 1 http://127.0.0.1:8080/index.html") { lab, config, folder in
            // The health command fails on the new host only.
            let text = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "NEWNS", with: lab.new)
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            let result = try await CutoverProcess.run(["host", "run", "--config", config, "--task", "shop"], timeout: .seconds(90))
            #expect(result.status == 1)
            #expect(result.stdout.contains("rolled back after health"), "\(result.stdout)")
            #expect(try lab.holds(lab.vip.address, .old), "the address never left the old host")
            #expect(try !lab.holds(lab.vip.address, .new))
            #expect(FileManager.default.fileExists(atPath: "\(folder)/\(lab.old).pid"), "the old service runs again")
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/\(lab.new).pid"), "the new service was stopped")
            #expect(HTTPProbe(url: "http://\(lab.vip.address):8080/index.html")?.get(timeout: .seconds(1)) == 200)
        }
    }

    @Test(.enabled(if: Lab.available, Lab.unavailableReason)) func aFailedPrecheckChangesNothing() async throws {
        try await withRunbook(files: 10) { lab, config, folder in
            // The new host's port is taken: the pre-checks say so and nothing moves.
            _ = try ProcessRunner.runBlocking(["ip", "netns", "exec", lab.new, "sh", "-c",
                                               "cd \(folder) && (nohup python3 -m http.server 8080 --bind 0.0.0.0 >/dev/null 2>&1 & echo $! > \(folder)/\(lab.new).pid)"],
                                              timeout: .seconds(30))
            for _ in 0..<100 {
                let listening = try Spawn.run(["ip", "netns", "exec", lab.new, "ss", "-Hltn", "sport", "=", ":8080"])
                if !listening.isEmpty { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            let precheck = try await CutoverProcess.run(["host", "precheck", "--config", config, "--task", "shop"], timeout: .seconds(60))
            #expect(precheck.status == 1)
            #expect(precheck.stdout.contains("port 8080 free on new") && precheck.stdout.contains("fail"))
            let result = try await CutoverProcess.run(["host", "run", "--config", config, "--task", "shop"], timeout: .seconds(60))
            #expect(result.status == 1)
            #expect(result.stdout.contains("stopped at precheck before anything changed"))
            #expect(try lab.holds(lab.vip.address, .old))
            #expect(FileManager.default.fileExists(atPath: "\(folder)/\(lab.old).pid"), "the old service was not stopped")
        }
    }

    /// The old service's stop waits for a file, so the runner can be killed while the journal shows it under way.
    static let stopWaits = "echo $$ > FOLDER/stopping; while [ ! -f FOLDER/go ]; do sleep 0.05; done; "

    /// Starts a run, waits until its stop of the old service is under way, and kills the runner with SIGKILL (and
    /// the stop command it left behind); the stop may then go on.
    func killDuringTheStop(config: String, folder: String) async throws {
        let runner = try CutoverProcess(["host", "run", "--config", config, "--task", "shop"])
        for _ in 0..<1200 where !FileManager.default.fileExists(atPath: folder + "/stopping") { try await Task.sleep(for: .milliseconds(50)) }
        #expect(FileManager.default.fileExists(atPath: folder + "/stopping"), "the run reached the stop")
        runner.signal(SIGKILL)
        _ = try await runner.exitStatus()
        if let text = try? String(contentsOfFile: folder + "/stopping", encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        }
        FileManager.default.createFile(atPath: folder + "/go", contents: nil)
    }

    @Test(.enabled(if: Lab.available, Lab.unavailableReason)) func aRunKilledDuringTheStopIsResumedToTheEnd() async throws {
        try await withRunbook(files: 50, stopFirst: Self.stopWaits) { lab, config, folder in
            try await killDuringTheStop(config: config, folder: folder)
            let journal = try await CutoverProcess.run(["host", "status", "--config", config, "--json"])
            let run = try #require(try JSONDecoder().decode([HostRun].self, from: Data(journal.stdout.utf8)).first)
            #expect(run.status == .running)
            #expect(run.steps.last?.step == "stop_old" && run.steps.last?.result == .running, "the journal shows the stop under way")
            #expect(run.holderAlive == false, "the killed runner's lease is seen to have no living holder")
            let text = try await CutoverProcess.run(["host", "status", "--config", config])
            #expect(text.stdout.contains(", which no longer runs (resume or roll it back)"), "\(text.stdout)")
            let resumed = try await CutoverProcess.run(["host", "resume", "--config", config, "1"], timeout: .seconds(90))
            #expect(resumed.status == 0, "\(resumed.stdout)\n\(resumed.stderr)")
            #expect(resumed.stdout.contains("resuming shop at stop_old"))
            #expect(try lab.holds(lab.vip.address, .new) && !lab.holds(lab.vip.address, .old), "exactly one owner: the new host")
            #expect(HTTPProbe(url: "http://\(lab.vip.address):8080/index.html")?.get(timeout: .seconds(1)) == 200)
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/\(lab.old).pid"))
            let again = try await CutoverProcess.run(["host", "resume", "--config", config, "1"])
            #expect(again.status == 2 && again.stderr.contains("run 1 is done; there is nothing to resume"))
        }
    }

    @Test(.enabled(if: Lab.available, Lab.unavailableReason)) func aRunKilledDuringTheStopIsRolledBack() async throws {
        try await withRunbook(files: 50, stopFirst: Self.stopWaits) { lab, config, folder in
            try await killDuringTheStop(config: config, folder: folder)
            // The killed stop went on: the old service may be down. The rollback starts it again and verifies it.
            let rolledBack = try await CutoverProcess.run(["host", "rollback", "--config", config, "1", "--reason", "runner killed"], timeout: .seconds(90))
            #expect(rolledBack.status == 0, "\(rolledBack.stdout)\n\(rolledBack.stderr)")
            #expect(rolledBack.stdout.contains("rolled back after stop_old: runner killed"))
            #expect(try lab.holds(lab.vip.address, .old) && !lab.holds(lab.vip.address, .new), "exactly one owner: the old host")
            #expect(HTTPProbe(url: "http://\(lab.vip.address):8080/index.html")?.get(timeout: .seconds(1)) == 200)
            #expect(FileManager.default.fileExists(atPath: "\(folder)/\(lab.old).pid"), "the old service runs")
        }
    }

    @Test func theGatewayExportsTheJournalAsMetrics() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let store = try await Store.open(.sqlite(path: folder.path + "/serve.db"), logger: logger)
        let run = try await store.startHostRun(task: "shop", hosts: ["old", "new"], at: 1_000)
        let step = try await store.beginHostStep(run: run, step: "float", pass: 0, at: 2_000)
        try await store.finishHostStep(run: run, seq: step, result: .ok, figures: [:], commands: [], failure: nil, at: 2_250)
        try await store.finishHostRun(run, status: .done, reason: nil, figures: ["downtime_seconds": 0.75, "ip_outage_seconds": 0.002], at: 3_000)
        let stopped = try await store.startHostRun(task: "cart", hosts: ["c1", "c2"], at: 4_000)
        try await store.finishHostRun(stopped, status: .stopped, reason: "precheck", figures: [:], at: 4_100)
        await store.close()
        let file = try folder.write("serve.yaml", """
            listen: "127.0.0.1:0"
            admin: { listen: "127.0.0.1:0" }
            store: "sqlite:\(folder.path)/serve.db"
            backends: { old: { url: "http://127.0.0.1:9" } }
            """)
        let process = try CutoverProcess(["serve", "--config", file])
        defer { process.terminate() }
        let admin = try #require(CutoverProcess.port(in: try await process.waitFor("admin listening on http://")))
        var metrics = ""
        for _ in 0..<100 {
            let client = try await TestConnection.connect(port: admin)
            try await client.send("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
            metrics = try await client.response().text
            await client.close()
            if metrics.contains("cutover_host_runs_total") { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(metrics.contains(#"cutover_host_runs_total{result="done"} 1"#), "\(metrics.suffix(2000))")
        #expect(metrics.contains(#"cutover_host_runs_total{result="stopped"} 1"#))
        #expect(metrics.contains(#"cutover_host_step_duration_seconds{task="shop",step="float"} 0.25"#))
        #expect(metrics.contains(#"cutover_host_downtime_seconds{task="shop"} 0.75"#))
        #expect(metrics.contains(#"cutover_ip_float_outage_seconds{task="shop"} 0.002"#))
    }
}
