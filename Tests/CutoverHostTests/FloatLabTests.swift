import CutoverCore
@testable import CutoverHost
import CutoverTestSupport
import Testing

/// The float, the announcements and the check, in a lab of network namespaces: what the client neighbour caches,
/// who answers for the address, and that exactly one host holds it afterwards.
@Suite("Floating an address in a lab", .serialized, .timeLimit(.minutes(1)), .enabled(if: Lab.available, Lab.unavailableReason))
struct FloatLabTests {
    @Test func aGratuitousARPMovesTheClientsCacheToTheNewHolder() async throws {
        try await Lab.with { lab in
            let (old, new) = (try lab.mac(.old), try lab.mac(.new))
            try lab.hold(lab.vip, on: .new)
            try lab.clientCaches(lab.vip.address, as: old)
            #expect(try lab.clientCache(lab.vip.address) == old.description)
            try Announcer(addresses: [lab.vip.address], interface: "eth0", namespace: lab.new).announce()
            #expect(try await lab.clientCache(lab.vip.address, becomes: new) == new.description)
        }
    }

    @Test func anUnsolicitedAdvertisementWithOverrideMovesTheClientsIPv6Cache() async throws {
        try await Lab.with { lab in
            let (old, new) = (try lab.mac(.old), try lab.mac(.new))
            try lab.hold(lab.vip6, on: .new)
            try lab.clientCaches(lab.vip6.address, as: old)
            try Announcer(addresses: [lab.vip6.address], interface: "eth0", namespace: lab.new).announce()
            #expect(try await lab.clientCache(lab.vip6.address, becomes: new) == new.description)
        }
    }

    @Test func theCheckNamesTheOneHolderAndBothWhenTwoHoldIt() async throws {
        try await Lab.with { lab in
            let (old, new) = (try lab.mac(.old), try lab.mac(.new))
            let nobody = try NeighbourProbe(address: lab.vip.address, interface: "eth0", namespace: lab.client).holders(within: .milliseconds(200))
            #expect(nobody.isEmpty)
            try lab.hold(lab.vip, on: .old)
            let probe = try NeighbourProbe(address: lab.vip.address, interface: "eth0", namespace: lab.client)
            #expect(try probe.holders(within: .milliseconds(200)) == [old])
            try lab.hold(lab.vip, on: .new)
            #expect(Set(try probe.holders(within: .milliseconds(300))) == [old, new], "two holders of one address are both named")
            try lab.hold(lab.vip6, on: .new)
            let probe6 = try NeighbourProbe(address: lab.vip6.address, interface: "eth0", namespace: lab.client)
            #expect(try probe6.holders(within: .milliseconds(300)) == [new])
        }
    }

    @Test func aFloatLeavesExactlyOneHolderTheNewOne() async throws {
        try await Lab.with { lab in
            let (old, new) = (try lab.mac(.old), try lab.mac(.new))
            try lab.hold(lab.vip, on: .old)
            try lab.clientCaches(lab.vip.address, as: old)
            let float = IPFloat(addresses: [lab.vip], from: FloatSide(executor: .netns(lab.old), interface: "eth0"),
                                to: FloatSide(executor: .netns(lab.new), interface: "eth0"),
                                schedule: AnnouncementSchedule(count: 2, interval: .milliseconds(20), refreshAfter: .zero),
                                vantage: FloatSide(executor: .netns(lab.client), interface: "eth0"))
            let report = try await float.run()
            #expect(report.method == "in-process packet socket")
            #expect(report.newMAC == new.description)
            #expect(report.announcements == 2)
            #expect(report.outage != nil, "the vantage point heard old answer before and new after")
            #expect(report.heardAfter?.last == new.description)
            #expect(try !lab.holds(lab.vip.address, .old))
            #expect(try lab.holds(lab.vip.address, .new))
            let holders = try NeighbourProbe(address: lab.vip.address, interface: "eth0", namespace: lab.client).holders(within: .milliseconds(200))
            #expect(holders == [new])
            #expect(try await lab.clientCache(lab.vip.address, becomes: new) == new.description)
        }
    }

    @Test func bothFamiliesFloatTogether() async throws {
        try await Lab.with { lab in
            let new = try lab.mac(.new)
            try lab.hold(lab.vip, on: .old)
            try lab.hold(lab.vip6, on: .old)
            let float = IPFloat(addresses: [lab.vip, lab.vip6], from: FloatSide(executor: .netns(lab.old), interface: "eth0"),
                                to: FloatSide(executor: .netns(lab.new), interface: "eth0"),
                                schedule: AnnouncementSchedule(count: 1, interval: .zero, refreshAfter: .zero))
            _ = try await float.run()
            for address in [lab.vip.address, lab.vip6.address] {
                #expect(try !lab.holds(address, .old))
                #expect(try lab.holds(address, .new))
                let holders = try NeighbourProbe(address: address, interface: "eth0", namespace: lab.client).holders(within: .milliseconds(200))
                #expect(holders == [new], "\(address)")
            }
        }
    }

