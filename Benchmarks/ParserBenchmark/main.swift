// Measures Cutover's HTTP/1 heads against NIOHTTP1's llhttp-based decoders on the same bytes, the way each would
// sit in the proxy: a request head parsed and written again for the backend (Cutover: RequestParser and
// RequestHeadWriter, header lines copied as bytes; NIOHTTP1: HTTPRequestDecoder as a pipeline handler, the head's
// hop-by-hop fields removed and X-Forwarded-For added, HTTPRequestEncoder), and a response head with its body framed
// (ResponseParser; HTTPResponseDecoder behind the request it answers). Prints nanoseconds per message and the
// ratio, alternating the two five times. Built by Benchmarks/proxy.sh's script or with:
//   swift build -c release --product parser-benchmark -Xswiftc -enable-testing && .build/release/parser-benchmark
@testable import CutoverProxy
import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1

let request = ByteBuffer(string: "GET /orders/12345?expand=items HTTP/1.1\r\nHost: shop.example\r\n"
    + "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n"
    + "Accept: application/json\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-GB,en;q=0.9\r\n"
    + "Cookie: session=4f9c2a7e81b34c0d; theme=dark\r\nX-Request-Id: 8d3e0f7a-5b21-4c9e-a1f0-2b7c4d9e6a13\r\n"
    + "Connection: keep-alive\r\n\r\n")
let response = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 26\r\n"
    + "Date: Tue, 01 Dec 2026 12:00:00 GMT\r\nCache-Control: no-store\r\nETag: \"a1b2c3\"\r\n"
    + "X-Request-Id: 8d3e0f7a-5b21-4c9e-a1f0-2b7c4d9e6a13\r\n\r\n{\"id\":12345,\"status\":\"ok\"}")

/// Runs `body` `count` times; nanoseconds per run.
func measure(_ count: Int, _ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    for _ in 0..<count { try body() }
    let elapsed = ContinuousClock.now - start
    return (Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9) / Double(count)
}

var sink = 0

// Cutover: the parser and the head writer of the proxy's own path.
var parser = RequestParser(maxHeadBytes: 32 * 1024)
let writer = RequestHeadWriter(targetOverride: nil, hostOverride: nil, defaultHost: "127.0.0.1:9001",
                               forwarding: ForwardingLines(clientAddress: "198.18.0.7", scheme: "http"))
var ids = RequestIDGenerator()
var out = ByteBufferAllocator().buffer(capacity: 1024)
@MainActor func cutoverRequest() throws {
    var input = request
    guard case .head(let head) = try parser.next(&input) else { fatalError("no head") }
    out.clear()
    _ = writer.write(head, into: &out, ids: &ids)
    guard case .end = try parser.next(&input) else { fatalError("no end") }
    sink &+= out.readableBytes
}

var responseParser = ResponseParser()
@MainActor func cutoverResponse() throws {
    var input = response
    responseParser.expectResponse(toHEAD: false, chunkMode: .raw)
    while true {
        switch try responseParser.next(&input) {
        case .head(let head): sink &+= head.status
        case .body(let body): sink &+= body.readableBytes
        case .end: return
        case .needMoreData: fatalError("incomplete")
        }
    }
}

// NIOHTTP1: the decoders as pipeline handlers, the head re-encoded for the backend.
let server = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
let upstream = EmbeddedChannel(handler: HTTPRequestEncoder())
let hopByHop = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]
@MainActor func nioRequest() throws {
    try server.writeInbound(request)
    guard case .head(var head) = try server.readInbound(as: HTTPServerRequestPart.self) else { fatalError("no head") }
    guard case .end = try server.readInbound(as: HTTPServerRequestPart.self) else { fatalError("no end") }
    for name in hopByHop { head.headers.remove(name: name) }
    head.headers.add(name: "X-Forwarded-For", value: "198.18.0.7")
    head.headers.add(name: "X-Forwarded-Proto", value: "http")
    try upstream.writeOutbound(HTTPClientRequestPart.head(head))
    try upstream.writeOutbound(HTTPClientRequestPart.end(nil))
    while let bytes = try upstream.readOutbound(as: ByteBuffer.self) { sink &+= bytes.readableBytes }
}

let client = EmbeddedChannel()
try client.pipeline.syncOperations.addHTTPClientHandlers()
let get = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/orders/12345", headers: ["Host": "127.0.0.1:9001"])
@MainActor func nioResponse() throws {
    // The response decoder frames an answer to the request it saw leave (HEAD or not).
    try client.writeOutbound(HTTPClientRequestPart.head(get))
    try client.writeOutbound(HTTPClientRequestPart.end(nil))
    while try client.readOutbound(as: ByteBuffer.self) != nil {}
    try client.writeInbound(response)
    while let part = try client.readInbound(as: HTTPClientResponsePart.self) {
        switch part {
        case .head(let head): sink &+= Int(head.status.code)
        case .body(let body): sink &+= body.readableBytes
        case .end: break
        }
    }
}

let count = 200_000
for warm in [cutoverRequest, nioRequest, cutoverResponse, nioResponse] { _ = try measure(20_000, warm) }
var rows: [(String, [Double], [Double])] = [("request head, parsed and written for the backend", [], []),
                                            ("response head and body, framed", [], [])]
for _ in 0..<5 {
    rows[0].1.append(try measure(count, cutoverRequest))
    rows[0].2.append(try measure(count, nioRequest))
    rows[1].1.append(try measure(count, cutoverResponse))
    rows[1].2.append(try measure(count, nioResponse))
}
print("ns per message, 5 alternating runs of \(count) each, one core")
for (name, ours, theirs) in rows {
    let oursMedian = ours.sorted()[2], theirsMedian = theirs.sorted()[2]
    print(name)
    print("  Cutover  " + ours.map { String(format: "%.0f", $0) }.joined(separator: " ") + String(format: "  median %.0f", oursMedian))
    print("  NIOHTTP1 " + theirs.map { String(format: "%.0f", $0) }.joined(separator: " ") + String(format: "  median %.0f", theirsMedian))
    print(String(format: "  Cutover / NIOHTTP1: %.2fx", oursMedian / theirsMedian))
}
if sink == 42 { print("") }  // keeps the work from being optimised away
