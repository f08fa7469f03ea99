import CutoverTestSupport
import NIOCore
import Testing

@Suite("Large bodies stream through", .timeLimit(.minutes(1)))
struct ProxyStreamingTests {
    static let size = 64 * 1024 * 1024

    @Test func largeDownloadArrivesWhole() async throws {
        let backend = try await TestBackend.start { _ in
            .stream(head: "HTTP/1.1 200 OK\r\nContent-Length: \(Self.size)\r\n\r\n", count: Self.size, byte: 0x61, closeAfter: false)
        }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await StreamingClient.connect(port: gateway.port)
        try await client.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        let head = "HTTP/1.1 200 OK\r\nContent-Length: \(Self.size)\r\n\r\n"
        let (bytes, unexpected) = try await client.received(atLeast: head.utf8.count + Self.size, byte: 0x61)
        #expect(bytes == head.utf8.count + Self.size)
        #expect(unexpected == 0)
        #expect(client.start.hasPrefix(head))
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func largeCloseDelimitedDownloadIsRechunkedWhole() async throws {
        // 'z' never occurs in chunk framing, so counting it counts the data.
        let backend = try await TestBackend.start { _ in
            .stream(head: "HTTP/1.0 200 OK\r\n\r\n", count: Self.size, byte: UInt8(ascii: "z"), closeAfter: true)
        }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await StreamingClient.connect(port: gateway.port)
        try await client.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        let end = try await client.received(count: Self.size, of: UInt8(ascii: "z"))
        #expect(client.start.contains("Transfer-Encoding: chunked\r\n"))
        #expect(client.count(of: UInt8(ascii: "z")) == Self.size)
        #expect(end.hasSuffix("z\r\n0\r\n\r\n"))
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func largeUploadArrivesWhole() async throws {
        let backend = try await TestBackend.start(countOnly: true) { _ in .ok("done") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url, extra: "limits: { max_body_bytes: 1GiB }"))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("PUT /big HTTP/1.1\r\nHost: a\r\nContent-Length: \(Self.size)\r\n\r\n")
        let sender = try await StreamingUpload(connection: client)
        try await sender.send(count: Self.size, byte: 0x63)
        let response = try await client.response()
        #expect(response.text == "done")
        #expect(backend.bodyBytes == Self.size)
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func largeChunkedUploadArrivesWhole() async throws {
        let backend = try await TestBackend.start(countOnly: true) { _ in .ok("done") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url, extra: "limits: { max_body_bytes: 1GiB }"))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("POST /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        let piece = String(repeating: "d", count: 65536)
        for _ in 0..<256 { try await client.send("10000\r\n" + piece + "\r\n") }
        try await client.send("0\r\n\r\n")
        #expect(try await client.response().text == "done")
        #expect(backend.bodyBytes == 256 * 65536)
        await client.close()
        await gateway.stop()
        await backend.stop()
    }
}

/// Sends a body of repeated bytes on a test connection in awaited pieces.
struct StreamingUpload {
    let connection: TestConnection
    init(connection: TestConnection) async throws { self.connection = connection }

    func send(count: Int, byte: UInt8) async throws {
        let piece = ByteBuffer(repeating: byte, count: 64 * 1024)
        var remaining = count
        while remaining > 0 {
            let size = min(remaining, piece.readableBytes)
            try await connection.send(piece.getSlice(at: 0, length: size)!)
            remaining -= size
        }
    }
}
