import CutoverTestSupport
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
}
