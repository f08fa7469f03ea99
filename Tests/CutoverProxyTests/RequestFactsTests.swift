@testable import CutoverProxy
import NIOCore
import Testing

@Suite("Request facts")
struct RequestFactsTests {
    func head(_ text: String) throws -> RequestHead {
        var parser = RequestParser(maxHeadBytes: 4096)
        var input = ByteBuffer(string: text)
        guard case .head(let head) = try parser.next(&input) else { throw RequestParseError.malformedRequestLine }
        return head
    }

    @Test func aBareExchangeIsABodylessHTTP11Get() {
        let facts = RequestFacts()
        #expect(!facts.isHEAD && facts.isIdempotent && !facts.hasBody && !facts.isChunked)
        #expect(facts.minorVersion == 1)
    }

    @Test func aChunkedPostHasABodyAndIsNotIdempotent() throws {
        let facts = RequestFacts(try head("POST /o HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"))
        #expect(facts.hasBody && facts.isChunked && !facts.isIdempotent && !facts.isHEAD)
    }

    @Test func aZeroLengthIsNoBody() throws {
        let facts = RequestFacts(try head("HEAD /o HTTP/1.0\r\nContent-Length: 0\r\n\r\n"))
        #expect(facts.isHEAD && !facts.hasBody && facts.minorVersion == 0)
        let put = RequestFacts(try head("PUT /o HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"))
        #expect(put.hasBody && put.isIdempotent && !put.isChunked)
    }
}
