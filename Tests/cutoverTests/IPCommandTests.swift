import CutoverCore
import CutoverHost
import CutoverTestSupport
import Foundation
import Testing

/// `cutover ip` as an operator runs it: bad input is named and exits 2; in a lab, `check` exits 0 for one holder and
/// 1 for two, and `float` moves the address and prints its figures.
@Suite("cutover ip", .serialized, .timeLimit(.minutes(1)))
struct IPCommandTests {
    @Test(arguments: [
        (["ip", "float", "--vip", "198.18.0.300/24", "--from", "netns:a:eth0", "--to", "netns:b:eth0"], "--vip '198.18.0.300' is not an IPv4 or IPv6 address"),
        (["ip", "float", "--vip", "198.18.0.100", "--from", "netns:a:eth0", "--to", "netns:b:eth0"], "is not an address with a prefix length"),
        (["ip", "float", "--from", "netns:a:eth0", "--to", "netns:b:eth0"], "--vip is required"),
        (["ip", "float", "--vip", "198.18.0.100/24", "--from", "netns:a:eth0", "--to", "netns:a:eth0"], "--from and --to are the same interface: netns:a:eth0"),
        (["ip", "float", "--vip", "198.18.0.100/24", "--from", "netns:../x:eth0", "--to", "netns:b:eth0"], "--from '../x' is not a network namespace name"),
        (["ip", "float", "--vip", "198.18.0.100/24", "--from", "netns:a", "--to", "netns:b:eth0"], "--from 'netns:a' names no interface: write netns:NAME:INTERFACE"),
        (["ip", "float", "--vip", "198.18.0.100/24", "--from", "netns:a:eth0", "--to", "ssh://root@h"], "--to 'ssh://root@h' names no interface"),
        (["ip", "float", "--vip", "198.18.0.100/24", "--from", "netns:a:eth0", "--to", "netns:b:eth0", "--interval", "soon"], "--interval 'soon' is not a duration"),
        (["ip", "float", "--vip", "198.18.0.100/24", "--from", "netns:a:eth0", "--to", "netns:b:eth0", "--repeat", "0"], "--repeat 0 is not a count of 1 to 100"),
        (["ip", "check", "--vip", "nope"], "--vip 'nope' is not an IPv4 or IPv6 address"),
        (["ip", "check", "--vip", "198.18.0.100", "--wait", "0"], "--wait '0' is not a duration"),
        (["ip", "check", "--vip", "198.18.0.100", "--interface", "a/b"], "--interface 'a/b' is not an interface name"),
        (["ip", "announce", "--vip", "198.18.0.100", "--interface", "averyveryverylongname"], "is not an interface name"),
        (["ip", "announce", "--interface", "eth0"], "--vip is required"),
    ])
    func badInputIsNamedAndExits2(arguments: [String], message: String) async throws {
        let result = try await CutoverProcess.run(arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
    }

    @Test(.enabled(if: Lab.available, Lab.unavailableReason))
    func checkExits0ForOneHolderAnd1ForTwo() async throws {
        try await Lab.with { lab in
            try lab.hold(lab.vip, on: .old)
            let command = ["ip", "netns", "exec", lab.client, CutoverProcess.binary, "ip", "check", "--vip", lab.vip.address.description, "--json"]
            let one = try ProcessRunner.runBlocking(command, timeout: .seconds(30))
            #expect(one.status == 0, "\(one.stderr)")
            let answer = try JSONSerialization.jsonObject(with: Data(one.stdout.utf8)) as? [String: Any]
            #expect(answer?["holders"] as? [String] == [try lab.mac(.old).description])
            #expect(answer?["interface"] as? String == "eth0", "found by the address's subnet")
            try lab.hold(lab.vip, on: .new)
            let two = try ProcessRunner.runBlocking(command, timeout: .seconds(30))
            #expect(two.status == 1)
            #expect(two.stderr.contains("2 hosts answer for \(lab.vip.address): it must have exactly one"))
        }
    }

    @Test(.enabled(if: Lab.available, Lab.unavailableReason))
    func floatMovesTheAddressAndPrintsItsFigures() async throws {
        try await Lab.with { lab in
            try lab.hold(lab.vip, on: .old)
            let result = try await CutoverProcess.run(["ip", "float", "--vip", lab.vip.description, "--from", "netns:\(lab.old):eth0",
                                                       "--to", "netns:\(lab.new):eth0", "--vantage", "netns:\(lab.client):eth0",
                                                       "--repeat", "1", "--refresh-after", "0"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("floated \(lab.vip) from netns:\(lab.old):eth0 to netns:\(lab.new):eth0 (\(try lab.mac(.new)))"))
            #expect(result.stdout.contains("release to first announcement"))
            #expect(result.stdout.contains("IP outage seen from netns:\(lab.client):eth0: "))
            #expect(try !lab.holds(lab.vip.address, .old))
            #expect(try lab.holds(lab.vip.address, .new))
            let back = try await CutoverProcess.run(["ip", "float", "--vip", lab.vip.description, "--from", "netns:\(lab.new):eth0",
                                                     "--to", "netns:\(lab.old):eth9", "--repeat", "1", "--refresh-after", "0"])
            #expect(back.status == 1)
            #expect(back.stderr.contains("interface 'eth9' in network namespace '\(lab.old)' cannot be used: there is no such interface"))
            #expect(try lab.holds(lab.vip.address, .new), "a side that cannot be used changes nothing")
        }
    }
}
