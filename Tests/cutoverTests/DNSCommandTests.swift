import CutoverTestSupport
import Foundation
import Testing

/// `cutover dns` as an operator runs it: bad input is named and exits 2 before anything is sent; against BIND on
/// loopback, `float` exits 0 with the record switched at the server and 1 with it unchanged when the key is wrong.
@Suite("cutover dns", .serialized, .timeLimit(.minutes(1)))
struct DNSCommandTests {
    static let target = ["--server", "127.0.0.1:1", "--zone", "example.test", "--name", "www.example.test"]
    static let key = ["--tsig-name", "k", "--tsig-secret-env", "CUTOVER_TEST_TSIG"]

    @Test(arguments: [
        (["dns", "float"] + target + key, "--address is required"),
        (["dns", "float"] + target + key + ["--address", "198.18.0.300"], "--address '198.18.0.300' is not an IPv4 or IPv6 address"),
        (["dns", "float"] + target + key + ["--address", "198.18.0.1", "--address", "198.18.0.1"], "--address names one address twice"),
        (["dns", "float"] + target + ["--address", "198.18.0.1"], "--tsig-name is required"),
        (["dns", "float"] + target + ["--tsig-name", "k", "--address", "198.18.0.1"], "--tsig-secret-env is required"),
        (["dns", "float"] + target + ["--tsig-name", "k", "--tsig-secret-env", "CUTOVER_UNSET_VARIABLE", "--address", "198.18.0.1"],
         "the environment variable CUTOVER_UNSET_VARIABLE is not set"),
        (["dns", "float"] + target + key + ["--address", "198.18.0.1", "--tsig-algorithm", "hmac-md5"], "the TSIG algorithm 'hmac-md5' is not one of"),
        (["dns", "float"] + target + key + ["--address", "198.18.0.1", "--ttl-ahead", "soon"], "--ttl-ahead 'soon' is not a duration"),
        (["dns", "float"] + target + key + ["--address", "198.18.0.1", "--ttl", "0"], "--ttl '0' is not a duration of at least 1s"),
        (["dns", "float", "--server", "127.0.0.1:1", "--zone", "example.test", "--name", "www.other.test"] + key + ["--address", "198.18.0.1"],
         "--name www.other.test. is not in --zone example.test."),
        (["dns", "float", "--server", "127.0.0.1:99999", "--zone", "example.test", "--name", "www.example.test"] + key + ["--address", "198.18.0.1"],
         "--server '127.0.0.1:99999': the port is not a number"),
        (["dns", "show", "--server", "127.0.0.1:1", "--zone", "exa mple", "--name", "www.example.test"], "--zone 'exa mple'"),
    ])
    func badInputIsNamedAndExits2(arguments: [String], message: String) async throws {
        let result = try await CutoverProcess.run(arguments, environment: ["CUTOVER_TEST_TSIG": "c2VjcmV0"])
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
    }

    @Test func floatSwitchesTheRecordAndAWrongKeyLeavesItAsItWas() async throws {
        let server = try await TestDNSServer.start(records: ["www 60 IN A 198.18.0.10"])
        defer { server.stop() }
        let target = ["--server", server.server, "--zone", "example.test", "--name", "www.example.test",
                      "--tsig-name", server.keyName, "--tsig-secret-env", "CUTOVER_TEST_TSIG"]
        let wrong = try await CutoverProcess.run(["dns", "float"] + target + ["--address", "198.18.0.30"],
                                                 environment: ["CUTOVER_TEST_TSIG": Data(repeating: 9, count: 32).base64EncodedString()])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("BADSIG"), "\(wrong.stderr)")
        #expect(try server.dig("www.example.test", "A") == ["198.18.0.10"])

        let result = try await CutoverProcess.run(["dns", "float"] + target + ["--address", "198.18.0.20", "--json"],
                                                  environment: ["CUTOVER_TEST_TSIG": server.secret])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect((report["after"] as? [String: [String: Any]])?["A"]?["addresses"] as? [String] == ["198.18.0.20"])
        #expect((report["before"] as? [String: [String: Any]])?["A"]?["addresses"] as? [String] == ["198.18.0.10"])
        #expect(report["ttl_lowered"] as? Bool == false)
        #expect(try server.dig("www.example.test", "A") == ["198.18.0.20"])

        let shown = try await CutoverProcess.run(["dns", "show", "--server", server.server, "--zone", "example.test", "--name", "www.example.test"])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("www.example.test. A: 198.18.0.20 TTL 60"), "\(shown.stdout)")
    }
}
