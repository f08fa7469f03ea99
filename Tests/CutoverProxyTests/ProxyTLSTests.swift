import CutoverCore
import CutoverTestSupport
import Foundation
import NIOCore
import Testing

@Suite("TLS to backends and for clients", .timeLimit(.minutes(1)))
struct ProxyTLSTests {
    @Test func httpsBackendIsVerifiedAgainstTheConfiguredCA() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let backend = try await TestBackend.start(tls: certificates) { _ in .ok("secure") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.httpsURL, oldSettings: "tls: { ca_file: \"\(certificates.caFile)\" }"))
        let client = try await TestConnection.connect(port: gateway.port)
        for _ in 0..<3 {
            try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await client.response().text == "secure")
        }
        #expect(backend.connections == 1, "the TLS connection is pooled and reused")
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func unknownAuthorityIsRefusedWith502() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let backend = try await TestBackend.start(tls: certificates) { _ in .ok("must not be trusted") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.httpsURL))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let response = try await client.response()
        #expect(response.status == 502)
        #expect(response.text.contains("upstream TLS failed"))
        #expect(gateway.upstreamErrors(backend: "old", kind: "tls") == 1)
        #expect(backend.requests.isEmpty)
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func certificateIsCheckedAgainstTheConfiguredServerName() async throws {
        let certificates = try TestCertificates.make(names: ["DNS:orders.internal"])
        defer { certificates.remove() }
        let backend = try await TestBackend.start(tls: certificates) { _ in .ok("right name") }
        let wrong = try await TestGateway.start(gatewayConfig(
            old: backend.httpsURL, oldSettings: "tls: { ca_file: \"\(certificates.caFile)\", server_name: \"orders.example\" }"))
        let client = try await TestConnection.connect(port: wrong.port)
        try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await client.response().status == 502)
        #expect(backend.requests.isEmpty)
        await client.close()
        await wrong.stop()

        let right = try await TestGateway.start(gatewayConfig(
            old: backend.httpsURL, oldSettings: "tls: { ca_file: \"\(certificates.caFile)\", server_name: \"orders.internal\" }"))
        let second = try await TestConnection.connect(port: right.port)
        try await second.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await second.response().text == "right name")
        await second.close()
        await right.stop()
        await backend.stop()
    }

    @Test func verificationCanBeTurnedOff() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let backend = try await TestBackend.start(tls: certificates) { _ in .ok("unverified") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.httpsURL, oldSettings: "tls: { verify: false }"))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await client.response().text == "unverified")
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func tlsListenerServesClientsAndSaysHTTPS() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let backend = try await TestBackend.start { _ in .ok("over tls") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url, extra: """
            tls: { listen: "127.0.0.1:0", cert: "\(certificates.certificateFile)", key: "\(certificates.keyFile)" }
            """))
        let tlsPort = try #require(gateway.addresses.last?.port)
        #expect(gateway.addresses.count == 2)
        let client = try await TestConnection.connect(port: tlsPort, trusting: certificates.caFile)
        try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await client.response().text == "over tls")
        #expect(backend.requests.first?.value("x-forwarded-proto") == "https")
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    /// A renewed certificate written over the configured files applies to new connections on reload (SIGHUP in
    /// `cutover serve`); connections made before keep theirs and go on.
    @Test func aReloadServesTheRenewedCertificateToNewConnectionsWithoutDroppingOpenOnes() async throws {
        let first = try TestCertificates.make()
        let renewed = try TestCertificates.make()
        defer { first.remove(); renewed.remove() }
        let folder = NSTemporaryDirectory() + "cutover-tls-reload-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func install(_ certificates: TestCertificates) throws {
            for (source, name) in [(certificates.certificateFile, "server.pem"), (certificates.keyFile, "server.key")] {
                try? FileManager.default.removeItem(atPath: folder + "/" + name)
                try FileManager.default.copyItem(atPath: source, toPath: folder + "/" + name)
            }
        }
        try install(first)
        let backend = try await TestBackend.start { _ in .ok("over tls") }
        let yaml = gatewayConfig(old: backend.url, extra: """
            tls: { listen: "127.0.0.1:0", cert: "\(folder)/server.pem", key: "\(folder)/server.key" }
            """)
        let gateway = try await TestGateway.start(yaml)
        let tlsPort = try #require(gateway.addresses.last?.port)
        let before = try await TestConnection.connect(port: tlsPort, trusting: first.caFile)
        try await before.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await before.response().text == "over tls")

        try install(renewed)
        try await gateway.server.reload(try ConfigLoader.load(yaml: yaml, source: "test.yaml").get())
        let after = try await TestConnection.connect(port: tlsPort, trusting: renewed.caFile)
        try await after.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await after.response().text == "over tls", "a new connection is served the renewed certificate")
        await after.close()
        await #expect(throws: (any Error).self, "the old certificate is no longer served") {
            let stale = try await TestConnection.connect(port: tlsPort, trusting: first.caFile)
            try await stale.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            _ = try await stale.response()
        }
        try await before.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await before.response().text == "over tls", "the connection made before the reload goes on")
        await before.close()

        // A certificate that cannot be loaded refuses the reload; the one in force stays.
        try "not a certificate".write(toFile: folder + "/server.pem", atomically: true, encoding: .utf8)
        await #expect(throws: (any Error).self) {
            try await gateway.server.reload(try ConfigLoader.load(yaml: yaml, source: "test.yaml").get())
        }
        let still = try await TestConnection.connect(port: tlsPort, trusting: renewed.caFile)
        try await still.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await still.response().text == "over tls")
        await still.close()
        await gateway.stop()
        await backend.stop()
    }
}