    @Test func aFloatByCommandsDoesWhatAnSSHHostGets() async throws {
        _ = try TestTools.executable("arping", debianPackage: "iputils-arping")
        try await Lab.with { lab in
            let (old, new) = (try lab.mac(.old), try lab.mac(.new))
            try lab.hold(lab.vip, on: .old)
            try lab.clientCaches(lab.vip.address, as: old)
            var float = IPFloat(addresses: [lab.vip], from: FloatSide(executor: .netns(lab.old), interface: "eth0"),
                                to: FloatSide(executor: .netns(lab.new), interface: "eth0"))
            float.inProcess = false
            let report = try await float.run()
            #expect(report.method == "arping -U / ndsend on the host")
            #expect(try !lab.holds(lab.vip.address, .old))
            #expect(try lab.holds(lab.vip.address, .new))
            #expect(try await lab.clientCache(lab.vip.address, becomes: new) == new.description)
            // Run again, the steps find the address already moved and change nothing.
            _ = try await float.run()
            #expect(try lab.holds(lab.vip.address, .new))
        }
    }

    @Test func anIPv6FloatByCommandsWithoutNdsendIsAnnouncedByTheKernel() async throws {
        try await Lab.with { lab in
            let (old, new) = (try lab.mac(.old), try lab.mac(.new))
            try lab.hold(lab.vip6, on: .old)
            try lab.clientCaches(lab.vip6.address, as: old)
            // The lab turns DAD off; a host's default is on, as the kernel's advertisement needs.
            try Spawn.run(["ip", "netns", "exec", lab.new, "sysctl", "-q", "-w", "net.ipv6.conf.eth0.accept_dad=1"])
            var float = IPFloat(addresses: [lab.vip6], from: FloatSide(executor: .netns(lab.old), interface: "eth0"),
                                to: FloatSide(executor: .netns(lab.new), interface: "eth0"))
            float.inProcess = false
            let report = try await float.run()
            #expect(report.method == "arping -U / the kernel's advertisement after DAD on the host", "\(report.method)")
            #expect(try !lab.holds(lab.vip6.address, .old) && lab.holds(lab.vip6.address, .new))
            #expect(try await lab.clientCache(lab.vip6.address, becomes: new) == new.description, "the client learnt the new MAC")
            let notify = try Spawn.run(["ip", "netns", "exec", lab.new, "sysctl", "-n", "net.ipv6.conf.eth0.ndisc_notify"])
            #expect(notify.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "ndisc_notify is set back")
        }
    }

    @Test func theKernelsAdvertisementFailsLoudlyAndPutsTheSettingBack() async throws {
        try await Lab.with { lab in
            // The new host does not hold the address: the script's removal fails, and so does the script.
            let script = IPFloat.kernelAdvertisement(lab.vip6, interface: "eth0")
            let result = try await NetnsExecutor(name: lab.new).shell(script, timeout: .seconds(20))
            #expect(!result.succeeded, "\(result.summary)")
            #expect(try !lab.holds(lab.vip6.address, .new))
            let notify = try Spawn.run(["ip", "netns", "exec", lab.new, "cat", "/proc/sys/net/ipv6/conf/eth0/ndisc_notify"])
            #expect(notify.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "ndisc_notify is set back")
            // An interface that does not exist: nothing is changed and it fails.
            let missing = try await NetnsExecutor(name: lab.new).shell(IPFloat.kernelAdvertisement(lab.vip6, interface: "eth7"), timeout: .seconds(20))
            #expect(!missing.succeeded)
        }
    }

    @Test func aVantageThatCannotBeWatchedFromDoesNotStopTheFloat() async throws {
        try await Lab.with { lab in
            try lab.hold(lab.vip, on: .old)
            let float = IPFloat(addresses: [lab.vip], from: FloatSide(executor: .netns(lab.old), interface: "eth0"),
                                to: FloatSide(executor: .netns(lab.new), interface: "eth0"),
                                schedule: AnnouncementSchedule(count: 1, interval: .zero, refreshAfter: .zero),
                                vantage: FloatSide(executor: .netns(lab.client), interface: "eth9"))
            let report = try await float.run()
            #expect(try lab.holds(lab.vip.address, .new) && !lab.holds(lab.vip.address, .old), "the float went ahead")
            #expect(report.outage == nil)
            #expect(report.watchProblem?.hasPrefix("the outage is not measured: netns:\(lab.client):eth9 cannot be watched from") == true,
                    "\(report.watchProblem ?? "no problem named")")
        }
    }

    @Test func aSideThatCannotBeUsedFailsBeforeAnythingChanges() async throws {
        try await Lab.with { lab in
            try lab.hold(lab.vip, on: .old)
            let float = IPFloat(addresses: [lab.vip], from: FloatSide(executor: .netns(lab.old), interface: "eth0"),
                                to: FloatSide(executor: .netns(lab.new), interface: "eth9"))
            await #expect(throws: PacketSocket.Failure.self) { try await float.run() }
            #expect(try lab.holds(lab.vip.address, .old), "the address stayed where it was")
            let missing = IPFloat(addresses: [lab.vip], from: FloatSide(executor: .netns(lab.old), interface: "eth0"),
                                  to: FloatSide(executor: .netns("\(lab.id)x"), interface: "eth0"))
            do {
                _ = try await missing.run()
                Issue.record("a float to a namespace that does not exist went ahead")
            } catch {
                #expect("\(error)".contains("network namespace '\(lab.id)x' cannot be opened"))
            }
            #expect(try lab.holds(lab.vip.address, .old))
        }
    }
}
