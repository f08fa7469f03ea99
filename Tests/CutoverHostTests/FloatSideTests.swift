import CutoverCore
import CutoverHost
import Testing

/// The sides of a float as the command line writes them.
@Suite("Float sides")
struct FloatSideTests {
    @Test func eachExecutorNamesItsInterface() throws {
        #expect(try FloatSide.parse("netns:old:eth0").get() == FloatSide(executor: .netns("old"), interface: "eth0"))
        #expect(try FloatSide.parse("local:bond0.12").get() == FloatSide(executor: .local, interface: "bond0.12"))
        #expect(try FloatSide.parse(":eth1").get() == FloatSide(executor: .local, interface: "eth1"))
        #expect(try FloatSide.parse("ssh://root@198.18.0.2:2222/ens3").get()
                == FloatSide(executor: .ssh(user: "root", host: "198.18.0.2", port: 2222), interface: "ens3"))
        #expect(FloatSide(executor: .netns("old"), interface: "eth0").description == "netns:old:eth0")
        #expect(FloatSide(executor: .ssh(user: "root", host: "h", port: 22), interface: "eth0").description == "ssh://root@h/eth0")
    }

    @Test func aSideWithoutAUsableInterfaceIsNamed() {
        func error(_ text: String) -> String? {
            if case .failure(let error) = FloatSide.parse(text) { return error.description }
            return nil
        }
        #expect(error("eth0") == "'eth0' names no interface: write netns:NAME:INTERFACE, local:INTERFACE or ssh://user@host/INTERFACE")
        #expect(error("netns:old") == "'netns:old' names no interface: write netns:NAME:INTERFACE, local:INTERFACE or ssh://user@host/INTERFACE")
        #expect(error("netns:old:") == "'' is not an interface name (1 to 15 letters, digits, '.', '_', '-' or '@')")
        #expect(error("netns:old:sixteen-chars-ab") == "'sixteen-chars-ab' is not an interface name (1 to 15 letters, digits, '.', '_', '-' or '@')")
        #expect(error("ssh://root@h") == "'ssh://root@h' names no interface: write ssh://user@host[:port]/INTERFACE")
        #expect(error("tcp:h:eth0") == "'tcp:h' is not an executor: write local, netns:NAME or ssh://user@host[:port]")
        #expect(error("netns:old:eth0;reboot") == "'eth0;reboot' is not an interface name (1 to 15 letters, digits, '.', '_', '-' or '@')",
                "nothing a shell would read as more than a word")
        #expect(error("netns:old:$(id)")?.hasPrefix("'$(id)' is not an interface name") == true)
    }
}
